# Two entry points for people (README): `make demo` and `make test`.
# Everything they need is installed here, idempotently, into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test emulator bench clean frontend wheel browser soak

# Frontend (labextension/ -> jupyter_drive_sync/labextension): built by jlpm from jupyter-builder.
# `pip install -e` runs the hatch build hook (only when the sources changed); the prebuilt copy
# it puts in the venv is then replaced by a link so `make frontend` rebuilds are live. The
# classic nbextension is copied (nbclassic refuses symlinks leaving its static dir): `make frontend`.
LABEXT_DEST := $(VENV)/share/jupyter/labextensions/jupyter-drive-sync
NBEXT_DEST := $(VENV)/share/jupyter/nbextensions/jupyter_drive_sync
JLPM := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jlpm
# Browser for the UI tests (tests/ui): Debian's chromium, never a Playwright download.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml package.json
	$(BIN)/python -m pip install --quiet -e ".[test]"
	mkdir -p $(dir $(LABEXT_DEST)) && rm -rf $(LABEXT_DEST) && ln -s $(CURDIR)/jupyter_drive_sync/labextension $(LABEXT_DEST)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/jupyter-drive-sync demo

emulator: install
	$(BIN)/jupyter-drive-sync emulator --port 8765

# Layers first (import-linter, contracts in pyproject.toml), then the frontend's unit tests, then pytest.
# `jlpm install` also brings configurable-http-proxy (a devDependency) for the real JupyterHub of
# tests/jupyterhub; `jupyterhub` itself comes with the `test` extra.
test: install browser
	$(BIN)/lint-imports --no-cache
	$(JLPM) install --immutable && $(JLPM) test
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# The reliability suite at its long counts (50 fault seeds, 30 kills, 50,000 files...) and the
# lifecycle model at thousands of sequences (-s prints its examples and operations; each failing
# example's steps and traceback go to build/lifecycle-failures.log as it fails): not in CI.
soak: install
	DRIVE_SYNC_SOAK=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/reliability
	mkdir -p build && DRIVE_SYNC_SOAK=1 LIFECYCLE_FAILURE_LOG=$(CURDIR)/build/lifecycle-failures.log \
	  $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/lifecycle/test_lifecycle_model.py
	DRIVE_SYNC_SOAK=1 $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/hub/test_hub_nights_model.py
	DRIVE_SYNC_SOAK=1 $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/emulator/test_oauth_model.py

# Every bench/ script in turn, against `emulator --profile google` (Google's write rate, quotas and
# round trips; ~15 minutes on 2 cores); JSON in build/bench/, report in docs/PERFORMANCE.md.
bench: install
	$(BIN)/python bench/report.py

frontend: install
	$(JLPM) install
	$(JLPM) build:prod
	rm -rf $(NBEXT_DEST) && cp -r jupyter_drive_sync/nbextension/static $(NBEXT_DEST)

wheel: install
	$(BIN)/python -m build --wheel --outdir dist .

# Debian packages the tests use: chromium (UI tests) and curl (the emulator's admin contract).
$(CHROMIUM) /usr/bin/curl:
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium curl \
	  || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium curl; }

browser: $(CHROMIUM) /usr/bin/curl

clean:
	rm -rf $(VENV) build dist *.egg-info node_modules .yarn/cache labextension/lib tsconfig.tsbuildinfo jupyter_drive_sync/labextension
