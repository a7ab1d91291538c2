# The README's two commands: `make run` starts everything, `make test` tests everything.
# Needs only Python 3.12+ and make; everything else is installed into .venv from uv.lock.

SHELL := /bin/sh
UV_VERSION := 0.13.9
VENV := .venv
TOOLS := .tools
STAMP := $(VENV)/.bibid-synced
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: run test lint install clean bench cluster

run: $(STAMP)
	$(VENV)/bin/bibid up

test: $(STAMP) lint
	$(VENV)/bin/python tests/run.py

# The production topology on this machine (nginx, PostgreSQL, Redis from Debian's packages;
# README, "The production topology on one machine").
cluster: $(STAMP)
	$(VENV)/bin/bibid cluster up

lint: $(STAMP)
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports

install: $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/python bench/login.py

# uv itself lives in its own small venv, so that `uv sync` can keep .venv exactly as the lock
# file says (it removes whatever the lock does not list).
$(TOOLS)/bin/uv:
	@python=$$(scripts/find-python) && "$$python" -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(STAMP): $(TOOLS)/bin/uv pyproject.toml uv.lock
	@python=$$(scripts/find-python) && $(TOOLS)/bin/uv sync --frozen --python "$$python"
	@touch $@

clean:
	rm -rf $(VENV) $(TOOLS)
