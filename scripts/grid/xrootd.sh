#!/usr/bin/env bash
# xrootd.sh DIR [PORT [HTTP_PORT]] - run a standalone XRootD data server in the foreground
# (Ctrl-C stops it) for trying the xrdcp, gfal and davs movers by hand.
#   - serves DIR/data as "/":  root://127.0.0.1:PORT//path  and  http://127.0.0.1:HTTP_PORT/path
#   - no authentication, adler32 checksums (xrdfs query checksum, HTTP "Want-Digest: adler32")
#   - only loopback clients are accepted (xrootd binds every interface; xrd.allow filters)
# Needs: apt-get install xrootd-server xrootd-client   (the tests start their own servers
# through internal/gridtest; this script is for manual use only)
set -euo pipefail
dir=${1:?usage: $0 DIR [PORT [HTTP_PORT]]}
port=${2:-21094}
http=${3:-21095}
command -v xrootd >/dev/null || { echo "xrootd not found (Debian package xrootd-server)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/data" "$dir/admin" "$dir/run" "$dir/log"
cat > "$dir/xrootd.cfg" <<CFG
all.export /
oss.localroot $dir/data
all.adminpath $dir/admin
all.pidpath $dir/run
xrd.port $port
xrd.allow host localhost
xrd.allow host 127.0.0.1
xrootd.chksum adler32
xrd.protocol XrdHttp:$http libXrdHttp.so
CFG
args=(-c "$dir/xrootd.cfg" -l "$dir/log/xrootd.log")
if [ "$(id -u)" = 0 ]; then
  # xrootd refuses to run as root: it switches to the package's account, which must be able
  # to reach DIR (every parent directory needs o+x; mktemp -d makes 0700 directories).
  chown -R xrootd:xrootd "$dir"
  if ! setpriv --reuid=xrootd --regid=xrootd --clear-groups test -w "$dir/data"; then
    echo "user xrootd cannot write $dir/data: make its parent directories world-traversable (chmod o+x)" >&2
    exit 1
  fi
  args+=(-R xrootd)
fi
echo "xrootd: root://127.0.0.1:$port//  http://127.0.0.1:$http/  data in $dir/data, log in $dir/log"
echo "clients: export XRD_CONNECTIONWINDOW=5 XRD_CONNECTIONRETRY=1  (else a refused connect waits 120 s)"
exec xrootd "${args[@]}"
