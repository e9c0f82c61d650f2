#!/bin/sh
# make node-check: Debian's Node.js 18 (nodejs + libnode108, pinned) runs
# the scripts of test/node/ once on Debian's libuv and once on nodeloop's
# build/compat/libuv.so.1; outputs and exit codes must be the same.
# The packages are fetched with apt-get download and unpacked with
# dpkg-deb -x under build/node18/ (never installed, never a libuv there).
# Debian's node loads a few of its built-in modules from /usr/share/nodejs
# (absolute paths compiled in): each run sees the unpacked ones there
# through an overlay in a private mount namespace, so nothing on the
# machine changes. Needs root (unshare, mount).
set -eu
cd "$(dirname "$0")/.."
V=18.20.4+dfsg-1~deb12u3
PKGS="nodejs=$V libnode108=$V libc-ares2 libicu72 libnghttp2-14 libbrotli1
      node-acorn node-cjs-module-lexer node-undici"
dir=build/node18
root=$dir/root
libs=$root/usr/lib/x86_64-linux-gnu
node=$root/usr/bin/node
sys=/usr/lib/x86_64-linux-gnu

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else echo "node-check: needs root for: $*" >&2; exit 1; fi
}

if [ ! -x "$node" ]; then
  rm -rf "$dir"
  mkdir -p "$dir/debs"
  # shellcheck disable=SC2086
  if ! (cd "$dir/debs" && apt-get download $PKGS >/dev/null 2>&1); then
    as_root apt-get update -qq
    (cd "$dir/debs" && apt-get download $PKGS >/dev/null)
  fi
  for d in "$dir"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
fi
# Debian's libuv must come from the system, ours from build/compat: never
# from the private folder.
rm -f "$libs"/libuv.so*
[ -e "$sys/libuv.so.1" ] || as_root apt-get install -y -qq libuv1 >/dev/null
[ -e build/compat/libuv.so.1 ] || { echo "node-check: build first" >&2; exit 1; }
ours=$(pwd)/build/compat

share=$(pwd)/$root/usr/share
run_node() {   # run_node LIBRARY_PATH ARGS...: Debian's node, its share
  lp=$1; shift
  unshare --mount --propagation private sh -c '
    mount -t overlay overlay -o "lowerdir=$1:/usr/share" /usr/share || exit 125
    shift
    exec timeout 120 "$@"' sh "$share" env LD_LIBRARY_PATH="$lp" "$node" "$@"
}

loaded() {   # which libuv.so.1 the node process mapped
  run_node "$1" -e '
    const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
    const m = maps.split("\n").map((l) => l.split(/\s+/).pop())
                  .filter((p) => /\/libuv\.so/.test(p));
    console.log([...new Set(m)].join(" "));'
}
[ "$(id -u)" = 0 ] || { echo "node-check: needs root (mount namespace)" >&2; exit 1; }
echo "node: $(run_node "$libs" --version) ($node)"
deb=$(loaded "$libs")
nl=$(loaded "$ours:$libs")
echo "Debian's libuv: $deb"
echo "nodeloop:       $nl"
case "$deb" in "$sys"/libuv.so.1*) ;; *) echo "node-check: Debian's libuv not loaded" >&2; exit 1;; esac
case "$nl" in "$ours"/libuv.so.1*) ;; *) echo "node-check: nodeloop not loaded" >&2; exit 1;; esac

out=$dir/out
mkdir -p "$out"
fail=0
for js in test/node/*.js; do
  name=$(basename "$js" .js)
  case $name in observe-*) continue;; esac   # nodeloop only, below
  set +e
  run_node "$libs" "$js" > "$out/$name.libuv" 2>&1
  rc1=$?
  run_node "$ours:$libs" "$js" > "$out/$name.nodeloop" 2>&1
  rc2=$?
  set -e
  echo "exit code $rc1" >> "$out/$name.libuv"
  echo "exit code $rc2" >> "$out/$name.nodeloop"
  if cmp -s "$out/$name.libuv" "$out/$name.nodeloop"; then
    printf 'ok    %-14s (%s lines, exit %s)\n' "$name" "$(wc -l < "$out/$name.libuv")" "$rc1"
  else
    printf 'FAIL  %s\n' "$name"
    diff -u "$out/$name.libuv" "$out/$name.nodeloop" | sed 's/^/      /' | head -40
    fail=1
  fi
done
[ $fail = 0 ] && echo "node-check: every script behaves the same on nodeloop"

# Seeing the loop (docs/observability.md), on nodeloop only: a trace of
# test/node/observe-trace.js (NODELOOP_TRACE), the watchdog's report on
# test/node/observe-block.js (NODELOOP_BLOCKED_MS) and the metrics table
# (NODELOOP_STATS). tools/node-trace-check.py says what is expected.
obs_fail=0
obs() {   # obs NAME VAR=VALUE... -- SCRIPT: node on nodeloop, output in $out/NAME
  name=$1; shift
  set +e
  (
    while [ "$1" != -- ]; do export "${1?}"; shift; done
    shift
    run_node "$ours:$libs" "$@" > "$out/$name.out" 2> "$out/$name.err"
    echo "exit code $?" >> "$out/$name.out"
  )
  set -e
}
check() {   # check WHAT FILE: tools/node-trace-check.py WHAT FILE, indented
  if python3 tools/node-trace-check.py "$1" "$2" > "$out/check-$1.txt" 2>&1; then
    printf 'ok    observe: %s (%s)\n' "$1" "$(grep -c '^ok' "$out/check-$1.txt") expectations"
  else
    printf 'FAIL  observe: %s\n' "$1"
    sed 's/^/      /' "$out/check-$1.txt" | grep -v '^      ok' | head -30
    obs_fail=1
  fi
}
trace=$(pwd)/$out/observe-trace.json
rm -f "$trace" "$out/observe-http.json"
obs observe-trace NODELOOP_TRACE="$trace" -- test/node/observe-trace.js
check trace "$trace"
# Also the trace docs/observability.md walks through, kept in $out.
obs observe-http NODELOOP_TRACE="$(pwd)/$out/observe-http.json" -- test/node/observe-http.js
check http "$out/observe-http.json"
obs observe-block NODELOOP_BLOCKED_MS=100 -- test/node/observe-block.js
check blocked "$out/observe-block.err"
obs observe-stats NODELOOP_STATS=1 -- test/node/observe-trace.js
cat "$out/observe-stats.out" "$out/observe-stats.err" > "$out/observe-stats.all"
check stats "$out/observe-stats.all"
for name in observe-trace observe-http observe-block observe-stats; do
  tail -n 1 "$out/$name.out" | grep -qx 'exit code 0' ||
    { printf 'FAIL  %s: %s\n' "$name" "$(tail -n 1 "$out/$name.out")"; obs_fail=1; }
done
[ $obs_fail = 0 ] && echo "node-check: trace, blocked-loop report and metrics as expected"
exit $((fail | obs_fail))
