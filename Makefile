# stackyard: `make up` brings the stack up, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Caches live outside the clone so a fresh clone reuses them; all are safe to delete.
export STACKYARD_CACHE ?= $(HOME)/.cache/stackyard
# STACKYARD_DEPLOY_ONLY=1: only what deploying to an inventory needs (requirements/deploy.txt).
REQS := requirements/$(if $(filter 1,$(STACKYARD_DEPLOY_ONLY)),deploy,dev).txt
REQS_HASH := $(shell sha1sum < $(REQS) | cut -c1-12)
# Third-party packages: one cached venv per requirements set, shared by every clone.
VENV ?= $(STACKYARD_CACHE)/venv-$(REQS_HASH)
# This clone's own venv on top of it: imports this clone's src/ (scripts/clone-venv.sh).
BIN := $(CURDIR)/.venv/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

INVENTORY ?= inventories/containers
ROLES_WITH_SCENARIOS := $(patsubst roles/%/molecule/default/molecule.yml,%,$(wildcard roles/*/molecule/default/molecule.yml))
PYTEST_ARGS ?=
# pytest-xdist workers: molecule scenarios wait on systemd, apt and the network as much as
# they compute, so a few run side by side on two cores (docs/testing.md has the timings).
TEST_WORKERS ?= 3

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: host
host:  ## install OS packages and start the Docker engine (root, idempotent)
	scripts/bootstrap-host.sh

# The venv's name carries the requirements' hash, so the marker alone says it is complete
# (file times differ between clones). flock: clones making it at once wait for each other.
$(VENV)/.installed:
	mkdir -p $(STACKYARD_CACHE)
	flock $(STACKYARD_CACHE)/.venv.lock bash -euc '\
	  [[ -f $@ ]] && exit 0; \
	  rm -rf $(VENV) && python3 -m venv $(VENV); \
	  $(VENV)/bin/pip install --quiet -r $(REQS); \
	  touch $@'
	@# venvs no clone has used for two weeks are dead weight
	find $(STACKYARD_CACHE) -mindepth 2 -maxdepth 2 -path '*/venv-*/.used' -mtime +14 -printf '%h\0' | xargs -0r rm -rf

.PHONY: venv
venv: host $(VENV)/.installed  ## create the controller virtualenv (cached by requirements hash)
	scripts/clone-venv.sh $(VENV) .venv
	touch $(VENV)/.used

.PHONY: substrate
substrate: venv  ## build (or confirm) the systemd container image
	ansible-playbook playbooks/substrate.yml

.PHONY: artifacts
artifacts: substrate  ## fill the artifact cache: Kafka, MinIO, Nomad, TimescaleDB, base image (docs/artifacts.md)
	ansible-playbook playbooks/artifacts.yml

.PHONY: up
up: substrate artifacts  ## bring the stack up on $(INVENTORY) (containers by default)
	ansible-playbook -i $(INVENTORY) playbooks/containers.yml
	ansible-playbook -i $(INVENTORY) site.yml
	ansible-playbook -i $(INVENTORY) playbooks/summary.yml

.PHONY: down
down: venv  ## remove the containers the containers inventory created
	ansible-playbook -i inventories/containers playbooks/containers.yml -e containers_state=absent

.PHONY: lint
lint: venv  ## yamllint, ansible-lint (production profile), ruff
	yamllint --strict .
	ansible-lint --profile production
	ruff check .
	ruff format --check .

.PHONY: diagrams
diagrams:  ## render docs/images/*.dot to SVG and PNG (graphviz)
	@for src in docs/images/*.dot; do dot -Tsvg "$$src" -o "$${src%.dot}.svg" && dot -Tpng -Gdpi=110 "$$src" -o "$${src%.dot}.png" && echo "rendered $$src"; done

.PHONY: molecule
molecule: substrate  ## molecule test for every role that has a scenario
	@for role in $(ROLES_WITH_SCENARIOS); do echo "== molecule test: $$role"; (cd roles/$$role && molecule test) || exit 1; done

.PHONY: test
test: lint substrate artifacts  ## lint, then pytest: unit, integration and every role's molecule scenario
	pytest -n $(TEST_WORKERS) --dist loadgroup --durations=8 $(PYTEST_ARGS)
