# Two entry points, both from a fresh clone: `make demo` (the main job) and `make test`.
# torch is installed first, pinned, so that the project's looser range does not pull a CUDA build.
VENV ?= .venv
PY := $(VENV)/bin/python
IG := $(VENV)/bin/interestgraph
TORCH_SPEC ?= torch==2.13.0
DATASET ?= online-retail
export INTERESTGRAPH_DATASETS_DIR ?= $(abspath ../shared/datasets)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(IG) demo $(DATASET)

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/ingest.py

clean:
	-$(IG) server stop
	rm -rf $(VENV) .interestgraph
