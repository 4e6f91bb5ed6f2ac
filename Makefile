# The project's test habits, one target each; .ci/run calls them in order
# (lint, test, race, crash, fuzz) with CI=true, under which a test that misses a
# Debian tool or ../shared fails instead of skipping.
#
#   make test                    the README's `go test ./...`
#   make test-e2e                the tests of the real binary, then the crash harness
#   make sim SEQUENCES=200       the staff simulator alone (go test runs 20 sequences)
#   make race                    the race detector over every package but the e2e one
#   make fuzz FUZZTIME=300       every fuzz target, FUZZTIME seconds each (default 60)
#   make bench                   every Go benchmark, once through
#   make lint                    gofmt, go vet, golangci-lint (its settings: .golangci.yml)
#   make deb                     sohoa_<VERSION>_{amd64,arm64}.deb here (docs/packaging.md)
#
# TESTFLAGS adds flags to the go test of test, test-e2e, race, crash and sim:
# CI passes -count=1, and leaves the crash harness and the staff simulator
# out of `make test` (each has its own step).

GO ?= go
TESTFLAGS ?=
FUZZTIME ?= 60
E2E := ./cmd/sohoa/e2e/
CRASH := ^TestCrashHarness$$

SEQUENCES ?= 200
SIM := ^TestStaffSimulator$$

.PHONY: test test-e2e crash sim race fuzz bench lint deb

test:
	$(GO) test $(TESTFLAGS) ./...

# The e2e package builds the binary once and runs it; the crash harness
# (6 kills a sink, 100 under CI=true; SOHOA_CRASH_CYCLES sets it) prints its
# counts.
test-e2e:
	$(GO) test $(TESTFLAGS) -timeout 20m -skip '$(CRASH)' $(E2E)
	$(MAKE) --no-print-directory crash

crash:
	$(GO) test $(TESTFLAGS) -timeout 20m -v -run '$(CRASH)' $(E2E)

# The staff simulator: SEQUENCES random sequences of what clerks and
# scanners do, with kill -9, against the real daemon; prints its counts.
sim:
	SOHOA_SIM_SEQUENCES=$(SEQUENCES) $(GO) test $(TESTFLAGS) -timeout 20m -v -run '$(SIM)' $(E2E)

# Every package but the e2e one, whose tests drive the binary, which the
# race detector does not see into. Tests that the detector's memory and
# slowness would break or drag out (parser memory limits, timings, sweeps
# of the wild corpus or of the generated scans) skip themselves under -race
# (testenv.SkipUnderRace); `make test` runs them.
race:
	$(GO) test $(TESTFLAGS) -race $$($(GO) list ./... | grep -vx 'github.com/sohoa/sohoa/cmd/sohoa/e2e')

fuzz:
	bash .ci/fuzz.sh $(FUZZTIME)

# The Go benchmarks, each run once through (BENCHTIME, default 1x); the
# daemon beside `pdfcpu validate` is .ci/bench.sh.
BENCHTIME ?= 1x
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./...

# gofmt, go vet, then golangci-lint at a pinned version (built once into
# Go's cache by go run): staticcheck and the depguard rules that make the
# design's arrows law.
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...

# The Debian packages, built by nfpm at a pinned version (go run, as
# golangci-lint): systemd/package/ (nfpm.yaml, the maintainer scripts,
# build.sh). VERSION: from the newest v* tag (v1.2.0-5-gabc: 1.2.0+5.gabc),
# else 0.0.0+git<commits>.<hash>, so that a later commit is a newer package.
NFPM := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
VERSION ?= $(or $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//; s/-/+/; s/-/./g'),0.0.0+git$(shell git rev-list --count HEAD).$(shell git rev-parse --short=12 HEAD))
REVISION ?= $(shell git rev-parse HEAD)$(shell git diff --quiet HEAD || echo -modified)
DEB_ARCHES ?= amd64 arm64
DEBDIR ?= .
deb:
	@for arch in $(DEB_ARCHES); do \
	  NFPM="$(NFPM)" bash systemd/package/build.sh $$arch '$(VERSION)' '$(REVISION)' '$(abspath $(DEBDIR))' || exit 1; \
	done
