# iraq-transition: every target sets up what it needs, starting from plain Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/iraq-transition
PORT ?= 8001

.PHONY: setup chromium validate build generate serve test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Debian's chromium, for the browser tests (root, or sudo, needed once).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

validate: setup
	$(CLI) validate

build: setup
	$(CLI) build

# Regenerate the committed files derived from the models.
generate: setup
	$(CLI) generate

serve: setup
	$(CLI) serve --port $(PORT)

test: setup chromium
	$(BIN)/pytest

bench: setup
	$(BIN)/python scripts/bench.py

clean:
	rm -rf build .cache
