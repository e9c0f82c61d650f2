#!/bin/sh
# Installs what the build needs on a Debian machine, if it is missing:
# CMake, gcc, clang with its sanitizer runtimes, make; libhttp-parser for
# the file server example and python3 for the echo server's test.
set -e
need=""
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v clang >/dev/null 2>&1 || need="$need clang"
command -v make >/dev/null 2>&1 || need="$need make"
command -v python3 >/dev/null 2>&1 || need="$need python3"
[ -f /usr/include/http_parser.h ] || need="$need libhttp-parser-dev"
if command -v clang >/dev/null 2>&1; then
  rt=$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.asan-x86_64.a
  [ -f "$rt" ] || need="$need libclang-rt-dev"
else
  need="$need libclang-rt-dev"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: please install:$need" >&2
  exit 1
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $need >/dev/null
