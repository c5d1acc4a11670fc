#!/usr/bin/env bash
# stop.sh DIR - stop the Slurm test cluster that scripts/slurm/start.sh DIR started.
# Only the processes recorded in DIR/pids are signalled, and only while they are still
# the processes start.sh recorded (same pid and start time): slurmd, then slurmctld, then
# munged; SIGTERM, then SIGKILL after 10 s. Jobs still running are cancelled first
# (scancel through DIR/slurm.conf) and waited for (KillWait + 15 s at most).
# Exit status 0 when nothing recorded is left running.
set -uo pipefail

dir=${1:?usage: $0 DIR}
[ -d "$dir" ] || exit 0
dir=$(cd "$dir" && pwd -P)
[ -d "$dir/pids" ] || exit 0

# ours NAME: prints the recorded pid if that process still runs (not a zombie) and
# started when the recorded one did.
ours() {
  local pid start now st
  [ -s "$dir/pids/$1" ] || return 1
  read -r pid start < "$dir/pids/$1" || return 1
  [ -n "$pid" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] || return 1
  now=$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)
  [ -z "$start" ] || [ "$now" = "$start" ] || return 1
  echo "$pid"
}

if [ -f "$dir/slurm.conf" ] && ours slurmctld >/dev/null && command -v scancel >/dev/null; then
  export SLURM_CONF="$dir/slurm.conf"
  timeout 10 scancel --quiet --partition=debug >/dev/null 2>&1 || true
  # slurmstepd delivers the SIGKILL after KillWait only while slurmd is there:
  # wait (bounded) until no job is left running or completing.
  kw=$(awk -F= '$1 == "KillWait" {print $2}' "$SLURM_CONF")
  end=$(( SECONDS + ${kw:-30} + 15 ))
  while (( SECONDS < end )) && [ -n "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]; do
    sleep 0.2
  done
fi

rc=0
for name in slurmd slurmctld munged; do
  pid=$(ours "$name") || { rm -f "$dir/pids/$name"; continue; }
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do
    ours "$name" >/dev/null || break
    sleep 0.1
  done
  if pid=$(ours "$name"); then
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
  fi
  if ours "$name" >/dev/null; then
    echo "slurm/stop.sh: $name ($pid) still running" >&2
    rc=1
  else
    rm -f "$dir/pids/$name"
  fi
done
exit $rc
