# Two entry points (see README): `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.colsim-installed

.PHONY: demo test full-test lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned to the CPU build (constraints.txt), so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/colsim demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

full-test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest --full

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build sim_build .pytest_cache .ruff_cache
