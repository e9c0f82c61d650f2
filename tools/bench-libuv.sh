#!/bin/sh
# libuv 1.44's own benchmarks (the same source) against nodeloop's
# build/compat/libuv.so.1 and against Debian's libuv, in alternation,
# BENCH_RUNS rounds, the order of the two swapped every round (so that a
# machine slowing or speeding up during a round favours neither); prints
# the median of each library's runs, the median of the rounds' ratios (>1
# means nodeloop is better) and each round's ratio in order: nodeloop
# against the libuv run beside it in time. Needs ../shared/conformance
# (the team's checkout of libuv's benchmark runner); skipped without it.
#   tools/bench-libuv.sh [REGEX]     default: streams, UDP, spawn, fs_stat
#   BENCH_REPARSE=1 tools/bench-libuv.sh [REGEX]
#                                    the summary of the last run, again
set -eu
cd "$(dirname "$0")/.."
runner=../shared/conformance/run-benchmarks.sh
if [ ! -x "$runner" ]; then
  echo "bench-libuv: $runner not found; skipped"
  exit 0
fi
filter=${1:-'^(ping_pongs|tcp_write_batch|tcp4_pound_100|tcp4_pound_1000|pipe_pound_100|pipe_pound_1000|tcp_pump1_client|tcp_pump100_client|pipe_pump1_client|pipe_pump100_client|tcp_multi_accept2|tcp_multi_accept4|tcp_multi_accept8|ping_udp1|udp_pummel_.*|udp_timed_pummel_.*|spawn|fs_stat)$'}
runs=${BENCH_RUNS:-3}
out=build-bench/libuv-suite
mkdir -p "$out"
: > "$out/results.txt"
i=0
while [ $i -lt "$runs" ]; do
  order="nodeloop libuv"
  [ $((i % 2)) = 1 ] && order="libuv nodeloop"
  for lib in $order; do
    if [ $lib = nodeloop ]; then dir=build/compat; else dir=/usr/lib/x86_64-linux-gnu; fi
    # BENCH_REPARSE=1 summarises the runs already in $out again.
    [ -n "${BENCH_REPARSE:-}" ] ||
      "$runner" --lib "$dir" --filter "$filter" > "$out/$lib.$i.txt" 2>&1 || true
    # One "lib name value unit better" line per benchmark that finished.
    awk -v lib=$lib -v round=$i '
      /^### / { name = $2; ok = ($3 == "OK"); got = 0; next }
      # fs_stat: one line per concurrency; the runner prints the rate only
      # up to about 20 in flight ("<buffer too small>" after, and the lines
      # around it can run together): 1 to 16 are kept. Before the "got"
      # test: the synchronous line above them is a figure too.
      ok && name == "fs_stat" && /stats \([0-9]+ concurrent\): .*\([0-9,]+\/s\)/ {
        c = $0; sub(/.*stats \(/, "", c); sub(/ concurrent.*/, "", c)
        v = $0; sub(/.*\(/, "", v); sub(/\/s\).*/, "", v); gsub(/,/, "", v)
        if (c + 0 <= 16) print round, lib, "fs_stat_c" c, v, "stats/s", "higher"
        next }
      !ok || got || name == "" || name == "sizes" { next }
      /write requests in/ { v = $0; sub(/.* in /, "", v); sub(/s\..*/, "", v)
                            print round, lib, name, v, "s", "lower"; got = 1; next }
      /pingers, ~ / { v = $0; sub(/.*~ /, "", v); split(v, w, " ")
                      print round, lib, name, w[1], "roundtrips/s", "higher"; got = 1; next }
      /\/s received/ { v = $3; sub(/\/s/, "", v)
                      print round, lib, name, v, "received/s", "higher"; got = 1; next }
      # A rate in parentheses, whatever comes before it: "(874,185/sec)",
      # "(13725881 ticks/s)", "(2,015,280/s, ...".
      match($0, /\([0-9,.]+( [a-z]+)?\/s(ec)?[,)]/) {
        v = substr($0, RSTART + 1, RLENGTH - 2); sub(/[ \/].*/, "", v)
        gsub(/,/, "", v)
        print round, lib, name, v, "per_s", "higher"; got = 1; next }
      /^# [0-9.]+ seconds total/ { print round, lib, name, $2, "s", "lower"; got = 1; next }
      /^# [A-Za-z0-9_-]+: [0-9.]+ / {
        key = $2; sub(/:$/, "", key)
        if (name ~ /pump/ && key != name) next
        print round, lib, name, $3, $4, "higher"; got = 1 }
    ' "$out/$lib.$i.txt" >> "$out/results.txt"
  done
  i=$((i + 1))
done
awk '
  # round lib name value unit better
  { key = $3; v[$2, key, ++n[$2, key]] = $4; unit[key] = $5; better[key] = $6
    r[$1, $2, key] = $4; if ($1 + 1 > nr) nr = $1 + 1
    if (!(key in seen)) { seen[key] = 1; keys[++nk] = key } }
  function sort(a, m,   i, j, t) {
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  }
  function median(lib, key,   m, i, a) {
    m = n[lib, key]
    if (m == 0) return -1
    for (i = 1; i <= m; i++) a[i] = v[lib, key, i]
    sort(a, m)
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "%-22s %12s %12s  %-12s %-6s %s\n", "libuv benchmark", "nodeloop", "libuv", "unit", "ratio", "per round"
    for (k = 1; k <= nk; k++) {
      key = keys[k]; a = median("nodeloop", key); b = median("libuv", key)
      if (a < 0 || b < 0) {
        printf "%-22s %12s %12s  %-12s %s\n", key, a < 0 ? "failed" : a, b < 0 ? "failed" : b, unit[key], "-"
        continue
      }
      m = 0; list = ""; delete q
      for (i = 0; i < nr; i++) if (((i, "nodeloop", key) in r) && ((i, "libuv", key) in r)) {
        x = r[i, "nodeloop", key]; y = r[i, "libuv", key]
        if (x <= 0 || y <= 0) continue
        q[++m] = better[key] == "higher" ? x / y : y / x
        list = list sprintf(" %.2f", q[m])
      }
      sort(q, m)
      rq = m == 0 ? "-" : sprintf("%.2fx", m % 2 ? q[(m + 1) / 2] : (q[m / 2] + q[m / 2 + 1]) / 2)
      printf "%-22s %12.2f %12.2f  %-12s %-6s%s\n", key, a, b, unit[key], rq, list
    }
  }' "$out/results.txt"
