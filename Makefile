# The two set-up commands the README promises: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888

.PHONY: lab test lint format pytest nbval notebooks benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/kube-teach lab --port $(PORT)

test: $(STAMP) lint pytest nbval

lint: $(STAMP)
	$(BIN)/ruff check kube_teach tests benchmarks tools
	$(BIN)/ruff format --check kube_teach tests benchmarks tools

format: $(STAMP)
	$(BIN)/ruff check --fix kube_teach tests benchmarks tools
	$(BIN)/ruff format kube_teach tests benchmarks tools

# The library's tests are CPU-bound simulations: one worker per core (CI has two).
pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n auto tests

# Strict nbval: every stored output of every chapter, learner and solved, is compared.
nbval: $(STAMP)
	$(BIN)/python tools/notebooks.py check
	MPLBACKEND=module://matplotlib_inline.backend_inline PYDEVD_DISABLE_FILE_VALIDATION=1 \
	  $(BIN)/python -m pytest -q -p no:randomly --nbval --nbval-cell-timeout=60 \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -n auto --dist loadfile notebooks solutions

# Re-execute the chapters (solutions are the source; learner versions are derived from them).
notebooks: $(STAMP)
	$(BIN)/python tools/notebooks.py build

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/sim_kernel.py

clean:
	rm -rf $(VENV) build *.egg-info
