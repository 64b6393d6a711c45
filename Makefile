# darkwatch — see README.md. Every target runs from a clean clone.
GO        ?= go
BIN       ?= bin/darkwatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 30s
PKGS      := ./...

export CGO_ENABLED = 0

.PHONY: all build test test-race lint fuzz fuzz-short bench accuracy lab-up lab-down demo clean

all: build

## build: a static binary in bin/darkwatch
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/darkwatch

## test: unit tests, lab tests (as root: network namespaces), the same under the race
## detector, and a short run of every fuzz target
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 40m $(PKGS)
	$(MAKE) --no-print-directory test-race
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

## test-race: the tests under the race detector (needs cgo and gcc); the lab's darkwatch
## binary is built with it too, and its daemons' rounds are stretched (lab.Slowdown)
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 50m $(PKGS)

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## fuzz: every Fuzz* target for FUZZTIME each (default 30s; make test uses 3s). A failure
## stands when an input the fuzzer saved fails again; a fuzzer that fails with no
## such input is shown and run once more.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for fn in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	    log=$$(mktemp); \
	    if ! $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg >$$log 2>&1; then \
	      cat $$log; \
	      $(GO) test -run="^$$fn$$" $$pkg || { rm -f $$log; exit 1; }; \
	      echo "fuzz $$fn: the fuzzer failed, but no input it saved fails; fuzzing again"; \
	      $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg >$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; \
	    fi; \
	    rm -f $$log; \
	  done; \
	done

## bench: Go benchmarks and, as root, scripts/bench.sh's comparison with zmap, masscan, nmap, fping and scamper
bench:
	@if [ "$$(id -u)" = 0 ]; then scripts/bench.sh; else echo "bench: comparisons need root (network namespaces): sudo make bench; Go benchmarks only:"; $(GO) test -run='^$$' -bench=. -benchmem $(PKGS); fi

## lab-up / lab-down: the network-namespace lab (root)
lab-up:
	scripts/lab.sh up
lab-down:
	scripts/lab.sh down

## accuracy: the accuracy benchmark, both layers, their tables printed: the simulation at
## full size (5,000 blocks, seven days of 11-minute rounds, three vantage points) with the
## December 2014 replay, then the lab (root)
.PHONY: accuracy-sim accuracy-lab
accuracy: accuracy-sim accuracy-lab

## accuracy-sim: the benchmark's simulation layer
accuracy-sim:
	DARKWATCH_ACCURACY=full $(GO) test -count=1 -timeout 60m -v -run '^(TestSimulationFull|TestReplay2014)$$' ./results/accuracy/

## accuracy-lab: the benchmark's lab layer: three nodes and a collector on the realistic
## target space (configs/lab-space-realistic.txt), scored against the faults' ground truth
accuracy-lab:
	DARKWATCH_ACCURACY=lab $(GO) test -count=1 -timeout 10m -run '^TestLabAccuracy$$' -v ./cmd/darkwatch

## demo: build, start the lab, probe it with every method (the README's first command)
demo:
	scripts/install-deps.sh
	$(MAKE) --no-print-directory build
	scripts/demo.sh

clean:
	rm -rf bin
