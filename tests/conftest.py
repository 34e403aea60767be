"""Shared test configuration: where the real datasets live, and which graph backends to run.

Integration tests that take the ``backend`` fixture run once on the embedded FalkorDB and once on
a real Neo4j (``--backend falkordb`` or ``--backend neo4j`` runs one; ``--half neo4j|embedded``
splits the whole suite in two for ``make test-parallel``). Neo4j is the one at
``NEO4J_URI`` (with ``NEO4J_USER``, ``NEO4J_PASSWORD``), else a server this session starts with
``tools/neo4j-test-server`` and stops at its end. Tests marked ``kafka`` take the
``kafka_bootstrap`` fixture: the broker at ``KAFKA_BOOTSTRAP``, else one this session starts with
``tools/kafka-test-server`` (as soon as such a test is collected) and stops at its end.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from interest_graph.settings import REPO_ROOT

from . import kafka_server
from .kafka_server import KafkaToolsMissing, SessionKafka
from .neo4j_server import SessionNeo4j, from_environment

BACKENDS = ("falkordb", "neo4j")
HALVES = ("embedded", "neo4j")
_SESSION_NEO4J = pytest.StashKey[SessionNeo4j]()
_SESSION_KAFKA = pytest.StashKey[SessionKafka]()


def datasets_dir() -> Path:
    return Path(os.environ.get("INTERESTGRAPH_DATASETS_DIR") or REPO_ROOT.parent / "shared" / "datasets")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend", choices=("all", *BACKENDS), default="all",
        help="graph backend(s) for the integration tests: all (default), falkordb or neo4j",
    )
    parser.addoption(
        "--half", choices=HALVES, default=None,
        help="one of two halves that together are the whole suite, for two processes side by "
             "side (make test-parallel): neo4j = the Neo4j runs and the unit tests; embedded = the rest",
    )


def _backend_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("backend") if callspec is not None else None


def _half_of(item: pytest.Item) -> str:
    backend = _backend_of(item)
    if backend == "neo4j" or (backend is None and item.get_closest_marker("neo4j") is not None):
        return "neo4j"
    return "neo4j" if item.get_closest_marker("integration") is None else "embedded"


def _keep(config: pytest.Config, items: list[pytest.Item],
          wanted: Callable[[pytest.Item], bool]) -> None:
    deselected = [i for i in items if not wanted(i)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if wanted(i)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = config.getoption("--backend")
    if backend != "all":
        _keep(config, items, lambda i: _backend_of(i) in (None, backend))
    half = config.getoption("--half")
    if half is not None:
        _keep(config, items, lambda i: _half_of(i) == half)
    if (not config.option.collectonly and from_environment() is None
            and any(_backend_of(i) == "neo4j" for i in items)):
        # Boot Neo4j now, so that it starts while the tests before the first Neo4j test run.
        server = SessionNeo4j()
        config.stash[_SESSION_NEO4J] = server
        server.start()
    if (not config.option.collectonly and kafka_server.from_environment() is None
            and any(i.get_closest_marker("kafka") is not None for i in items)):
        # Likewise Kafka, for the tests marked `kafka`.
        broker = SessionKafka()
        config.stash[_SESSION_KAFKA] = broker
        broker.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_SESSION_NEO4J, None)
    if server is not None:
        server.stop()
    broker = config.stash.get(_SESSION_KAFKA, None)
    if broker is not None:
        broker.stop()


def session_neo4j(config: pytest.Config) -> SessionNeo4j | None:
    """The Neo4j this session started (None when NEO4J_URI names one)."""
    return config.stash.get(_SESSION_NEO4J, None)


@pytest.fixture(scope="session")
def kafka_bootstrap(pytestconfig: pytest.Config) -> str:
    """The session's Kafka as ``host:port``: KAFKA_BOOTSTRAP's, else the one this session started."""
    bootstrap = kafka_server.from_environment()
    if bootstrap is not None:
        return bootstrap
    broker = pytestconfig.stash.get(_SESSION_KAFKA, None)
    if broker is None:  # a test took the fixture without the `kafka` marker
        broker = SessionKafka()
        pytestconfig.stash[_SESSION_KAFKA] = broker
    try:
        return broker.bootstrap()
    except KafkaToolsMissing as problem:
        pytest.skip(str(problem))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = datasets_dir()
    if not (path / "ml-100k").is_dir():
        pytest.skip(f"shared datasets not found at {path} (set INTERESTGRAPH_DATASETS_DIR)")
    return path
