# Two commands: `make run` and `make test`. Both build .venv from nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# An older SDK that still sends JSON bodies; the e2e tests drive vidgate with it too.
OPENAI_LEGACY := 2.26.0
# The diffusers engine's tests run tiny models on the CPU. Pinned: this release's CPU
# build is what these machines hold; an unpinned torch is a multi-GB CUDA download.
TORCH_CPU := 2.13.0

.PHONY: run test lint bench venv clean

$(BIN)/vidgate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --target $(VENV)/openai-legacy openai==$(OPENAI_LEGACY)
	touch $@

# torch and diffusers only for the tests (and operators who ask for vidgate[local]):
# `make run` stays a light install.
$(VENV)/.local-engines: $(BIN)/vidgate
	$(BIN)/pip install --quiet torch==$(TORCH_CPU)
	$(BIN)/pip install --quiet -e '.[dev,local]'
	touch $@

venv: $(BIN)/vidgate

run: venv
	$(BIN)/vidgate serve --data-dir .vidgate --local-key

test: venv $(VENV)/.local-engines
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: venv $(VENV)/.local-engines
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .vidgate .pytest_cache .mypy_cache .ruff_cache
