#!/usr/bin/env bash
# s3.sh - an S3 server (Versity S3 Gateway, posix backend) on 127.0.0.1 for the s3 mover.
#
#   s3.sh install              build versitygw once with `go install` into the cache
#                              directory (reused when present) and print its path
#   s3.sh path                 print the path of the cached binary (exit 1 when not built)
#   s3.sh run DIR [PORT]       run it in the foreground (Ctrl-C stops it), data in DIR/data
#   s3.sh start DIR [PORT]     run it in the background; pid in DIR/versitygw.pid, log in
#                              DIR/versitygw.log; prints the endpoint once it answers
#   s3.sh stop DIR             stop the server started by `start DIR` (that pid only)
#
# The binary is $GOPILOT_CACHE/bin/versitygw-$VERSION, GOPILOT_CACHE defaulting to
# ${XDG_CACHE_HOME:-$HOME/.cache}/gopilot; internal/gridtest (StartS3) uses the same file and
# builds it the same way when it is missing. A cold build downloads ~340 MB of modules and
# takes about two minutes on two cores; later builds reuse Go's module and build caches.
# Keys: S3_ACCESS_KEY / S3_SECRET_KEY (default testaccess / testsecret123). Buckets are the
# top-level directories of DIR/data (an s3 URL is s3://127.0.0.1:PORT/<bucket>/<key>).
set -euo pipefail
VERSION=v1.8.0
MODULE=github.com/versity/versitygw/cmd/versitygw
cache=${GOPILOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gopilot}
bin="$cache/bin/versitygw-$VERSION"
access=${S3_ACCESS_KEY:-testaccess}
secret=${S3_SECRET_KEY:-testsecret123}

install() {
  [ -x "$bin" ] && { echo "$bin"; return; }
  command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
  mkdir -p "$cache/bin"
  # one build at a time (tests of several packages may ask at once)
  exec 9>"$cache/bin/.versitygw.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    tmp=$(mktemp -d "$cache/bin/.build-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "s3.sh: building versitygw $VERSION (go install; about two minutes when cold)" >&2
    start=$SECONDS
    GOBIN="$tmp" GOWORK=off go install "$MODULE@$VERSION"
    mv "$tmp/versitygw" "$bin"
    echo "s3.sh: built in $((SECONDS - start)) s" >&2
  fi
  flock -u 9
  echo "$bin"
}

prepare() {  # prepare DIR: absolute DIR with DIR/data
  mkdir -p "$1/data"
  (cd "$1" && pwd)
}

wait_ready() {  # wait_ready PORT PID: an unauthenticated GET / answers 403 once it is up
  local port=$1 pid=$2
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)
    [ "$code" = 403 ] && return 0
    sleep 0.1
  done
  return 1
}

cmd=${1:-}
case "$cmd" in
install) install ;;
path) [ -x "$bin" ] && echo "$bin" || { echo "s3.sh: not built (run: $0 install)" >&2; exit 1; } ;;
run)
  dir=$(prepare "${2:?usage: $0 run DIR [PORT]}")
  port=${3:-27070}
  b=$(install)
  echo "versitygw: s3://127.0.0.1:$port/<bucket>/<key> (plain http) keys $access / <secret>; data in $dir/data"
  exec "$b" --access "$access" --secret "$secret" --port "127.0.0.1:$port" --quiet posix "$dir/data"
  ;;
start)
  dir=$(prepare "${2:?usage: $0 start DIR [PORT]}")
  port=${3:-27070}
  b=$(install)
  if [ -s "$dir/versitygw.pid" ] && kill -0 "$(cat "$dir/versitygw.pid")" 2>/dev/null; then
    echo "s3.sh: already running (pid $(cat "$dir/versitygw.pid"))" >&2
    exit 1
  fi
  "$b" --access "$access" --secret "$secret" --port "127.0.0.1:$port" --quiet posix "$dir/data" \
    >"$dir/versitygw.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/versitygw.pid"
  if ! wait_ready "$port" "$pid"; then
    cat "$dir/versitygw.log" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$dir/versitygw.pid"
    exit 1
  fi
  echo "versitygw pid $pid: http://127.0.0.1:$port (s3://127.0.0.1:$port/<bucket>/<key>), data in $dir/data"
  ;;
stop)
  dir=${2:?usage: $0 stop DIR}
  pidfile="$dir/versitygw.pid"
  [ -s "$pidfile" ] || { echo "s3.sh: no $pidfile" >&2; exit 1; }
  pid=$(cat "$pidfile")
  # only the process this script started: the pid must still run our binary
  if [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$(readlink -f "$bin")" ]; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
  ;;
*)
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
