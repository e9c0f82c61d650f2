#!/bin/sh
# What observation costs (docs/observability.md, docs/benchmarks.md):
# libuv's loop_count, ping_pongs and queue_work, run in alternation on
#   nohooks  the library built with -DNL_HOOKS=OFF (hooks compiled out)
#   off      the normal build, nothing switched on
#   trace    the normal build with NODELOOP_TRACE
#   metrics  the normal build with NODELOOP_STATS
# BENCH_RUNS times each (default 3); prints medians and the ratios
# off/nohooks, trace/off and metrics/off (1.00 = no cost). Needs
# ../shared/conformance (libuv's benchmark runner); skipped without it.
set -eu
cd "$(dirname "$0")/.."
runner=../shared/conformance/run-benchmarks.sh
if [ ! -x "$runner" ]; then
  echo "bench-observe: $runner not found; skipped"
  exit 0
fi
runs=${BENCH_RUNS:-3}
filter=${1:-'^(loop_count|ping_pongs|queue_work)$'}
out=build-bench/observe
mkdir -p "$out"
type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' build/CMakeCache.txt 2>/dev/null)
cmake -S . -B build-nohooks -DNL_HOOKS=OFF -DNL_TESTS=OFF \
      -DCMAKE_BUILD_TYPE="${type:-RelWithDebInfo}" >/dev/null
cmake --build build-nohooks -j2 >/dev/null
: > "$out/results.txt"
i=0
while [ $i -lt "$runs" ]; do
  for cfg in nohooks off trace metrics; do
    rm -f "$out"/trace-*.json "$out/stats.txt"
    case $cfg in
      nohooks) set -- env ;;
      off) set -- env ;;
      trace) set -- env NODELOOP_TRACE="$(pwd)/$out/trace-%p.json" ;;
      metrics) set -- env NODELOOP_STATS="$(pwd)/$out/stats.txt" ;;
    esac
    lib=build/compat
    [ $cfg = nohooks ] && lib=build-nohooks/compat
    "$@" "$runner" --lib "$lib" --filter "$filter" > "$out/$cfg.$i.txt" 2>&1 || true
    awk -v cfg=$cfg '
      /^### / { name = $2; next }
      /^# ping_pongs:/ { print cfg, name, $3; next }
      /^# loop_count:/ { v = $0; sub(/.*\(/, "", v); sub(/\/s.*/, "", v); print cfg, name, v; next }
      /async jobs in/ { v = $0; sub(/.*\(/, "", v); sub(/\/s.*/, "", v); gsub(/,/, "", v); print cfg, name, v }
    ' "$out/$cfg.$i.txt" >> "$out/results.txt"
  done
  i=$((i + 1))
done
awk '
  { v[$1, $2, ++n[$1, $2]] = $3; if (!($2 in seen)) { seen[$2] = 1; keys[++nk] = $2 } }
  function median(cfg, key,   m, i, j, t, a) {
    m = n[cfg, key]
    if (m == 0) return -1
    for (i = 1; i <= m; i++) a[i] = v[cfg, key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((m + 1) / 2)]
  }
  END {
    printf "%-12s %12s %12s %12s %12s   %s\n", "per second", "nohooks", "off", "trace", "metrics",
           "off/nohooks trace/off metrics/off"
    for (k = 1; k <= nk; k++) {
      key = keys[k]
      a = median("nohooks", key); b = median("off", key)
      c = median("trace", key); d = median("metrics", key)
      r1 = (a > 0) ? b / a : 0; r2 = (b > 0) ? c / b : 0; r3 = (b > 0) ? d / b : 0
      printf "%-12s %12.0f %12.0f %12.0f %12.0f   %.3f %.3f %.3f\n", key, a, b, c, d, r1, r2, r3
    }
  }' "$out/results.txt"
