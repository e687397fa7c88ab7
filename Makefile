# liveavatar.rollout: `make demo` sets everything up and runs the main job on the lab; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
COLLECTION_LINK := .collections/ansible_collections/liveavatar/rollout
REQ_STAMP := $(VENV)/.req-$(shell sha256sum requirements.txt | cut -c1-12)

.PHONY: help workload-images venv engine images lab-up provision demo status lab-down lint build unit molecule integration sanity test bench clean

help:
	@echo "make demo   # venv, engine, images, lab up, provision, service images, bootstrap v1.0, rollout v1.1, status"
	@echo "make test   # lint, collection build, sanity, unit tests, molecule scenarios, lab integration tests"
	@echo "make lab-down  # remove everything labelled as the lab"

$(REQ_STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.req-* && touch $@

$(COLLECTION_LINK):
	@mkdir -p $(dir $@) && ln -sfn ../../.. $@

venv: $(REQ_STAMP) $(COLLECTION_LINK)

engine:
	@scripts/docker-engine.sh

images: engine
	@lab/images/build.sh

lab-up: venv images
	ansible-playbook playbooks/lab.yml

provision: lab-up
	ansible-playbook playbooks/provision.yml

status: venv
	@$(BIN)/python scripts/lab_status.py

# The stand-in service, one image per version, pushed to the lab registry (GPUs simulated).
LAB_REGISTRY_PUSH ?= 127.0.0.1:15000
workload-images: images
	lab/workload/build.sh --push $(LAB_REGISTRY_PUSH)

# The main job on the lab: a fresh fleet on v1.0, then the gated release of v1.1.
demo: provision workload-images
	ansible-playbook playbooks/lab_reset_fleet.yml
	ansible-playbook playbooks/bootstrap.yml -e version=v1.0
	ansible-playbook playbooks/rollout.yml -e version=v1.1
	@$(BIN)/python scripts/lab_status.py

lab-down: venv
	ansible-playbook playbooks/lab_destroy.yml

lint: venv
	ruff check .
	ruff format --check .
	ansible-lint --nocolor -q

build: venv
	@mkdir -p build && rm -f build/liveavatar-rollout-*.tar.gz
	ansible-galaxy collection build --force --output-path build/ .

unit: venv
	pytest -q tests/unit

sanity: venv
	@command -v shellcheck >/dev/null || { [ "$$(id -u)" -ne 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; }
	scripts/sanity.sh

# The GPU-host roles on the lab's Debian 12 systemd image (extensions/molecule; no GPU here, named in each scenario).
MOLECULE_SCENARIOS := nvidia_driver_default nvidia_driver_cuda_repo nvidia_container_toolkit_default gpu_isolation_default gpu_isolation_mps observability_agents
molecule: venv images
	for scenario in $(MOLECULE_SCENARIOS); do molecule test -s $$scenario; done

integration: venv images
	@# ssh: a GPU node the rollback cannot reach is simulated by an SSH port nobody listens on.
	@command -v ssh >/dev/null || { [ "$$(id -u)" -ne 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >/dev/null; }
	pytest -q -x --durations=0 tests/integration

test: lint build sanity unit molecule integration

clean: lab-down
	rm -rf build reports .pytest_cache .ruff_cache
