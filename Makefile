# One command each: `make test` and (from the gRPC issue on) `make serve` bootstrap everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup test lint conformance bench clean proto serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check sidecar clients tests bench
	$(BIN)/ruff format --check sidecar clients tests bench
	$(BIN)/mypy sidecar clients/python/iam_sidecar_client

test: setup lint
	$(BIN)/python -m pytest -q

conformance: setup
	$(BIN)/iam-sidecar test tests/conformance/

bench: setup
	$(BIN)/python bench/run.py --out docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# Generated code is committed; tests/api/test_generated.py fails when it is stale.
PROTOS := $(wildcard proto/sidecar/api/v1/*.proto)
proto: setup
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)

# Bootstraps the environment, then serves examples/snapshot.json and prints how to call it.
serve: setup
	BIN=$(BIN) sh examples/serve.sh
