#!/usr/bin/env bash
# Many pilots on one server: `pandalite load` runs N simulated pilots (the
# pilot's own wire client, one HTTP connection each) against a fresh
# `pandalite serve` on loopback, for N = 10, 100, 500, each getJob ->
# starting -> running -> finished until no job is left, then checks through
# the database that no job was handed out twice and no update was lost.
# One table per way of talking to the server: legacy API with gzip JSON (as
# Pilot 3 and gopilot send it), legacy API with form bodies (Pilot 3's curl
# path; the pilots' side costs far less, so the server's limit shows), v1 API.
# BENCH_PILOTS (default 10,100,500) and BENCH_LOAD_JOBS (default 20 jobs per
# pilot, at least 2000) change the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
BIN=${BIN:-$PWD/bin}
if [ ! -x "$BIN/pandalite" ]; then
  mkdir -p "$BIN"
  go build -o "$BIN/pandalite" ./cmd/pandalite
fi
run() {
  echo "### $1"
  shift
  "$BIN/pandalite" load --pilots "${BENCH_PILOTS:-10,100,500}" ${BENCH_LOAD_JOBS:+--jobs "$BENCH_LOAD_JOBS"} "$@"
  echo
}
run "legacy API, gzip JSON" --api legacy
run "legacy API, form bodies (curl path)" --api legacy --form
run "v1 API" --api v1
