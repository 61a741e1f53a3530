# One command sets up, one command checks everything; CI runs `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint typecheck pytest bench system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[reports,notebooks,dev]'
	# A Jupyter kernel named python3 inside .venv, for Jupyter/VS Code on notebooks/
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name 'Python 3 (parcelproof)' >/dev/null
	touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/parcelproof demo

lint: install
	$(BIN)/ruff check collector analysis tests
	$(BIN)/ruff format --check collector analysis tests

typecheck: install
	$(BIN)/mypy

pytest: install system-deps
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# The inner loop: no browser, no PDF, no notebooks, nothing marked slow (see the README
# for both timings). `make test` is still the whole suite, and what CI runs.
FAST_MARKERS := not slow and not browser and not pdf and not notebooks
test-fast: install
	$(BIN)/python -m pytest -q -m "$(FAST_MARKERS)"

bench: install
	$(BIN)/python tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
