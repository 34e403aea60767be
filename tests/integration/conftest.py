"""Integration fixtures: a real embedded FalkorDB server (and Neo4j when NEO4J_URI is set).

Nothing here is mocked: the session starts the same ``redis-server`` + FalkorDB module the platform
uses in production-like laptop runs, in a throw-away data directory, and stops it at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from interest_graph.graph import GraphStore, open_store
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings

from ..conftest import datasets_dir


@pytest.fixture(scope="session")
def embedded_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp("interestgraph-data")
    settings = Settings(
        data_dir=data_dir, secret="test-secret", batch_size=500, datasets_dir=datasets_dir()
    )
    server = EmbeddedServer(data_dir)
    server.start()
    yield settings
    server.stop()


def neo4j_settings(base: Settings) -> Settings:
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        pytest.skip("NEO4J_URI is not set: Neo4j contract tests skipped")
    user = os.environ.get("NEO4J_USER")
    password = os.environ.get("NEO4J_PASSWORD")
    if user is None or password is None:
        pytest.fail("NEO4J_URI is set but NEO4J_USER or NEO4J_PASSWORD is missing")
    return base.with_overrides(graph_uri=uri, neo4j_user=user, neo4j_password=password)


@pytest.fixture(
    scope="session",
    params=["falkordb", pytest.param("neo4j", marks=pytest.mark.neo4j)],
)
def backend_settings(request: pytest.FixtureRequest, embedded_settings: Settings) -> Settings:
    """Settings for each backend the contract tests run against."""
    if request.param == "neo4j":
        return neo4j_settings(embedded_settings)
    return embedded_settings


@pytest.fixture(scope="session")
def session_store(backend_settings: Settings) -> Iterator[GraphStore]:
    store = open_store(backend_settings)
    store.init_schema()
    yield store
    store.close()


@pytest.fixture
def store(session_store: GraphStore) -> GraphStore:
    """The session's store with an empty graph (``clean_graph``)."""
    session_store.clear()
    session_store.init_schema()
    return session_store


@pytest.fixture
def falkor_store(embedded_settings: Settings) -> Iterator[GraphStore]:
    store = open_store(embedded_settings)
    store.clear()
    store.init_schema()
    assert not store.read("stats/user_ids"), "clean_graph must start from an empty graph"
    yield store
    store.close()


@pytest.fixture(scope="session")
def cli_env(embedded_settings: Settings) -> dict[str, str]:
    """Environment for running the real ``interestgraph`` command against the session server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")}
    env.update(
        INTERESTGRAPH_DATA_DIR=str(embedded_settings.data_dir),
        INTERESTGRAPH_SECRET="test-secret",
        INTERESTGRAPH_DATASETS_DIR=str(embedded_settings.datasets_dir),
    )
    return env


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
