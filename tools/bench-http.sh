#!/bin/sh
# The file server example under wrk (-t2 -c100 -d10s, keep-alive, a 1 KiB
# file): built on nodeloop (with io_uring, and with NODELOOP_IO_URING=0),
# the same source built on Debian's libuv, and
# the Node.js equivalent (bench/node-fileserver.js), in alternation,
# BENCH_RUNS times each. Prints requests/s per run and the medians.
set -eu
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
secs=${BENCH_SECS:-10}
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null
  else echo "bench-http: please install wrk" >&2; exit 1; fi
fi
out=build-bench/http
mkdir -p "$out"
cc -O2 -std=gnu11 examples/fileserver.c -o "$out/fileserver-libuv" -luv -lhttp_parser
node=$(command -v node || command -v nodejs || true)
www=$(mktemp -d)
trap 'rm -rf "$www"' EXIT
head -c 1024 /dev/zero | tr '\0' x > "$www/file1k.txt"
: > "$out/results.txt"

run() {   # run NAME CMD...: start the server, wait for its line, wrk, stop it
  name=$1; shift
  "$@" > "$www/.out" 2>&1 &
  pid=$!
  i=0
  while ! grep -q "^listening on http" "$www/.out" && [ $i -lt 300 ]; do
    sleep 0.1; i=$((i + 1))
  done
  url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$www/.out")
  rps=$(wrk -t2 -c100 -d"${secs}s" "${url}file1k.txt" |
        awk '/Requests\/sec/ {print $2} /Non-2xx|Socket errors/ {print "ERR " $0 > "/dev/stderr"}')
  kill -TERM $pid
  wait $pid || true
  echo "$name $rps" >> "$out/results.txt"
  printf '%-9s %s req/s\n' "$name" "$rps"
}

n=1
while [ $n -le "$runs" ]; do
  run nodeloop build/examples/fileserver -p 0 "$www"
  run nouring env NODELOOP_IO_URING=0 build/examples/fileserver -p 0 "$www"
  run libuv "$out/fileserver-libuv" -p 0 "$www"
  [ -n "$node" ] && run node "$node" bench/node-fileserver.js -p 0 "$www"
  n=$((n + 1))
done
awk '{ v[$1, ++n[$1]] = $2; if (!($1 in s)) { s[$1] = 1; k[++nk] = $1 } }
  END {
    for (j = 1; j <= nk; j++) {
      m = n[k[j]]
      for (a = 1; a <= m; a++) x[a] = v[k[j], a]
      for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
        if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
      med[k[j]] = x[int((m + 1) / 2)]
    }
    printf "file server, median req/s: nodeloop %.0f, libuv %.0f (%.2fx); without io_uring %.0f (%.2fx)",
      med["nodeloop"], med["libuv"], med["nodeloop"] / med["libuv"],
      med["nouring"], med["nouring"] / med["libuv"]
    if ("node" in med) printf ", node %.0f (%.2fx)", med["node"], med["nodeloop"] / med["node"]
    printf "\n"
  }' "$out/results.txt"
