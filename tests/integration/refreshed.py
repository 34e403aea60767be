"""A loaded and twice-refreshed Online Retail slice, shared by the API, fuzz and Browser-pack tests.

The slice is loaded in process, then two full refreshes are enqueued *through the API*
(``POST /v1/refresh``) and run by a real ``interestgraph worker`` subprocess; two, so that segment
history exists. Built once per backend (the ``refreshed_graph`` fixture in ``conftest.py``).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from flask.testing import FlaskClient

from interest_graph.api import create_app
from interest_graph.graph import GraphStore, open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.loading import make_ingestor
from interest_graph.ingest.records import Event
from interest_graph.privacy import Pseudonymiser
from interest_graph.settings import Settings
from interest_graph.tasks import TaskClient

CLI = [sys.executable, "-m", "interest_graph.cli"]
READ_KEY = "test-read-key"
WRITE_KEY = "test-write-key"
API_KEYS = {READ_KEY: frozenset({"read"}), WRITE_KEY: frozenset({"read", "write"})}
READ = {"X-API-Key": READ_KEY}
WRITE = {"X-API-Key": WRITE_KEY}
SLICE = 12000
# A quick refresh for tests: the hashing encoder, 3 epochs, the quick model search, a lock that
# outlives a dead worker 5 s.
WORKER_SETTINGS = {"INTERESTGRAPH_ENCODER": "hashing", "INTERESTGRAPH_TRAIN_EPOCHS": "3",
                   "INTERESTGRAPH_MODEL_SEARCH": "quick", "INTERESTGRAPH_TOP_K": "10",
                   "INTERESTGRAPH_REFRESH_LOCK_TTL": "5"}


@dataclass
class RefreshedGraph:
    """A loaded and refreshed graph, and how to reach it."""

    settings: Settings
    store: GraphStore
    env: dict[str, str]
    raw_users: list[str]
    version: str
    worker_log: Path


def graph_id(raw: str) -> str:
    return Pseudonymiser("test-secret").user(raw)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A real worker process (solo pool) appending its output to ``log``."""
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([*CLI, "worker", "--pool", "solo"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def quick_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A worker with the quick test settings (``WORKER_SETTINGS``; ``env`` may override them)."""
    return start_worker({**WORKER_SETTINGS, **env}, log)


def drop_queued_tasks(settings: Settings) -> None:
    """Drop tasks still queued, and those a killed worker had taken without acknowledging (the
    broker would give them back after its visibility timeout, to a later module's worker)."""
    broker = redis.Redis.from_url(settings.broker())
    try:
        broker.delete("interest", "unacked", "unacked_index")
    finally:
        broker.close()


def stop_worker(proc: subprocess.Popen[bytes] | None, settings: Settings) -> None:
    """Stop the worker and drop tasks still queued, so no later module's worker runs them."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    drop_queued_tasks(settings)


def wait(client: TaskClient, task_id: str, timeout: float = 300) -> dict[str, Any]:
    """The result of a task sent with ``client``, once it succeeded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.state(task_id)
        if state.done:
            assert state.state == "SUCCESS", state.error
            return state.result or {}
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish in {timeout}s")


def wait_task(client: FlaskClient, task_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/tasks/{task_id}", headers=READ)
        assert response.status_code == 200, response.json
        body = response.json
        assert body is not None
        if body["done"]:
            assert body["state"] == "SUCCESS", body["error"]
            return body
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish in {timeout}s")


def full_refresh(client: FlaskClient) -> dict[str, Any]:
    """A full refresh enqueued through the API; its result once done."""
    response = client.post("/v1/refresh", json={"kind": "full"}, headers=WRITE)
    assert response.status_code == 202 and response.json is not None, response.json
    done = wait_task(client, response.json["task_id"])
    assert (done["result"] or {}).get("status") == "active", done
    return dict(done["result"])


def prepare_graph(settings: Settings, env: dict[str, str], log: Path, refreshes: int = 2
                  ) -> RefreshedGraph:
    """Load the slice into a clean graph and run ``refreshes`` full refreshes through the API."""
    store = open_store(settings)
    store.clear()
    store.init_schema()
    reader = open_dataset("online-retail", settings.datasets_dir)
    records = list(itertools.islice(reader.records(), SLICE))
    make_ingestor(settings, IngestRepository(store)).run(records, pipelined=False)
    raw_users = list(dict.fromkeys(r.user_id for r in records if isinstance(r, Event)))
    worker = quick_worker(env, log)
    try:
        client = create_app(settings.with_overrides(api_keys=API_KEYS)).test_client()
        results = [full_refresh(client) for _ in range(refreshes)]
    finally:
        stop_worker(worker, settings)
    return RefreshedGraph(settings, store, env, raw_users, results[-1]["version"], log)
