"""Integration fixtures: a real embedded FalkorDB server (and Neo4j when NEO4J_URI is set).

Nothing here is mocked: the session starts the same ``redis-server`` + FalkorDB module the platform
uses in production-like laptop runs, in a throw-away data directory, and stops it at the end.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from interest_graph.graph import GraphStore, open_store
from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.records import Event, ItemRecord
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings

from ..conftest import datasets_dir

CLI = [sys.executable, "-m", "interest_graph.cli"]
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
    folder = tmp_path_factory.mktemp("retail-slice")
    events, items = [], []
    reader = open_dataset("online-retail", shared_datasets)
    for record in itertools.islice(reader.records(), SLICE_RECORDS):
        if isinstance(record, Event):
            events.append({"event_id": record.event_id, "user_id": record.user_id,
                           "item_id": record.item_id, "type": record.type,
                           "timestamp": record.ts, "quantity": record.quantity,
                           "price": record.price})
        elif isinstance(record, ItemRecord):
            items.append({"item_id": record.item_id, "title": record.title,
                          "categories": list(record.categories), "price": record.price})
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return RetailSlice(folder, events)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A real worker process (solo pool) appending its output to ``log``."""
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([*CLI, "worker", "--pool", "solo"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
