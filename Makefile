# chainotel — build, run, test and benchmark.
# `make run` and `make test` do all the set-up they need on a fresh machine.

SHELL        := /bin/bash
GO           ?= go
NODES        ?= node0,node1,node2
BLOCKCHAIN   := ./blockchain
OTELCOL      := build/otelcol-chain
GO_SOURCES   := $(shell find . -name '*.go' -not -path './build/*' -not -path './bin/*' 2>/dev/null)
TEST_TIMEOUT ?= 35m
# VERSION is the node's release (service.version, chainotel_build_info, `blockchain version`):
# git describe of the checkout, linked into node/buildinfo with the revision; empty outside a
# checkout, where the module version or buildinfo.DefaultVersion applies.
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION     ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS      := $(if $(VERSION),-X github.com/chainotel/chainotel/node/buildinfo.linkedVersion=$(VERSION)) \
                $(if $(REVISION),-X github.com/chainotel/chainotel/node/buildinfo.linkedRevision=$(REVISION))
# The process tests (test/README.md): every package under test/ but e2e and chaos, which run on their own.
INTEGRATION_PKGS = $(shell $(GO) list -tags integration ./test/... | grep -v -e '/test/e2e$$' -e '/test/chaos$$')
# The binaries the process tests run, built once by make (internal/testbin reads these).
TEST_BINS    = CHAINOTEL_BLOCKCHAIN_BIN=$(abspath $(BLOCKCHAIN)) CHAINOTEL_OTELCOL_BIN=$(abspath $(OTELCOL))
# COVER makes `go test` print each package's coverage and write the profile
# that `make cover-report` totals (out/coverage.out; go tool cover -html=out/coverage.out).
COVER        ?= -cover -coverprofile=out/coverage.out

.PHONY: all build certs init collector run test unit integration e2e vet lint tools bench bench-node \
        bench-sampling bench-collector bench-fidelity bench-telemetry bench-pow chaos chaos-short fuzz clean distclean testnet-up testnet-down deploy-test \
        rules-test cover-report policy-check

all: build collector

## build: the node binary at ./blockchain
build: $(BLOCKCHAIN)
$(BLOCKCHAIN): $(GO_SOURCES) go.mod go.sum
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BLOCKCHAIN) ./node/cmd/blockchain

## certs: cluster CA and one certificate per node under ./certs (keeps an existing CA; ROTATE=1 makes a new one)
certs:
	@test -x $(BLOCKCHAIN) || $(MAKE) --no-print-directory build
	$(BLOCKCHAIN) certs --dir certs --nodes $(NODES) $(if $(ROTATE),--rotate-ca)

## init: genesis (dev accounts funded, 0xabc among them) and the data folders; the genesis
## serves raft and pow alike (the nodes' --consensus picks)
init:
	@test -x $(BLOCKCHAIN) || $(MAKE) --no-print-directory build
	$(BLOCKCHAIN) init --data-dir data --nodes $(NODES)


## collector: build/otelcol-chain with ocb from builder-config.yaml (only when its inputs changed)
collector:
	@scripts/build-collector.sh

## run: the local 3-node cluster with its collector, until Ctrl-C
run: build collector
	@scripts/run-local.sh

## tools: what the tests need beyond Go (promtool)
tools:
	@scripts/install-tools.sh

## rules-test: promtool's unit tests of the Prometheus recording and alert rules (deploy/prometheus/rules)
rules-test: tools
	cd deploy/prometheus/rules && promtool check rules *.rules.yml && promtool test rules *_test.yml

## vet: go vet over the whole module, the integration-tagged process tests included
vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

## policy-check: the shipped sampling policy file through policycheck, as CI checks an edit (file:line:col, non-zero exit)
policy-check:
	$(GO) run ./processors/chainsamplingprocessor/cmd/policycheck collector/sampling-policies.yaml

## lint: go.mod and tools/go.mod tidy, then golangci-lint (.golangci.yml: the standard linters and
## depguard's import rules), pinned in tools/go.mod; ~3 min cold
lint:
	@$(GO) mod tidy -diff || { echo "lint: go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; }
	@cd tools && $(GO) mod tidy -diff || { echo "lint: tools/go.mod is not tidy: run (cd tools && go mod tidy)" >&2; exit 1; }
	$(GO) tool -modfile=tools/go.mod golangci-lint run ./...

## unit: every package's unit tests with the race detector and coverage; starts no process, builds no binary
unit:
	@mkdir -p out
	$(GO) test -race $(COVER) -timeout 10m ./...

## integration: the process tests under test/ (cluster, pow, collector, loadgen, deploy) against
## the node and collector built once here; e2e and chaos have targets of their own
integration: build collector
	$(TEST_BINS) $(GO) test -race -tags integration -timeout $(TEST_TIMEOUT) $(INTEGRATION_PKGS)

## e2e: three nodes plus the ocb-built collector, end to end
e2e: build collector
	$(TEST_BINS) $(GO) test -race -tags integration -timeout 15m -count=1 ./test/e2e/

## chaos-short: the short fault-injection suite (~1 min); prints its table on failure
chaos-short: build collector
	$(TEST_BINS) $(GO) test -race -tags integration -count=1 -timeout 10m ./test/chaos/

## chaos: the full fault-injection suite (~3-5 min; part of `make test`); prints its table
chaos: build collector
	@mkdir -p out
	$(TEST_BINS) CHAINOTEL_CHAOS=full CHAINOTEL_CHAOS_REPORT=$(abspath out/chaos.txt) \
	  $(GO) test -race -tags integration -count=1 -timeout 25m ./test/chaos/
	@cat out/chaos.txt

## fuzz: each fuzz target for FUZZTIME, one after the other (plain `go test`, and so `make unit`,
## runs their committed seed corpora in testdata/fuzz/); a crasher lands in testdata/fuzz/ to commit
FUZZTIME     ?= 30s
FUZZ_TARGETS := node/chain:FuzzBlockUnmarshal node/chain:FuzzTxUnmarshal node/p2p:FuzzPeerCodec \
                node/api:FuzzTxDecode processors/chainsamplingprocessor/internal/policy:FuzzParse \
                processors/chainsamplingprocessor:FuzzConsumeOTLP processors/chainenrichprocessor:FuzzConsumeOTLP \
                processors/chainsamplingprocessor/internal/engine:FuzzIngestOTLP
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=./$${t%%:*}; fn=$${t##*:}; echo "== $$fn in $$pkg for $(FUZZTIME)"; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	done

## cover-report: per-function coverage of the last `make unit` in out/coverage.txt, and its total
cover-report:
	@$(GO) tool cover -func=out/coverage.out > out/coverage.txt
	@echo "coverage: $$(tail -1 out/coverage.txt | tr -s '\t ' ' ') (per function: out/coverage.txt; per package: the ok lines above)"

## test: everything CI runs: the unit tests, then the process tests (test/README.md)
test: tools vet lint policy-check rules-test unit cover-report integration e2e chaos

## testnet-up: the docker compose testnet (FROM-scratch images, a sidecar collector per node),
## waiting until healthy; SCALEOUT=1 adds the sampling tier (deploy/docker-compose.scaleout.yml),
## EXTERNAL=1 Jaeger and Prometheus (their images must be pullable; deploy/README.md)
testnet-up:
	@deploy/testnet.sh up $(if $(SCALEOUT),--scaleout) $(if $(EXTERNAL),--external)

## testnet-down: remove the testnet's containers, network and volumes
testnet-down:
	@deploy/testnet.sh down

## deploy-test: only the compose testnet tests (test/deploy; skip without Docker)
deploy-test: collector
	$(TEST_BINS) $(GO) test -tags integration -count=1 -v -timeout 15m ./test/deploy/

## bench: every benchmark, each printing a ratio against a baseline measured in the same run
bench: bench-node bench-sampling bench-collector bench-fidelity bench-telemetry bench-pow

bench-node: build
	$(GO) run ./node/cmd/loadgen --spawn --binary $(abspath $(BLOCKCHAIN)) --modes single,batch,read,read-local

bench-sampling:
	$(GO) run ./processors/chainsamplingprocessor/internal/bench

## bench-collector: otelcol-chain against a stock ocb build of the same collector release with the contrib tail_sampling
## processor ($(STOCK_MANIFEST)), process against process, under the same telemetrygen load with equivalent policies,
## runs alternating: CPU per accepted span, peak RSS, refused and dropped spans (must be 0), kept traces per rule (must
## agree), and their ratios (~5 min after the builds). CPU profiles of the last round go to out/profiles/collector
## (go tool pprof -top out/profiles/collector/chainotlp.pprof). otelcol-chain runs its wire path (the chainotlp receiver);
## -chain-path pdata measures the otlp receiver and the chainsampling processor instead.
## BENCH_COLLECTOR_FLAGS: -rate, -duration, -rounds, -chain-path.
TELEMETRYGEN_VERSION  ?= v0.161.0
STOCK_MANIFEST        := processors/chainsamplingprocessor/internal/collectorbench/builder-stock.yaml
BENCH_COLLECTOR_FLAGS ?=
bench-collector: collector
	@MANIFEST=$(STOCK_MANIFEST) scripts/build-collector.sh
	@$(GO) version -m bin/telemetrygen 2>/dev/null | grep -q 'mod.*telemetrygen.*$(TELEMETRYGEN_VERSION)' || \
	  GOBIN=$(abspath bin) $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION)
	$(GO) run ./processors/chainsamplingprocessor/internal/collectorbench --chain $(OTELCOL) --stock build/stock/otelcol-stock \
	  --telemetrygen bin/telemetrygen --profiles out/profiles/collector $(BENCH_COLLECTOR_FLAGS)

## bench-fidelity: what chainsampling's kept output says against the truth of the traffic, through otelcol-chain: per rule at 1%
## keep over 1 M traces (-traces), trace and span counts estimated from the adjusted counts (ot=th) within
## +-5% of the truth; at ten times max_spans_per_second, every error trace and every trace sent in a trigger window kept;
## in the scale-out layout (node sidecars, load_balancing by trace id, two samplers) every kept trace whole, with the
## spans of every node it crossed. Prints a table per scenario and exits 1 on a failed check (~5-10 min on 2 cores).
## BENCH_FIDELITY_FLAGS: -traces, -scaleout-traces, -budget, -budget-duration, -scenarios, -seed.
BENCH_FIDELITY_FLAGS ?=
bench-fidelity: collector
	$(GO) run ./processors/chainsamplingprocessor/internal/fidelitybench --otelcol $(OTELCOL) $(BENCH_FIDELITY_FLAGS)

## bench-pow: the PoW miner's hash rate against a raw SHA-256 loop over the same header bytes (target ratio >= 0.9)
bench-pow:
	$(GO) run ./node/consensus/pow/internal/bench -rounds 3

## bench-telemetry: the nodes' CPU per committed tx exporting every span to otelcol-chain vs OTEL_SDK_DISABLED=true:
## 3 rounds of 15 s per mode, each run on a fresh cluster, the order alternating; prints each round's nodes-only CPU per
## tx both ways and their ratio (target: at most 1.05x single, 1.02x batch), the ratio's median and min–max, and on a
## line of its own the collector's CPU per span it accepted (~4 min). The CPU profiles of the last round of each
## configuration (nodes, collector) go to out/profiles/{telemetry,disabled} (go tool pprof -top out/profiles/telemetry/single-node0.pprof)
# HEAD_SAMPLING: the head-sampling probabilities bench-telemetry also measures, beside every span.
HEAD_SAMPLING ?= 0.1 0.01
bench-telemetry: build collector
	$(GO) run ./node/cmd/loadgen --spawn --binary $(abspath $(BLOCKCHAIN)) --collector $(abspath $(OTELCOL)) --compare-telemetry \
	  --rounds 3 --node-profiles out/profiles
	@for p in $(HEAD_SAMPLING); do \
	  echo "== bench-telemetry: the nodes at head sampling $$p (parentbased_traceidratio) vs OTEL_SDK_DISABLED=true"; \
	  $(GO) run ./node/cmd/loadgen --spawn --binary $(abspath $(BLOCKCHAIN)) --collector $(abspath $(OTELCOL)) --compare-telemetry \
	    --rounds 3 --head-sampling $$p || exit 1; \
	done

clean:
	rm -rf $(BLOCKCHAIN) out

## distclean: also the cluster's data, logs, certificates, the collector build and the image build contexts
distclean: clean
	rm -rf data logs certs build bin collector/out deploy/.context
