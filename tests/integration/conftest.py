"""Integration fixtures: a real embedded FalkorDB server and a real Neo4j, one backend per param.

Nothing here is mocked: the session starts the same ``redis-server`` + FalkorDB module the platform
uses in production-like laptop runs, in a throw-away data directory, and stops it at the end. That
server's Redis is also the Celery broker for both backends (the Neo4j runs use other Redis
databases, so their workers never take the FalkorDB runs' tasks). Neo4j is the one at
``NEO4J_URI``, else one the session starts (``tests/neo4j_server.py``).

Tests that take ``backend`` (directly or through ``backend_settings``, ``backend_env``, ``store``)
run once per backend; ``--backend falkordb|neo4j`` picks one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import retail_records, write_folder

from interest_graph.graph import GraphStore, open_store
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings
from interest_graph.tasks import TaskClient

from ..conftest import BACKENDS, datasets_dir, session_neo4j
from ..neo4j_server import Neo4jConnection, SessionNeo4j, from_environment
from .refreshed import CLI, RefreshedGraph, prepare_graph, start_worker

__all__ = ["CLI", "RetailSlice", "start_worker", "stop_process"]

SLICE_RECORDS = 12000


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


@pytest.fixture(scope="session")
def neo4j_connection(request: pytest.FixtureRequest) -> Iterator[Neo4jConnection]:
    """The Neo4j of this session: NEO4J_URI's, else one started for it (never skipped)."""
    named = from_environment()
    if named is not None:
        yield named
        return
    server = session_neo4j(request.config)
    if server is not None:
        yield server.connection()
        return
    own = SessionNeo4j()  # a Neo4j test the collection hook did not see (e.g. a fixture chain)
    try:
        yield own.connection()
    finally:
        own.stop()


@pytest.fixture(scope="session", params=[
    pytest.param(name, marks=[pytest.mark.neo4j] if name == "neo4j" else []) for name in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """The graph backend under test: ``falkordb`` (embedded) or ``neo4j``."""
    return str(request.param)


@pytest.fixture(scope="session")
def backend_settings(request: pytest.FixtureRequest, backend: str, embedded_settings: Settings,
                     tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the backend under test.

    The Neo4j runs have their own data directory (saved models) and Redis databases, on the
    embedded server that is the broker of both.
    """
    if backend == "falkordb":
        return embedded_settings
    neo4j: Neo4jConnection = request.getfixturevalue("neo4j_connection")
    status = EmbeddedServer(embedded_settings.data_dir).status()
    assert status is not None, "the embedded server (the broker) must be running"
    return embedded_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("interestgraph-neo4j-data"),
        graph_uri=neo4j.uri, neo4j_user=neo4j.user, neo4j_password=neo4j.password,
        broker_url=f"{status.redis_url}/3", result_backend=f"{status.redis_url}/4")


@pytest.fixture(scope="session")
def backend_env(backend_settings: Settings, cli_env: dict[str, str]) -> dict[str, str]:
    """Environment for the real ``interestgraph`` commands (CLI, worker) on the backend under test."""
    env = dict(cli_env)
    if backend_settings.graph_uri is not None:
        env.update(
            INTERESTGRAPH_DATA_DIR=str(backend_settings.data_dir),
            INTERESTGRAPH_GRAPH_URI=backend_settings.graph_uri,
            INTERESTGRAPH_NEO4J_USER=backend_settings.neo4j_user,
            INTERESTGRAPH_NEO4J_PASSWORD=backend_settings.neo4j_password,
            INTERESTGRAPH_BROKER_URL=str(backend_settings.broker_url),
            INTERESTGRAPH_RESULT_BACKEND=str(backend_settings.result_backend),
        )
    return env


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
def store_files(request: pytest.FixtureRequest, backend: str, embedded_settings: Settings
                ) -> list[Path]:
    """The files the backend under test writes its data to (skips for a Neo4j it did not start)."""
    if backend == "falkordb":
        folder = embedded_settings.data_dir / "server"
        return [f for f in folder.rglob("*.aof*") if f.is_file()]
    server = session_neo4j(request.config)
    if server is None:
        pytest.skip("the Neo4j at NEO4J_URI is not this session's: its files are out of reach")
    return [f for f in (server.state / "home" / "data").rglob("*") if f.is_file()]


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


@pytest.fixture(scope="module")
def task_client(backend_settings: Settings) -> Iterator[TaskClient]:
    """A Celery client on the backend's broker (one per test module)."""
    tasks = TaskClient(backend_settings)
    yield tasks
    tasks.close()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class RetailSlice:
    """The first records of Online Retail in the generic format (events.jsonl + items.jsonl)."""

    folder: Path
    events: list[dict[str, object]]

    @property
    def raw_users(self) -> list[str]:
        return list(dict.fromkeys(str(e["user_id"]) for e in self.events))


@pytest.fixture(scope="session")
def retail_slice(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> RetailSlice:
    """The first 12,000 records of Online Retail, written once per session."""
    events, items = retail_records(Settings(datasets_dir=shared_datasets), SLICE_RECORDS)
    return RetailSlice(write_folder(tmp_path_factory.mktemp("retail-slice"), events, items), events)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def refreshed_graph(backend_settings: Settings, backend_env: dict[str, str],
                    tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path
                    ) -> Iterator[RefreshedGraph]:
    """The Online Retail slice refreshed twice, once per backend (``refreshed.py``).

    Shared by test_api, test_api_fuzz, test_audiences, test_browser_pack_in_neo4j_browser,
    test_browser_queries and test_cohort_arms (one more full refresh, so last), which run (in
    file order) before any test that clears the graph;
    test_api's writes keep it consistent (erasure, new events and new customers, an incremental
    refresh), so the later readers check a graph that has lived a little.
    """
    log = tmp_path_factory.mktemp("refreshed-worker") / "worker.log"
    refreshed = prepare_graph(backend_settings, backend_env, log)
    yield refreshed
    refreshed.store.close()
