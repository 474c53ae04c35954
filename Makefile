# Two entry points for people (README): `make demo` and `make test`.
# Everything they need is installed here, idempotently, into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test emulator bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/jupyter-drive-sync demo

emulator: install
	$(BIN)/jupyter-drive-sync emulator --port 8765

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: install
	$(BIN)/python bench/emulator_throughput.py

clean:
	rm -rf $(VENV) build dist *.egg-info
