# nodeloop: a thin wrapper around CMake. See README.md.
#   make demo        build and run the demo
#   make check       build and run every test, then again under ASan+UBSan
#   make check-tsan  the threaded tests under ThreadSanitizer
#   make bench       benchmarks, nodeloop against Debian's libuv
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build deps demo check check-normal check-asan check-tsan bench \
        install conformance clean

all: build

deps:
	@tools/deps.sh

build: deps
	cmake -S . -B build -DCMAKE_C_COMPILER=gcc $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)

demo: build
	@tools/demo.sh build

check: check-normal check-asan

check-normal: build
	cd build && ctest -j $(JOBS) --output-on-failure

# clang here, gcc above: the tree must build warning-free with both.
check-asan: deps
	cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DNL_SANITIZE=address,undefined $(CMAKE_FLAGS) >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 ctest -j $(JOBS) --output-on-failure

check-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DNL_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 \
	  ctest -j $(JOBS) -L threaded --output-on-failure

bench: build
	@tools/bench.sh

install: deps
	cmake -S . -B build -DCMAKE_C_COMPILER=gcc -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)
	cmake --install build

conformance: build
	../shared/conformance/check.sh

clean:
	rm -rf build build-asan build-tsan build-bench
