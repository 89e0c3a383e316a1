# noxsync: the two commands a new user needs are `make demo` and `make test`.
# Both install the Debian packages that are missing, configure and build.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
NOXSYNC := $(BUILD_DIR)/cli/noxsync
DEMO_DB ?= $(BUILD_DIR)/demo-store

.PHONY: all deps configure build demo test soak bench bench-quick package clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DNOXSYNC_BUILD_TESTS=ON -DNOXSYNC_BUILD_BENCH=ON

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Ingests the sample Noxys events into a fresh store and shows what an
# auditor sees: the incidents, one incident's history, and the chain check;
# then checks the connections to the fake Jira and ServiceNow.
demo: build
	@./scripts/demo.sh $(NOXSYNC) $(DEMO_DB) samples/events.jsonl $(BUILD_DIR)/tests/fakes

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

# The .deb of the release build (docs/operations.md): build/noxsync_*.deb.
package: build
	cd $(BUILD_DIR) && cpack -G DEB

# Long runs kept out of `make test`: the engine's convergence over 5000 seeds,
# then a minute of what clients get wrong against a real serve.
soak: build
	NOXSYNC_CONVERGENCE_SEEDS=5000 $(BUILD_DIR)/tests/sync_convergence_test
	python3 scripts/serve-stress.py --bin $(BUILD_DIR)/cli/noxsync --seconds 60

# Benchmarks on 1M generated events (see docs/performance.md); minutes.
bench: build
	$(BUILD_DIR)/bench/ingest_bench --events=1000000
	$(BUILD_DIR)/bench/sync_bench --tickets=10000
	$(BUILD_DIR)/bench/serve_bench --events=200000 --report-events=1000000 --runs=3

bench-quick: build
	$(BUILD_DIR)/bench/ingest_bench --events=100000
	$(BUILD_DIR)/bench/sync_bench --tickets=1000
	$(BUILD_DIR)/bench/serve_bench --events=20000 --report-events=100000

clean:
	rm -rf $(BUILD_DIR)
