#!/bin/bash
# Runs the demo programs of examples/ from a build directory, observe-demo
# with nodeloop's observation switched on, then starts
# the file server briefly on a temporary folder and fetches a file from it.
set -e
dir=${1:-build}
for ex in threads phases pool; do
  echo "=== examples/$ex.c"
  "$dir/examples/$ex"
  echo
done

# Seeing the loop (docs/observability.md): the same kind of program, now
# traced, watched for blocking callbacks and measured. The trace stays in
# the build directory, to open in ui.perfetto.dev or speedscope.
echo "=== examples/observe-demo.c with NODELOOP_TRACE, NODELOOP_BLOCKED_MS=50, NODELOOP_STATS=1"
trace=$(cd "$dir" && pwd)/demo-trace.json
rm -f "$trace"
NODELOOP_TRACE=$trace NODELOOP_BLOCKED_MS=50 NODELOOP_STATS=1 \
  "$dir/examples/observe-demo" 2> "$dir/demo-observe.log"
if [ -s "$trace" ]; then
  echo "trace: $trace"
  python3 -c '
import collections, json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
n = collections.Counter(e.get("cat") or "metadata" if e["ph"] != "C" else "counter"
                        for e in ev)
print("  %d events: " % len(ev) + ", ".join("%s %d" % kv for kv in sorted(n.items())))
' "$trace"
else
  echo "trace: none written"
fi
echo "stderr (watchdog reports, then the metrics table; all of it in $dir/demo-observe.log):"
head -n 60 "$dir/demo-observe.log"
[ "$(wc -l < "$dir/demo-observe.log")" -le 60 ] || echo "  ..."
echo

echo "=== examples/fileserver.c"
www=$(mktemp -d)
trap 'rm -rf "$www"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT
printf 'Hello from nodeloop: one loop thread, files read through io_uring (or the worker pool) without blocking it.\n' \
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
