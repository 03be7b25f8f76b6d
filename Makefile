# Developer entry points. `make setup` is idempotent and fast once done.
SHELL := /bin/bash
.DEFAULT_GOAL := setup

VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
# Reinstall the package only when pyproject.toml is newer than this stamp.
PIP_STAMP := $(VENV)/.pip-install.stamp
SYSTEM_STAMP := var/.system-packages.stamp
PYTEST_ARGS ?=

# First python >= 3.11 on PATH; evaluated only when the venv must be created.
PYTHON ?= $(firstword $(foreach p,python3 python3.13 python3.12 python3.11,\
	$(if $(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo ok),$(p))))

.PHONY: setup services asterisk demo test audit clean

setup: $(SYSTEM_STAMP) $(PIP_STAMP) services asterisk

# Runs before the venv is created: on Debian, python3-venv may be among the packages.
$(SYSTEM_STAMP): scripts/install_system_packages.sh
	@scripts/install_system_packages.sh --stamp $@

$(VENV_PYTHON): | $(SYSTEM_STAMP)
	@test -n "$(PYTHON)" || { echo "setup: need python >= 3.11 (python3) on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(PIP_STAMP): pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

services: $(SYSTEM_STAMP)
	@scripts/ensure_services.sh

# The prebuilt Asterisk from ../shared/asterisk/ into var/asterisk/ (tests run it), when it is there.
asterisk:
	@scripts/install_asterisk.sh

demo: setup
	$(VENV)/bin/robocall demo

test: setup
	scripts/run_tests.sh $(PYTEST_ARGS)

# Known vulnerabilities of the installed dependencies (pip-audit; docs/reliability.md). --strict: a package
# that could not be checked fails the audit, instead of the run saying "No known vulnerabilities found".
audit: $(PIP_STAMP)
	$(VENV)/bin/pip-audit --strict --skip-editable --progress-spinner off

clean:
	rm -rf var/ .pytest_cache/ .hypothesis/ build/ *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
