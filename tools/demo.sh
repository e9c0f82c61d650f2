#!/bin/bash
# Runs the demo programs of examples/ from a build directory, then starts
# the file server briefly on a temporary folder and fetches a file from it.
set -e
dir=${1:-build}
for ex in threads phases pool; do
  echo "=== examples/$ex.c"
  "$dir/examples/$ex"
  echo
done

echo "=== examples/fileserver.c"
www=$(mktemp -d)
trap 'rm -rf "$www"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT
printf 'Hello from nodeloop: one loop thread, files read on the worker pool.\n' \
  > "$www/hello.txt"
"$dir/examples/fileserver" -p 0 "$www" > "$www/.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  grep -q '^listening on' "$www/.log" && break
  sleep 0.1
done
cat "$www/.log"
url=$(sed -n 's/^listening on http:\/\/\([^/]*\)\/$/\1/p' "$www/.log")
host=${url%:*}
port=${url##*:}
echo "GET http://$host:$port/hello.txt"
# bash's /dev/tcp: no HTTP client needed on the machine.
exec 3<>"/dev/tcp/$host/$port"
printf 'GET /hello.txt HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
sed 's/\r$//' <&3
exec 3<&-
kill -TERM "$pid"
wait "$pid"
pid=
echo "(file server stopped cleanly)"
