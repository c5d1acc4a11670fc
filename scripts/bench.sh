#!/usr/bin/env bash
# make bench: performance tables, each measured side by side with the plain
# tool it replaces, in the same run on this machine. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
echo "# gopilot benchmarks ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
echo
if [ -d timedcmd/internal/benchtable ]; then
  echo "## timedcmd vs bare os/exec"
  go run ./timedcmd/internal/benchtable
  echo
fi
if [ -d movers/internal/benchtable ]; then
  echo "## copy mover vs cp + adler32 (${BENCH_COPY_SIZE:-1GiB})"
  go run ./movers/internal/benchtable ${BENCH_COPY_SIZE:+-size "$BENCH_COPY_SIZE"}
  echo
fi
echo "## grid movers vs curl, xrdcp and gfal-copy (${BENCH_GRID_SIZE:-256MiB})"
go run ./internal/gridtest/benchtable ${BENCH_GRID_SIZE:+-size "$BENCH_GRID_SIZE"}
echo
echo "## pilot cost per job (${BENCH_JOBS:-100} trivial jobs in one pilot)"
go run ./internal/benchpilot -n "${BENCH_JOBS:-100}" -bin "${BIN:-bin}"
echo
echo "## many pilots on one server (pandalite load, N = 10, 100, 500)"
scripts/bench-load.sh
echo
echo "## soak: ${SOAK_JOBS:-1000} jobs, 4 pilots, 10% server faults"
go run ./internal/soak -jobs "${SOAK_JOBS:-1000}" -bin "${BIN:-bin}" || echo "soak: jobs lost or duplicated (see above)"
echo
echo "## Go benchmarks"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-1x}" ./jobdef/ ./pilot/... 2>&1 | grep -E '^(Benchmark|ok|PASS|FAIL)' || true
