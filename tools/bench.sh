#!/bin/sh
# make bench: builds every bench/*.c twice from the same source, against
# nodeloop (build/) and against Debian's libuv (libuv1-dev), runs them in
# alternation, the order reversed every other round (nodeloop's binary
# twice: with io_uring, and with NODELOOP_IO_URING=0), and prints the
# median of each RESULT line for each, with the ratios to libuv (>1 means
# nodeloop is better). bench/floor_*.c use no uv.h: they measure what the
# kernel alone does for the same work, are built once and printed
# afterwards as "kernel floors", value only.
set -eu
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
out=build-bench
if ! dpkg -s libuv1-dev >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq libuv1-dev >/dev/null
  else
    echo "bench: please install libuv1-dev" >&2
    exit 1
  fi
fi
mkdir -p "$out/nodeloop" "$out/libuv" "$out/floor"
for src in bench/*.c; do
  name=$(basename "$src" .c)
  case $name in
    floor_*)
      cc -O2 "$src" -o "$out/floor/$name" -lpthread
      continue ;;
  esac
  cc -O2 -I include "$src" -o "$out/nodeloop/$name" -L build -lnodeloop \
     -Wl,-rpath,"$(pwd)/build" -lpthread
  cc -O2 "$src" -o "$out/libuv/$name" -luv -lpthread
done
results=$out/results.txt
floors=$out/floors.txt
: > "$results"
: > "$floors"
for src in bench/*.c; do
  name=$(basename "$src" .c)
  case $name in
    floor_*)
      i=0
      while [ $i -lt "$runs" ]; do
        "$out/floor/$name" | sed -n "s/^RESULT /floor /p" >> "$floors"
        # ping_pongs' own shape: the echo server in a second process,
        # sleeping and polling.
        if [ "$name" = floor_pingpong ]; then
          "$out/floor/$name" 5 2 | sed -n "s/^RESULT /floor /p" >> "$floors"
          "$out/floor/$name" 5 2 busy | sed -n "s/^RESULT /floor /p" >> "$floors"
        fi
        i=$((i + 1))
      done
      continue ;;
  esac
  i=0
  while [ $i -lt "$runs" ]; do
    # nouring: nodeloop's binary with io_uring switched off. The order is
    # reversed every other round, so a machine that speeds up or slows
    # down during a round favours no library.
    order="nodeloop nouring libuv"
    [ $((i % 2)) = 1 ] && order="libuv nouring nodeloop"
    for lib in $order; do
      case $lib in
        nouring) NODELOOP_IO_URING=0 "$out/nodeloop/$name" ;;
        *) "$out/$lib/$name" ;;
      esac | sed -n "s/^RESULT /$lib /p" >> "$results"
    done
    i=$((i + 1))
  done
done
awk '
  { key = $2; v[$1, key, ++n[$1, key]] = $3; unit[key] = $4; better[key] = $5;
    if (!(key in seen)) { seen[key] = 1; keys[++nk] = key } }
  function median(lib, key,   m, i, j, t, a) {
    m = n[lib, key]
    for (i = 1; i <= m; i++) a[i] = v[lib, key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "%-26s %12s %12s %12s  %-12s %s\n", "benchmark", "nodeloop", "no io_uring",
           "libuv", "unit", "ratios (on, off)"
    for (k = 1; k <= nk; k++) {
      key = keys[k]; a = median("nodeloop", key); c = median("nouring", key)
      b = median("libuv", key)
      r = better[key] == "higher" ? a / b : b / a
      q = better[key] == "higher" ? c / b : b / c
      printf "%-26s %12.3f %12.3f %12.3f  %-12s %.2fx %.2fx\n", key, a, c, b,
             unit[key], r, q
    }
  }' "$results"
[ -s "$floors" ] || exit 0
echo
awk '
  { key = $2; v[key, ++n[key]] = $3; unit[key] = $4
    if (!(key in seen)) { seen[key] = 1; keys[++nk] = key } }
  function median(key,   m, i, j, t, a) {
    m = n[key]
    for (i = 1; i <= m; i++) a[i] = v[key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "%-34s %14s  %s\n", "kernel floors", "median", "unit"
    for (k = 1; k <= nk; k++)
      printf "%-34s %14.3f  %s\n", keys[k], median(keys[k]), unit[keys[k]]
  }' "$floors"
