#!/bin/bash
# pilot-wrapper.sh - start one gopilot pilot inside an HTCondor job (see pilot.sub).
#
# Knobs (environment, set with `environment = "..."` in pilot.sub):
#   PANDA_QUEUE      PanDA queue (required)
#   PANDA_URL        PanDA server URL with port (default https://pandaserver.cern.ch:25443)
#   GOPILOT_BINARY   the pilot binary (default: ./pilot transferred with the job, else `pilot` on PATH)
#   PILOT_*          any pilot flag (see `pilot --help`); PILOT_JOBLABEL defaults to managed here
# Arguments are passed to the pilot.
#
# The pilot replaces this shell (exec), so HTCondor's kill signal (kill_sig, SIGTERM)
# reaches it: it kills the payload tree, stages out the log and sends the final
# update (1201) before HTCondor's hard kill at job_max_vacate_time.
set -eu

: "${PANDA_QUEUE:?PANDA_QUEUE (the PanDA queue) is not set}"
PANDA_URL=${PANDA_URL:-https://pandaserver.cern.ch:25443}
scratch=${_CONDOR_SCRATCH_DIR:-$PWD}

pilot=${GOPILOT_BINARY:-}
if [ -z "$pilot" ]; then
  if [ -f "$scratch/pilot" ]; then
    chmod +x "$scratch/pilot"          # input file transfer does not keep the mode everywhere
    pilot=$scratch/pilot
  else
    pilot=$(command -v pilot || true)
  fi
fi
[ -n "$pilot" ] && [ -x "$pilot" ] || { echo "pilot binary not found: set GOPILOT_BINARY" >&2; exit 1; }

# batchID: the pilot reads GlobalJobId from the job ad ($_CONDOR_JOB_AD) unless the id
# of another batch system is in the environment (a glidein inside a Slurm or PBS job,
# for instance), which it would report instead.
unset PBS_JOBID LSB_JOBID JOB_ID SLURM_JOB_ID K8S_JOB_ID BQSCLUSTER

# The work directory is a subdirectory of the job's scratch directory: HTCondor removes
# it with the job, and does not transfer back the files in it (only new top-level files
# are transferred when transfer_output_files is not set).
workdir=$scratch/gopilot
mkdir -p "$workdir"
cd "$workdir"

export PILOT_JOBLABEL=${PILOT_JOBLABEL:-managed}
exec "$pilot" -q "$PANDA_QUEUE" --url "$PANDA_URL" --workdir "$workdir" "$@"
