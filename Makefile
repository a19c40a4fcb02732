# Everything a fresh clone needs: `make demo` and `make test` create the virtual environments themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A Python that runs (a pyenv shim of a version that is not selected does not).
find_python = $(firstword $(foreach p,$(1),$(shell $(p) -c 'import sys' >/dev/null 2>&1 && echo $(p))))
PYTHON      ?= $(call find_python,python3.11 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) python3)
VENV        ?= .venv
ANSIBLE_CORE ?= ansible-core>=2.19,<2.20
# The newest ansible-core runs on the newest Python; pyenv on these machines has 3.13.
PYTHON_NEWEST ?= $(call find_python,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13))
VENV_NEWEST ?= .venv-newest
ANSIBLE_CORE_NEWEST ?= ansible-core

MODEL       ?= tools/hvsim/models/demo.yml
LAB_DIR     ?= .hvsim
COLLECTION_LINK := .collections/ansible_collections/hyperv/backup

export PYTHONPATH := $(CURDIR)/tools
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv venv-newest collection browser test test-unit test-integration test-ps test-newest demo lab lab-down bench lint docs clean

help:
	@echo "make demo        audit, converge, audit a simulated 3-node Hyper-V cluster; prints where the reports are and the findings before and after"
	@echo "make test        every test: unit, integration against hvsim, PowerShell parse check, docs lint, on ansible-core 2.19/Python 3.11 and the newest ansible-core/Python 3.13"
	@echo "make lab         start hvsim in the background (MODEL=<file>), inventory in $(LAB_DIR)/inventory.yml"
	@echo "make lab-down    stop it"
	@echo "make bench       benchmarks (tests/bench/README.md)"

$(VENV)/.stamp: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q '$(ANSIBLE_CORE)' -r requirements.txt -r tests/requirements.txt
	touch $@

$(VENV_NEWEST)/.stamp: requirements.txt tests/requirements.txt
	$(PYTHON_NEWEST) -m venv $(VENV_NEWEST)
	$(VENV_NEWEST)/bin/pip install -q --upgrade pip
	$(VENV_NEWEST)/bin/pip install -q '$(ANSIBLE_CORE_NEWEST)' -r requirements.txt -r tests/requirements.txt
	touch $@

venv: $(VENV)/.stamp collection
venv-newest: $(VENV_NEWEST)/.stamp collection

# Ansible finds the collection through ansible.cfg's collections_path; this checkout is linked into it.
collection: $(COLLECTION_LINK)
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# The integration tests render the HTML report in a real headless browser: Debian's chromium, installed
# when missing (as root, or through sudo).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (the HTML report's browser test needs it)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }

test: venv browser
	$(MAKE) --no-print-directory _suite VENV_USED=$(VENV)
	@if [ -n "$(PYTHON_NEWEST)" ]; then $(MAKE) --no-print-directory test-newest; \
	 else echo "python3.13 not found: the newest-ansible pass is skipped"; fi

test-newest: venv-newest browser
	$(MAKE) --no-print-directory _suite VENV_USED=$(VENV_NEWEST)

_suite:
	@echo "== $$($(VENV_USED)/bin/ansible --version | head -n 1) on $$($(VENV_USED)/bin/python --version)"
	PATH=$(CURDIR)/$(VENV_USED)/bin:$$PATH $(VENV_USED)/bin/python -m pytest -q tests/unit tests/hvsim tests/integration tests/sanity

test-unit: venv
	$(VENV)/bin/python -m pytest -q tests/unit tests/hvsim tests/sanity

test-integration: venv browser
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m pytest -q tests/integration

test-ps: venv
	$(VENV)/bin/python -m pytest -q tests/sanity

demo: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m hvsim demo --model $(MODEL)

# How messages tell the user to stop the lab: this Makefile's command, with LAB_DIR when it is not the default.
LAB_DOWN := make lab-down$(if $(filter-out .hvsim,$(LAB_DIR)), LAB_DIR=$(LAB_DIR))

lab: venv
	@$(VENV)/bin/python -m hvsim start --model $(MODEL) --dir $(LAB_DIR) --stop-command '$(LAB_DOWN)' >/dev/null
	@echo "hvsim runs the cluster of $(MODEL); inventory: $(LAB_DIR)/inventory.yml (group hv)"
	@echo "try:  $(VENV)/bin/ansible -i $(LAB_DIR)/inventory.yml hv -m hyperv.backup.host_facts -a gather_subset=vms"
	@echo "stop: $(LAB_DOWN)"

lab-down:
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python -m hvsim stop --dir $(LAB_DIR); \
	 else rm -f $(LAB_DIR)/inventory.yml $(LAB_DIR)/hvsim.json; fi

bench: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python tests/bench/run.py

clean: lab-down
	rm -rf $(VENV) $(VENV_NEWEST) .collections $(LAB_DIR) .pytest_cache
