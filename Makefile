# `make demo`: set everything up and show the whole flow against a local AWS stand-in.
# `make test`: run the test suite. Both need only Python 3.9+ and make.
# `make test PYTHON=python3.9`: the same on another interpreter, in a virtualenv of its own
# (.venv-3.9), so that several Pythons can be tested side by side.
PYTHON ?= python3
ifeq ($(PYTHON),python3)
VENV := .venv
else
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYTHON_VERSION),)
$(error $(PYTHON) does not run here; with pyenv, name the interpreter itself: PYTHON=$$(pyenv root)/versions/3.9.18/bin/python3.9)
endif
VENV := .venv-$(PYTHON_VERSION)
endif
BIN := $(VENV)/bin
SOURCES := pyproject.toml $(shell find src -name "*.py") cli-alias/alias
# Exact versions of the lint, test and packaging tools (pyproject.toml keeps ranges): every pip
# install here uses them, the isolated build of the package included (PIP_CONSTRAINT).
CONSTRAINTS := $(CURDIR)/constraints/dev.txt
PIP_INSTALL := PIP_CONSTRAINT=$(CONSTRAINTS) $(BIN)/python -m pip install --quiet
# Tests run in parallel, a bed (HOME, stand-in, port) each. Most of their time is spent waiting
# for processes, so more workers than the machine's 2 cores still shortens the run. Tests last
# from a tenth of a second to tens of seconds: an idle worker takes tests queued for a busy one
# (worksteal), so that the run does not end on one worker's queue of long tests.
TEST_WORKERS ?= 6
TEST_ARGS ?=
# Every worker collects the whole suite, rewriting the asserts of every test module (and of
# hypothesis, a pytest plugin): 4 s of CPU each without a bytecode cache, 1 s with one. So the
# suite keeps its cache (tests/__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE
# is set.
TEST_BYTECODE := PYTHONDONTWRITEBYTECODE=
# The JavaScript SDK v3 that tests/server/test_server.py drives, as locked; only where node and npm are.
NODE_MODULES := $(if $(shell command -v node 2>/dev/null),$(if $(shell command -v npm 2>/dev/null),tests/js/node_modules/.package-lock.json))
# The other SDKs tests/run/test_sdks.py drives, each only where its tools are (.ci/run installs them):
# the Go SDK v2 program, built offline from Debian's golang-go and SDK; a current AWS CLI v2,
# unpacked from the Lambda layer that an npm package ships.
GO_SDK := /usr/share/gocode/src/github.com/aws/aws-sdk-go-v2
GO_PROGRAM := $(if $(shell command -v go 2>/dev/null),$(if $(wildcard $(GO_SDK)),tests/sdk/loop-go))
AWSCLI_V2 := $(if $(NODE_MODULES),$(if $(shell command -v unzip 2>/dev/null),tests/sdk/awscli-v2/.unpacked))

.PHONY: demo test lint bench install clean

demo: $(VENV)/.installed
	$(BIN)/python tools/demo.py

# AWS_MFA_RUN_TRIALS sets the SIGKILL trials per file of the crash tests (default 50; CI: 200).
test: $(VENV)/.installed $(NODE_MODULES) $(GO_PROGRAM) $(AWSCLI_V2)
	$(TEST_BYTECODE) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(TEST_ARGS)

# Not part of the suite: prints medians and ratios measured in one run (BENCH_ARGS=--json FILE).
bench: $(VENV)/.installed
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools
	$(BIN)/mypy
	# The layers written in pyproject.toml, checked on the source tree (not the installed copy).
	PYTHONPATH=src $(BIN)/lint-imports --no-cache

install: $(VENV)/.installed

tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error

tests/sdk/loop-go: tests/sdk/loop.go
	GO111MODULE=off GOPATH=/usr/share/gocode go build -o $@ $<

# Only the CLI is kept (250 MB unpacked), not the 70 MB zip it came in.
tests/sdk/awscli-v2/.unpacked: tests/sdk/awscli-v2/package-lock.json
	cd tests/sdk/awscli-v2 && rm -rf awscli && npm ci --no-audit --no-fund --loglevel=error \
	    && unzip -q node_modules/@aws-cdk/asset-awscli-v2/lib/layer.zip 'awscli/v2/*' \
	    && rm -rf node_modules
	touch $@

# The test extras (awscli, pexpect, pyotp, pytest, ruff, ...) at the versions of the constraints
# file, once per change of pyproject.toml or of the constraints.
$(VENV)/.dependencies: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP_INSTALL) -c $(CONSTRAINTS) '.[test]'
	touch $@

# The package itself, installed (not editable) so that tests run the real console script.
$(VENV)/.installed: $(VENV)/.dependencies $(SOURCES)
	$(PIP_INSTALL) --no-deps --force-reinstall .
	touch $@

clean:
	rm -rf .venv .venv-* build dist
