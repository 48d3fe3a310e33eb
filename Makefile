# Concord's doors. `make run` and `make test` work on a fresh Debian 12 machine as root: each installs
# what is missing (scripts/setup), builds, and does its job.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
DB ?= ./var/concord.db
DEMO_DATA := $(wildcard ../shared/data/attack/*.json) $(wildcard ../shared/data/stix-examples/*.json)

.PHONY: setup build build-dev build-fuzz run test fuzz bench clean

setup:
	@scripts/setup

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-dev: setup
	@cmake --preset dev -DCONCORD_FUZZ_TREE=$(CURDIR)/build/fuzz >/dev/null
	@cmake --build --preset dev -j $(JOBS)

build-fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

# Import the demo data into $(DB), show what the store holds, create a demo administrator and print its
# API key, then serve on https://127.0.0.1:8443/ (self-signed certificate) until Ctrl-C.
run: build
	@scripts/run-demo build/release/src/node/concord $(DB) $(DEMO_DATA)

# Unit, golden and integration tests (ASan+UBSan build), short fuzz runs and benchmark smoke runs: all
# registered with CTest, so its summary is the last word.
test: build-fuzz build-dev
	@TZ=UTC ctest --preset dev

fuzz: build-fuzz
	@for t in object pattern taxii_query http_request log_reader packed_ids audit_block audit_entry_file; do \
	  scripts/fuzz-smoke build/fuzz/tests/fuzz/$${t}_fuzz tests/fuzz/corpus/$$t $${FUZZ_SECONDS:-300} || exit 1; done

# Full-size benchmarks on the release build; figures go to docs/benchmarks.md by hand, with the command.
bench: build
	@scripts/bench build/release

clean:
	rm -rf build
