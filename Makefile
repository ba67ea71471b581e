# Lambent: `make build`, `make run`, `make test`, `make bench`.
# Every target installs the Debian packages it needs first (see .ci/install-deps).

BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
SANITIZE   ?= OFF
LISTEN     ?= 127.0.0.1:9400
DATA_DIR   ?= ./.lambent
JOBS       ?= $(shell nproc)
BENCH_ARGS ?=
SOAK_DURATION ?= 30m

.PHONY: all deps test-deps configure build run test unit-test integration-test test-sanitize fuzz bench bench-quick soak clean

all: build

deps:
	@.ci/install-deps build

test-deps:
	@.ci/install-deps test

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DLAMBENT_SANITIZE=$(SANITIZE) -DLAMBENT_WERROR=ON >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Serves on $(LISTEN) with the examples deployed (examples/deploy-all runs once the server listens).
run: build
	@examples/run-with-examples $(BUILD_DIR)/lambent $(LISTEN) $(DATA_DIR)

test: test-deps build
	@tests/js/install
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900

unit-test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit

integration-test: test-deps build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L integration

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build directory.
test-sanitize: test-deps
	@$(MAKE) --no-print-directory test BUILD_DIR=build-asan SANITIZE=ON BUILD_TYPE=Debug

# libFuzzer targets (tests/fuzz) built with clang in build-fuzz/, each run for FUZZ_SECONDS; crashers are
# left in build-fuzz/crashes/<target>/.
FUZZ_SECONDS ?= 60
fuzz:
	@.ci/install-deps fuzz
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	    -DLAMBENT_FUZZ=ON -DLAMBENT_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(patsubst %,fuzz_%,$(notdir $(wildcard tests/fuzz/corpus/*)))
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

# BENCH_ARGS: extra bench/run options, e.g. `--server build` to measure an existing build instead of a Release one.
bench: deps
	@bench/run $(BENCH_ARGS)

bench-quick: deps
	@bench/run --quick $(BENCH_ARGS)

# Mixed load against a release build for $(SOAK_DURATION) (e.g. make soak SOAK_DURATION=5m); fails on loss or growth.
soak: deps
	@bench/soak --duration $(SOAK_DURATION)

clean:
	rm -rf $(BUILD_DIR)
