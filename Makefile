# gopilot — two commands: `make demo` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN ?= $(CURDIR)/bin

.PHONY: all build demo test deps vet unit e2e bench fuzz clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/pilot ./cmd/pilot
	$(GO) build -o $(BIN)/pandalite ./cmd/pandalite

## demo: build, start pandalite with three example jobs, run one pilot, show the server's view.
demo: build
	BIN=$(BIN) scripts/demo.sh

## deps: install the Debian packages the tests need (idempotent; apt-get update first).
deps:
	scripts/install-test-deps.sh

vet:
	$(GO) vet ./...

## test: every test: vet, unit tests with the race detector, and end-to-end tests of the built binaries.
test: deps build vet
	GOPILOT_BIN=$(BIN) $(GO) test -race -timeout 18m ./...

## bench: performance tables (not part of make test).
bench: build
	BIN=$(BIN) scripts/bench.sh

## fuzz: run every fuzz target for a short while (FUZZTIME, default 15s each).
fuzz:
	scripts/fuzz.sh

clean:
	rm -rf $(BIN)
