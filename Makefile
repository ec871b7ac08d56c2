# Two entry points (see README): `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test browser bench lint plots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/raftsim

test: $(STAMP) browser
	$(BIN)/ruff check sim tests
	$(BIN)/python -m pytest -n 2 -q

# Debian's chromium and chromium-driver, for the HTML timeline's browser tests (quick when already installed).
browser:
	bash .ci/install-browser

bench: $(STAMP)
	$(BIN)/raftsim bench

# Rewrites the committed results in plots/ (a plain `raftsim experiment figure16` writes figure16-results/ instead);
# tests/test_figure16.py checks that they match what the simulator gives now.
plots: $(STAMP) plots/timeline-html.png
	$(BIN)/raftsim run scenarios/leader-crash.toml --plot plots/timeline.png --quiet
	$(BIN)/raftsim experiment figure16 --out plots/
	$(BIN)/raftsim experiment figure16 --out plots/ --broadcast network

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis fuzz-failures figure16-results

# The interactive timeline of the default scenario, as the README shows it: the new leader's election after the
# crash, server 3's state selected (Chromium: make browser).
.PHONY: plots/timeline-html.png
plots/timeline-html.png: $(STAMP) browser
	tmp=$$(mktemp -d) && $(BIN)/raftsim run scenarios/leader-crash.toml --html $$tmp/timeline.html --quiet && \
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1500,950 \
	    --screenshot=$(CURDIR)/plots/timeline-html.png "file://$$tmp/timeline.html#from=940&to=1420&at=1352&server=3" \
	    2>/dev/null; status=$$?; rm -rf $$tmp; exit $$status

