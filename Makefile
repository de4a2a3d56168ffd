# iraq-transition: every target sets up what it needs, starting from plain Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/iraq-transition
PORT ?= 8001
# The lock pins every runtime, test and build dependency, transitive ones included, with hashes.
LOCK := requirements.lock
UV_VERSION := 0.13.8
# What the build backend needs (pyproject's build-system), locked too so that installing the
# project downloads nothing unpinned.
BUILD_REQUIREMENTS := setuptools>=68

.PHONY: setup chromium lock test-latest validate build generate serve test bench release clean

setup: $(VENV)/.installed

# Exactly the lock, then the project itself without dependencies (and without fetching a
# build backend of its own). The environment starts empty: a package the lock no longer
# holds does not stay installed.
$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Refresh the lock from pyproject.toml's ranges: the newest versions they allow, with hashes.
lock:
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet uv==$(UV_VERSION)
	printf '%s\n' '$(BUILD_REQUIREMENTS)' | $(VENV)-lock/bin/uv pip compile pyproject.toml - \
	  --extra test --generate-hashes --python-version 3.11 --upgrade --quiet \
	  --custom-compile-command 'make lock' -o $(LOCK)

# The whole suite on the newest releases pyproject.toml's ranges allow, not the lock: an
# upstream release that breaks the project shows here before the lock is refreshed.
test-latest: chromium
	rm -rf $(VENV)-latest
	$(PYTHON) -m venv $(VENV)-latest
	$(VENV)-latest/bin/python -m pip install --quiet --upgrade -e '.[test]'
	$(VENV)-latest/bin/pytest

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

# A data release, from a clean work tree: `make release` with VERSION=2026.12.0 (DATE=YYYY-MM-DD, else today; both
# reach the command as environment variables, never pasted into the script) bumps the version, writes its changelog section, regenerates, builds, checks, then commits and tags it here (nothing pushed).
release: setup
	@test -n "$$VERSION" || { echo 'say which version: VERSION=YEAR.MONTH.N (such as 2026.12.0)' >&2; exit 2; }
	$(CLI) release "$$VERSION" $${DATE:+--date "$$DATE"}

# The build, and this checkout's cache of validation and of the rows its builds made (kept outside the work tree:
# see cache_home.py and store.py).
clean:
	rm -rf build .cache
	@if [ -x $(BIN)/python ]; then $(BIN)/python -c 'import pathlib, shutil; \
	  from iraq_transition.cache_home import cache_directory; \
	  directory = cache_directory(pathlib.Path(".")); \
	  directory and shutil.rmtree(directory, ignore_errors=True)'; fi
