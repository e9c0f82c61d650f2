#!/bin/sh
# The shared libraries export exactly the functions of src/exports.list:
# no internal uv__/nl__ symbol, nothing unlisted, and every uv_ name is one
# of libuv 1.44's.   usage: exports.sh LIBRARY EXPORTS_LIST LIBUV_EXPORTS
set -eu
lib=$1
list=$2
libuv=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TWi]$/ {print $3}' | sort -u > "$tmp/have"
grep -v '^#' "$list" | grep . | sort -u > "$tmp/want"
status=0
if grep -E '^(uv__|nl__)' "$tmp/have"; then
  echo "internal symbols are exported (above)"
  status=1
fi
if ! diff -u "$tmp/want" "$tmp/have"; then
  echo "exported functions differ from $list"
  status=1
fi
grep '^uv_' "$tmp/want" > "$tmp/uv" || true
if [ -n "$(comm -23 "$tmp/uv" "$(sort -u "$libuv" > "$tmp/libuv"; echo "$tmp/libuv")")" ]; then
  echo "not libuv 1.44 functions:"
  comm -23 "$tmp/uv" "$tmp/libuv"
  status=1
fi
total=$(wc -l < "$tmp/libuv")
done_count=$(comm -12 "$tmp/uv" "$tmp/libuv" | wc -l)
echo "$(wc -l < "$tmp/have") functions exported; $done_count of $total libuv 1.44 functions"
exit $status
