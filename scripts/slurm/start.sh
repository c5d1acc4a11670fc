#!/usr/bin/env bash
# start.sh DIR - start a one-node Slurm cluster on 127.0.0.1 for tests and trials:
# munged, slurmctld and slurmd, with every file they use (configuration, munge key and
# socket, state, spool, logs, pid files) under DIR, on two free unusual ports. The
# system's /etc/slurm, /etc/munge and any running system Slurm are left alone.
#
# On success it prints the environment clients need and writes it to DIR/env.sh:
#   . DIR/env.sh && sbatch ...      (SLURM_CONF=DIR/slurm.conf)
# Stop the cluster with scripts/slurm/stop.sh DIR (it stops exactly these daemons).
#
# Knobs (environment):
#   SLURM_CTLD_PORT, SLURMD_PORT   fixed ports instead of free random ones
#   SLURM_NODE_CPUS                CPUs the node offers (default: 4 x the cores, at least 4),
#                                  so that several single-CPU jobs run at once on a small machine
#   SLURM_KILLWAIT                 seconds between the SIGTERM of scancel (or the time limit)
#                                  and the SIGKILL (default 10)
#   SLURM_START_TIMEOUT            seconds to wait for the cluster to be ready (default 60)
#
# Needs root (slurmd runs jobs as their owners) and the Debian package slurm-wlm (munge,
# slurmctld, slurmd, slurm-client). munged runs as the account munge, which must reach
# DIR: every parent directory needs o+x (mktemp -d and Go's t.TempDir make 0700 ones).
# Exit status: 0 ready; 1 not started (the daemons' logs are printed on stderr).
set -euo pipefail

die() { echo "slurm/start.sh: $*" >&2; exit 1; }

dir=${1:?usage: $0 DIR}
[ "$(id -u)" = 0 ] || die "must run as root (slurmd starts jobs as their owners)"
for c in munged mungekey munge unmunge slurmctld slurmd scontrol sinfo setpriv; do
  command -v "$c" >/dev/null || die "$c not found (Debian packages: slurm-wlm munge util-linux)"
done
id munge >/dev/null 2>&1 || die "account munge missing (Debian package munge)"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
if [ -e "$dir/pids" ] && [ -n "$(ls -A "$dir/pids" 2>/dev/null)" ]; then
  die "$dir/pids is not empty: a cluster may be running there (scripts/slurm/stop.sh $dir)"
fi
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/pids" "$dir/jobs"
chmod 755 "$dir" "$dir/jobs"

killwait=${SLURM_KILLWAIT:-10}
timeout=${SLURM_START_TIMEOUT:-60}
cores=$(nproc)
cpus=${SLURM_NODE_CPUS:-$(( cores * 4 > 4 ? cores * 4 : 4 ))}

# record PID NAME: remember a daemon we started, with its start time, so that stop.sh
# signals that process and not a later one that got the same pid.
record() {
  local pid=$1 name=$2 start
  start=$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) || start=
  echo "$pid $start" > "$dir/pids/$name"
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# wait_until SECONDS CMD...: retry CMD every 0.2 s until it succeeds.
wait_until() {
  local end=$(( SECONDS + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < end )) || return 1
    sleep 0.2
  done
}

# port_free PORT: nothing listens on 127.0.0.1:PORT or *:PORT.
port_free() {
  if command -v ss >/dev/null; then
    [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# free_port: a random free port in 20000-59999 that is not PORT_TAKEN.
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [ "$p" != "${PORT_TAKEN:-}" ] && port_free "$p" && { echo "$p"; return 0; }
  done
  return 1
}

logs() {
  local f
  for f in "$dir"/log/* "$dir"/munge/munged.log; do
    [ -s "$f" ] || continue
    echo "==== $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}

fail() {
  echo "slurm/start.sh: $*" >&2
  logs
  "$(dirname "$0")/stop.sh" "$dir" >&2 || true
  exit 1
}

# --- munge: a fresh key of our own, the socket dir world-traversable (munged insists).
if [ ! -s "$dir/munge/munge.key" ]; then
  mungekey --create --keyfile="$dir/munge/munge.key" 2>/dev/null ||
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
fi
chown -R munge:munge "$dir/munge"
chmod 755 "$dir/munge"
chmod 600 "$dir/munge/munge.key"
setpriv --reuid=munge --regid=munge --clear-groups test -r "$dir/munge/munge.key" ||
  die "account munge cannot reach $dir/munge: make every parent directory of $dir world-traversable (chmod o+x)"
sock="$dir/munge/munge.socket"
# setpriv executes munged in place, so $! is munged itself.
setpriv --reuid=munge --regid=munge --clear-groups munged --foreground --force \
  --socket="$sock" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
  </dev/null >"$dir/log/munged.out" 2>&1 &
record $! munged
wait_until 20 sh -c "munge -n -S '$sock' | unmunge -S '$sock'" || fail "munged did not answer on $sock"

# --- slurmctld and slurmd: retried on fresh ports when one of them cannot bind.
write_conf() {
  cat > "$dir/slurm.conf" <<CFG
# One-node test cluster written by scripts/slurm/start.sh; everything lives under $dir.
ClusterName=gopilottest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
# bind both daemons to loopback (what the hostname resolves to), never 0.0.0.0
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
PlugStackConfig=$dir/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
# the node offers the CPUs and memory written below even when the machine has fewer
# (memory is not a consumable resource here: SelectTypeParameters=CR_Core)
SlurmdParameters=config_overrides
# seconds between the SIGTERM of scancel or of the time limit and the SIGKILL
KillWait=$killwait
# finished jobs stay visible to scontrol for this many seconds
MinJobAge=600
NodeName=localnode NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$(( cpus * 4000 )) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=UNLIMITED State=UP
CFG
  : > "$dir/plugstack.conf"
  cat > "$dir/env.sh" <<ENV
export SLURM_CONF=$dir/slurm.conf
export SLURM_CTLD_PORT=$ctld_port SLURMD_PORT=$slurmd_port
ENV
}

# With NoInAddrAny the daemons bind to the address their host name resolves to, and the
# clients reach them at 127.0.0.1. Where the name does not resolve to 127.0.0.1 (no
# /etc/hosts entry, or Debian's 127.0.1.1), they run in a UTS namespace of their own
# named localhost (jobs then see that host name too).
wrap=()
if [ "$(getent ahostsv4 "$(hostname)" 2>/dev/null | awk 'NR == 1 {print $1}')" != 127.0.0.1 ]; then
  unshare --uts true 2>/dev/null ||
    die "the host name $(hostname) does not resolve to 127.0.0.1 and unshare --uts is not permitted"
  wrap=(unshare --uts sh -c 'hostname localhost && exec "$@"' slurm-uts)
fi

export SLURM_CONF="$dir/slurm.conf"
ready= exited=
for attempt in 1 2 3; do
  ctld_port=${SLURM_CTLD_PORT:-$(free_port)} || fail "no free port for slurmctld"
  slurmd_port=${SLURMD_PORT:-$(PORT_TAKEN=$ctld_port free_port)} || fail "no free port for slurmd"
  write_conf
  rm -rf "$dir/state"/* "$dir/spool"/*
  "${wrap[@]}" slurmctld -D -f "$SLURM_CONF" </dev/null >"$dir/log/slurmctld.out" 2>&1 &
  record $! slurmctld
  "${wrap[@]}" slurmd -D -f "$SLURM_CONF" -N localnode </dev/null >"$dir/log/slurmd.out" 2>&1 &
  record $! slurmd
  end=$(( SECONDS + timeout )) exited=
  while (( SECONDS < end )); do
    if scontrol ping 2>/dev/null | grep -q UP && [ "$(sinfo -h -n localnode -o %T 2>/dev/null)" = idle ]; then
      ready=1; break
    fi
    read -r cpid _ < "$dir/pids/slurmctld"; read -r dpid _ < "$dir/pids/slurmd"
    alive "$cpid" || { exited=slurmctld; break; }
    alive "$dpid" || { exited=slurmd; break; }
    sleep 0.2
  done
  [ -n "$ready" ] && break
  if grep -qs -i "address already in use" "$dir"/log/slurm*; then
    echo "slurm/start.sh: port taken (attempt $attempt), retrying on other ports" >&2
    for n in slurmd slurmctld; do
      read -r pid _ < "$dir/pids/$n" && kill "$pid" 2>/dev/null || true
      rm -f "$dir/pids/$n"
    done
    sleep 0.5
    continue
  fi
  break
done
[ -z "$exited" ] || fail "$exited exited during start-up"
[ -n "$ready" ] || fail "slurmctld/slurmd not ready within ${timeout}s"
echo "export SLURM_CONF=$dir/slurm.conf  # slurmctld 127.0.0.1:$ctld_port, slurmd 127.0.0.1:$slurmd_port, $cpus CPUs, KillWait=${killwait}s"
