#!/usr/bin/env bash
# nginx-dav.sh DIR [PORT] - run nginx as a WebDAV server on 127.0.0.1:PORT in the foreground
# (Ctrl-C stops it) for trying the davs and gfal movers by hand.
#   - serves DIR/data as "/": PUT (creating parent collections), GET, DELETE, MKCOL, COPY,
#     MOVE, PROPFIND, OPTIONS; no authentication; no checksums (use xrootd.sh's HTTP port
#     for Want-Digest)
# Needs: apt-get install nginx libnginx-mod-http-dav-ext
set -euo pipefail
dir=${1:?usage: $0 DIR [PORT]}
port=${2:-21080}
command -v nginx >/dev/null || { echo "nginx not found (Debian package nginx)" >&2; exit 1; }
module=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
[ -f "$module" ] || { echo "$module not found (Debian package libnginx-mod-http-dav-ext)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/data" "$dir/tmp" "$dir/logs"
user_line=
if [ "$(id -u)" = 0 ]; then
  # the workers run as www-data and must reach DIR (parents need o+x)
  chown -R www-data:www-data "$dir/data" "$dir/tmp"
  if ! setpriv --reuid=www-data --regid=www-data --clear-groups test -w "$dir/data"; then
    echo "user www-data cannot write $dir/data: make its parent directories world-traversable (chmod o+x)" >&2
    exit 1
  fi
  user_line="user www-data;"
fi
cat > "$dir/nginx.conf" <<CFG
load_module $module;
daemon off;
worker_processes 1;
$user_line
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/tmp/client_body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  client_max_body_size 0;
  sendfile on;
  server {
    listen 127.0.0.1:$port;
    root $dir/data;
    location / {
      # collections need a trailing slash in nginx; davix and gfal omit it on MKCOL
      if (\$request_method = MKCOL) { rewrite ^(.*[^/])\$ \$1/ break; }
      if (-d \$request_filename) { rewrite ^(.*[^/])\$ \$1/ break; }
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      dav_access user:rw group:rw all:r;
      autoindex on;
    }
  }
}
CFG
echo "nginx WebDAV: http://127.0.0.1:$port/  (davs mover: davs://127.0.0.1:$port/... with PlainHTTP)  data in $dir/data"
exec nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf"
