# The two set-up commands of the README: `make up` (the whole pipeline on a local
# stack with the sample corpus) and `make test`. Both create the virtual
# environment and install canyu first; the stack needs Java 17+ and nothing else.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up test stack-down

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "canyu needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

up: $(BIN)/.installed
	$(BIN)/canyu up

test: $(BIN)/.installed
	$(BIN)/canyu stack up
	$(BIN)/pytest -ra; status=$$?; $(BIN)/canyu stack down; exit $$status

stack-down: $(BIN)/.installed
	$(BIN)/canyu stack down
