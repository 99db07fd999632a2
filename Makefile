# The one entry point for building, testing and checking sop. CI calls `make test`
# through .ci/run. Every target works before any Go package exists.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

GO       ?= go
FUZZTIME ?= 30s
SUITE    ?= all

# PKGS is empty until the module holds a Go package; targets that need packages say
# so and succeed instead of failing on "matched no packages".
PKGS = $(shell $(GO) list -e ./... 2>/dev/null)
# The invariants build checks the engine's internals; the fault suite runs sopd binaries
# built without tags, so it runs once, in the plain pass.
INVARIANT_PKGS = $(filter-out github.com/sopd/sop/faults%,$(PKGS))

FAULTS   ?= short
DURATION ?= 30m

.PHONY: run test test-race test-fault soak lint verify bench fuzz tools

## run: build and start `sopd serve` standalone (HTTP 127.0.0.1:7070, data in ./data)
run:
	exec $(GO) run ./cmd/sopd serve

## test: install test dependencies, run every test (plain and with -tags invariants; the
## fault suite with its short schedule), build bench/
test:
	scripts/test-deps.sh
	@if test -z "$(PKGS)"; then echo "no Go packages yet: nothing to test"; exit 0; fi; \
	set -x; \
	$(GO) test -count=1 -timeout 20m ./...; \
	$(GO) test -count=1 -tags invariants $(INVARIANT_PKGS)
	@if test -f bench/go.mod; then \
		set -x; cd bench && $(GO) build -o /dev/null ./... && $(GO) vet ./...; \
	fi

## test-fault: the fault schedule alone (TestFaultSchedule in faults/): FAULTS=short
## (default, the schedule `make test` runs) or FAULTS=long (five times the faults). The
## single-fault tests of faults/cluster_test.go (TestKillLeaderUnderLoad and the like)
## run under `make test` only. Redis must be there: SOP_REQUIRE_REDIS=1 fails the run
## instead of skipping it when redis-server is missing.
test-fault:
	scripts/test-deps.sh
	SOP_REQUIRE_REDIS=1 SOP_FAULTS=$(FAULTS) $(GO) test -count=1 -timeout 0 -v -run 'TestFaultSchedule' ./faults

## soak: random faults for DURATION (default 30m) under the fault suite's workloads, then
## its checks and summary (e.g. make soak DURATION=2h); like test-fault, fails without
## redis-server
soak:
	scripts/test-deps.sh
	SOP_REQUIRE_REDIS=1 SOP_SOAK=$(DURATION) $(GO) test -count=1 -timeout 0 -v -run 'TestFaultSchedule' ./faults

## test-race: run every test under the race detector
test-race:
	@if test -z "$(PKGS)"; then echo "no Go packages yet: nothing to test"; exit 0; fi; \
	set -x; $(GO) test -race -count=1 ./...

## lint (alias verify): gofmt, go vet, staticcheck, go mod tidy diff
lint verify:
	@unformatted="$$(gofmt -l .)"; \
	if test -n "$$unformatted"; then \
		echo "gofmt -l: these files need gofmt -w:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) mod tidy -diff
	@if test -f bench/go.mod; then set -x; cd bench && $(GO) mod tidy -diff; fi
	@if test -z "$(PKGS)"; then echo "no Go packages yet: skipping go vet and staticcheck"; exit 0; fi; \
	set -x; \
	$(GO) vet ./...; \
	$(GO) tool staticcheck ./...

## bench: run the benchmark suite SUITE (default all; e.g. make bench SUITE=btree)
bench:
	cd bench && $(GO) run . $(SUITE)

## fuzz: run every Go fuzz target for FUZZTIME each (default 30s)
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## tools: build the dev tools pinned in go.mod's tool block
tools:
	$(GO) mod download
	$(GO) tool staticcheck -version
