#!/usr/bin/env bash
# make demo: start pandalite on a free loopback port with three example jobs
# (one reads an input file from a local storage element, one writes an output
# file, one fails), run one pilot that takes all of them, print the server's
# view of the jobs and stop the server. Set KEEP=1 to keep the demo directory.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
ex=$PWD/examples/demo
dir=$(mktemp -d /tmp/gopilot-demo.XXXXXX)
chmod 755 "$dir"
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "demo directory kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

mkdir -p "$dir/rse" "$dir/work"
sed "s#@RSE_DIR@#$dir/rse#g" "$ex/storage.json.in" > "$dir/storage.json"
cp "$ex/input.txt" "$dir/demo.input.txt"

echo "== placing the input file in the local storage element"
"$BIN/pandalite" put-file --storage "$dir/storage.json" --rse DEMO_LOCALDISK --scope demo "$dir/demo.input.txt"

echo "== starting pandalite"
"$BIN/pandalite" serve --db "$dir/pandalite.db" --addr 127.0.0.1:0 --addr-file "$dir/addr" \
  --queue "$ex/queue.json" --storage "$dir/storage.json" 2> "$dir/pandalite.log" &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$dir/addr" ] && break; sleep 0.05; done
[ -s "$dir/addr" ] || { echo "pandalite did not start:"; cat "$dir/pandalite.log"; exit 1; }
addr=$(cat "$dir/addr"); addr=${addr#http://}
echo "pandalite listening on http://$addr"

echo "== submitting three jobs"
"$BIN/pandalite" submit --db "$dir/pandalite.db" "$ex/job-input.json" "$ex/job-output.json" "$ex/job-fail.json"

echo "== running the pilot"
set +e
"$BIN/pilot" -q DEMO --url "http://$addr" -j managed --workdir "$dir/work" --getjob-wait 0
rc=$?
set -e
echo "== pilot exit code: $rc"

echo "== pandalite status"
"$BIN/pandalite" status --db "$dir/pandalite.db"
echo "== files in the storage element"
(cd "$dir/rse" && find . -type f | sort)
