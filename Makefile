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

.PHONY: install system-tools demo test test-parallel lint bench clean neo4j neo4j-stop neo4j-build kafka kafka-stop kafka-build

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(IG) demo $(DATASET)

# System tools some tests use: Debian's chromium (the dashboard and Neo4j Browser tests drive it),
# docker-compose (validates docker-compose.yml; no engine needed), and Java 17 + Maven (they build
# tools/neo4j-test-server, the Neo4j the tests run on). Installed where we may (root with apt).
system-tools:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	      || echo "could not install$$missing"; \
	  else echo "$$missing not installed"; fi; \
	fi

# The whole suite on both graph backends: the session starts a throw-away Neo4j (unless NEO4J_URI
# names one, whose graph the tests then clear) and, for the `kafka` tests, a throw-away Kafka
# (unless KAFKA_BOOTSTRAP names one), and stops them at the end, also on failure.
test: install system-tools neo4j-build kafka-build
	$(PY) -m pytest --durations=10

# The same suite as two processes side by side, the Neo4j half and the embedded half
# (tools/test-suite): for machines with more than 2 cores (on 2 it gains ~17%, 19 -> 16 min).
test-parallel: install system-tools neo4j-build kafka-build
	PY=$(PY) tools/test-suite

# ruff over the code and tests, mypy over both packages.
lint: install
	$(VENV)/bin/ruff check platform workers tests benchmarks
	$(VENV)/bin/mypy platform/interest_graph workers/interest_workers

# The development Neo4j (5.26 Community from Maven Central, loopback, auth on): built on first use.
# `eval "$$(make -s neo4j)"` sets NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD in the shell.
NEO4J_SERVER := tools/neo4j-test-server/neo4j-server

neo4j:
	@$(NEO4J_SERVER) start

neo4j-stop:
	@$(NEO4J_SERVER) stop

neo4j-build:
	@$(NEO4J_SERVER) build

# The development Kafka (Apache Kafka 4 from Maven Central, KRaft, one node, loopback, no auth):
# built on first use. `eval "$$(make -s kafka)"` sets KAFKA_BOOTSTRAP in the shell.
KAFKA_SERVER := tools/kafka-test-server/kafka-server

kafka:
	@$(KAFKA_SERVER) start

kafka-stop:
	@$(KAFKA_SERVER) stop

kafka-build:
	@$(KAFKA_SERVER) build

bench: install
	$(PY) benchmarks/ingest.py

clean:
	-$(IG) server stop
	-$(NEO4J_SERVER) stop
	-$(KAFKA_SERVER) stop
	rm -rf $(VENV) .interestgraph
