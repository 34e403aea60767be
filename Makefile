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

.PHONY: install browser demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(IG) demo $(DATASET)

# The dashboard test drives Debian's chromium; install it where we may (root with apt), else the
# test skips with its reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the dashboard browser test will be skipped"; }

test: install browser
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/ingest.py

clean:
	-$(IG) server stop
	rm -rf $(VENV) .interestgraph
