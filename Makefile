# Two entry points (see README): `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint plots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/raftsim

test: $(STAMP)
	$(BIN)/ruff check sim tests
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/raftsim bench

# Rewrites the committed results in plots/ (a plain `raftsim experiment figure16` writes figure16-results/ instead);
# tests/test_figure16.py checks that they match what the simulator gives now.
plots: $(STAMP)
	$(BIN)/raftsim run scenarios/leader-crash.toml --plot plots/timeline.png --quiet
	$(BIN)/raftsim experiment figure16 --out plots/
	$(BIN)/raftsim experiment figure16 --out plots/ --broadcast network

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis fuzz-failures figure16-results
