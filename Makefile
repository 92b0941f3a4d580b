# linerate: the README's two commands are `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
# Tiers that run here and in CI (board runs on real hardware: see README).
TIERS ?= unit or host

.PHONY: all deps run test lint slhttpd clean

all: slhttpd

deps:
	@./scripts/deps.sh

slhttpd:
	$(MAKE) -C slhttpd

lint: deps
	$(VENV)/bin/ruff check linerate tests slhttpd bench
	$(VENV)/bin/ruff format --check linerate tests slhttpd bench
	$(VENV)/bin/mypy linerate

test: deps slhttpd lint
	$(PYTEST) -m "$(TIERS)" tests

run: deps slhttpd
	$(PY) -m linerate serve --demo

clean:
	$(MAKE) -C slhttpd clean
	rm -rf build artifacts
