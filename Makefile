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

.PHONY: help venv venv-newest collection browser test test-unit test-integration test-ps test-newest gates lint docs changelog demo lab lab-down bench bench-baseline bench-full clean

help:
	@echo "make demo        audit, converge, audit a simulated 3-node Hyper-V cluster; prints where the reports are and the findings before and after"
	@echo "make test        every test: unit, integration against hvsim, PowerShell parse check, docs lint, the ecosystem gates (docs/quality-gates.md), on ansible-core 2.19/Python 3.11 and the newest ansible-core/Python 3.13"
	@echo "make gates       the ecosystem gates only: ansible-test sanity, ansible-lint, the built and installed artifact, docs site, changelog, execution environment"
	@echo "make lint        ansible-lint (production profile) and ansible-test sanity"
	@echo "make docs        the docs site (antsibull-docs + Sphinx) in $(DOCS_DIR)/build/html"
	@echo "make changelog   the release notes the next release would have, in $(CHANGELOG_DIR)"
	@echo "make lab         start hvsim in the background (MODEL=<file>), inventory in $(LAB_DIR)/inventory.yml"
	@echo "make lab-down    stop it"
	@echo "make bench       benchmarks at small sizes, a few minutes (tests/bench/README.md; BENCH_ARGS='--help' lists the sizes)"
	@echo "make bench-baseline BENCH_ARGS='...'   the whole baseline against hvsim: round trips, per-VM comparison, 16-node cluster"
	@echo "make bench-full  every size of tests/bench/README.md, with the hosts' module-run cost at 0 and 1000 ms (over 2 hours)"

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

# The ecosystem gates (tests/sanity/test_gate_*.py, marker `gate`): CI has 90 minutes on 2 cores for both passes,
# so the heavy ones (marker `pinned_gate`: ansible-test sanity, ansible-lint, the docs site, ansible-builder; about
# 2.5 minutes together) run once, in the pinned ansible-core 2.19 pass. Their verdict is the tool's (ansible-test's
# rules, ansible-lint's rules, Sphinx), not the ansible-core's the pass is about; what depends on that ansible-core
# runs in both passes: the artifact built, installed, listed by ansible-doc and run from there, the changelog, the
# docs lint (test_docs_lint.py), every role and playbook against hvsim. docs/quality-gates.md has each gate's time.
test: venv browser
	$(MAKE) --no-print-directory _suite VENV_USED=$(VENV)
	@if [ -n "$(PYTHON_NEWEST)" ]; then $(MAKE) --no-print-directory test-newest; \
	 else echo "python3.13 not found: the newest-ansible pass is skipped"; fi

test-newest: venv-newest browser
	$(MAKE) --no-print-directory _suite VENV_USED=$(VENV_NEWEST) PYTEST_MARKS='not pinned_gate'

PYTEST_MARKS ?=
_suite:
	@echo "== $$($(VENV_USED)/bin/ansible --version 2>/dev/null | head -n 1) on $$($(VENV_USED)/bin/python --version)"
	PATH=$(CURDIR)/$(VENV_USED)/bin:$$PATH $(VENV_USED)/bin/python -m pytest -q --durations=10 $(if $(PYTEST_MARKS),-m '$(PYTEST_MARKS)') \
	  tests/unit tests/hvsim tests/integration tests/sanity

test-unit: venv
	$(VENV)/bin/python -m pytest -q -m 'not gate' tests/unit tests/hvsim tests/sanity

test-integration: venv browser
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m pytest -q tests/integration

test-ps: venv
	$(VENV)/bin/python -m pytest -q -m 'not gate' tests/sanity

gates: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m pytest -q -m gate tests/sanity

lint: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m pytest -q tests/sanity/test_gate_ansible_lint.py \
	  tests/sanity/test_gate_ansible_test.py

# The docs site and the changelog preview are built by tests/sanity/gatekit.py, which the gates test.
DOCS_DIR      ?= build/docs
CHANGELOG_DIR ?= build/changelog
docs: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m tests.sanity.gatekit docs $(DOCS_DIR)

changelog: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python -m tests.sanity.gatekit changelog $(CHANGELOG_DIR)

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
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python tests/bench/run.py $(BENCH_ARGS)

bench-baseline: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python tests/bench/bench_baseline.py $(BENCH_ARGS)

# Every figure of tests/bench/README.md. The per-VM comparison at 1,000 VMs with a 1 s module-run cost alone
# takes the better part of an hour: its parts can be run one at a time with bench-baseline.
bench-full: venv
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/python tests/bench/run.py --sizes 10,100,1000 \
	  --baseline-round-trips 10,100,1000 --baseline-compare 30,300,1000 --baseline-cluster 16/1000 \
	  --module-run-ms 0,1000

clean: lab-down
	rm -rf $(VENV) $(VENV_NEWEST) .collections $(LAB_DIR) .pytest_cache .cache build
