# nodeloop: a thin wrapper around CMake. See README.md.
#   make demo        build and run the demo
#   make check       build and run every test (gcc), again in a Release
#                    build, then again under ASan+UBSan (clang)
#   make check-tsan  the threaded tests under ThreadSanitizer
#   make check-build-types  the other build types, gcc and clang, built
#   make node-check  Debian's Node.js 18 runs test/node/ on nodeloop
#   make bench       benchmarks, nodeloop against Debian's libuv (ours and
#                    libuv's own, same source), and what observation costs
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build deps demo check check-normal check-release check-asan \
        check-tsan check-build-types bench install conformance node-check \
        clean

all: build

deps:
	@tools/deps.sh

# The project's own builds treat warnings as errors (NL_WERROR); a plain
# cmake build, a packager's, does not.
build: deps
	@cmake -S . -B build -DCMAKE_C_COMPILER=gcc $(CMAKE_FLAGS) >/dev/null
	@tools/build.sh build $(JOBS)

demo: build
	@tools/demo.sh build

check: check-normal check-release check-asan

check-normal: deps
	@cmake -S . -B build -DCMAKE_C_COMPILER=gcc -DNL_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@tools/build.sh build $(JOBS)
	cd build && ctest -j $(JOBS) --output-on-failure

# -O3: what packagers build with, and where gcc finds warnings -O2 does not.
# Its tests run without io_uring (the worker pool does every file request),
# the other two builds' with it.
check-release: deps
	@cmake -S . -B build-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	  -DNL_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@tools/build.sh build-release $(JOBS)
	cd build-release && NODELOOP_IO_URING=0 ctest -j $(JOBS) --output-on-failure

# clang here, gcc above: the tree must build warning-free with both. Its
# tests put every file request the ring can take on io_uring, also those
# made outside uv_run (NODELOOP_IO_URING=all), under the sanitizers.
check-asan: deps
	@cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DNL_WERROR=ON -DNL_SANITIZE=address,undefined $(CMAKE_FLAGS) >/dev/null
	@tools/build.sh build-asan $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 NODELOOP_IO_URING=all \
	  ctest -j $(JOBS) --output-on-failure

check-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DNL_WERROR=ON -DNL_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	@tools/build.sh build-tsan $(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/test/tsan.supp" \
	  ctest -j $(JOBS) -L threaded --output-on-failure

# The build types check does not use, built (not run) with -Werror: gcc
# warns at -O0 and -Os of things it does not see at -O2 and -O3.
BUILD_TYPES = gcc:Debug gcc:MinSizeRel clang:Release clang:MinSizeRel
check-build-types: deps
	@for t in $(BUILD_TYPES); do \
	  cc=$${t%%:*}; type=$${t#*:}; dir=build-types/$$cc-$$type; \
	  cmake -S . -B $$dir -DCMAKE_C_COMPILER=$$cc -DCMAKE_BUILD_TYPE=$$type \
	    -DNL_WERROR=ON $(CMAKE_FLAGS) >/dev/null || exit 1; \
	  tools/build.sh $$dir $(JOBS) || exit 1; \
	done

bench: build
	@tools/bench.sh
	@tools/bench-libuv.sh
	@tools/bench-http.sh
	@tools/bench-observe.sh

install: deps
	@cmake -S . -B build -DCMAKE_C_COMPILER=gcc -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@tools/build.sh build $(JOBS)
	cmake --install build

conformance: build
	../shared/conformance/check.sh

# Debian's Node.js 18 on Debian's libuv and on nodeloop: same outputs.
node-check: build
	@tools/node-check.sh

clean:
	rm -rf build build-release build-asan build-tsan build-bench build-nohooks
