"""Bounded failure: the store or the broker stops or freezes, and comes back.

Real servers only: a second embedded server plays the store (or the broker) so that it can be
stopped (clean shutdown), frozen (SIGSTOP: connections hang, only timeouts help) and started
again on the same port while the session server keeps the other role; the session's Neo4j, which
one test cannot stop, sits behind a TCP gate that cuts or holds its connections instead. The API
must answer a JSON 503 within 2 s naming what is down, and the same app must answer 200 once it
is back; a worker retries a task with backoff until the store returns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from interest_graph.api import create_app
from interest_graph.errors import BrokerUnavailable
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_INCREMENTAL, TaskClient

from ..neo4j_server import Neo4jConnection
from .conftest import start_worker, stop_process
from .gate import Gate
from .serving import alive

pytestmark = [pytest.mark.integration]

KEY = "outage-key"
HEADERS = {"X-API-Key": KEY}
BUDGET_S = 2.0


@dataclass
class Spare:
    """A second embedded server that a test may stop, freeze and restart on the same port."""

    data_dir: Path
    port: int
    pid: int

    def stop(self) -> None:
        assert EmbeddedServer(self.data_dir).stop()

    def start(self) -> None:
        self.pid = EmbeddedServer(self.data_dir, self.port).start().pid

    @contextmanager
    def frozen(self) -> Iterator[None]:
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)


@pytest.fixture
def spare(tmp_path: Path) -> Iterator[Spare]:
    status = EmbeddedServer(tmp_path / "spare").start()
    server = Spare(tmp_path / "spare", status.port, status.pid)
    yield server
    if alive(server.pid):
        os.kill(server.pid, signal.SIGCONT)
    EmbeddedServer(server.data_dir).stop()


@pytest.fixture
def outage_store(backend: str, embedded_settings: Settings, request: pytest.FixtureRequest
                 ) -> Iterator[tuple[Settings, Spare | Gate]]:
    """Settings whose store the test may stop, freeze and start: a spare embedded server, or the
    session's Neo4j (its graph emptied) behind a gate. No broker: these tests are about the store."""
    if backend == "falkordb":
        spare: Spare = request.getfixturevalue("spare")
        yield embedded_settings.with_overrides(
            graph_uri=f"falkordb://127.0.0.1:{spare.port}/interest", broker_url=None), spare
        return
    request.getfixturevalue("store")  # an empty graph
    neo4j: Neo4jConnection = request.getfixturevalue("neo4j_connection")
    address = neo4j.uri.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    gate = Gate((address[0], int(address[1]) if len(address) > 1 else 7687))
    try:
        # bolt://, not neo4j://: routing would send the driver to the server's own address.
        yield embedded_settings.with_overrides(
            graph_uri=f"bolt://127.0.0.1:{gate.port}", neo4j_user=neo4j.user,
            neo4j_password=neo4j.password, broker_url=None), gate
    finally:
        gate.stop()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_503(client: FlaskClient, method: str, path: str, code: str, **kwargs: Any) -> None:
    response, elapsed = timed(lambda: client.open(path, method=method, headers=HEADERS, **kwargs))
    assert response.status_code == 503, (path, response.status_code, response.json)
    assert response.json["error"]["code"] == code and response.headers["Retry-After"]
    assert elapsed <= BUDGET_S, f"{method} {path} took {elapsed:.2f}s"


def health(client: FlaskClient) -> tuple[int, dict[str, str]]:
    response, elapsed = timed(lambda: client.get("/health"))
    assert elapsed <= BUDGET_S, f"/health took {elapsed:.2f}s"
    return response.status_code, response.json["checks"]


EVENT = {"event_id": "outage-1", "user_id": "outage-user", "item_id": "outage-item",
         "type": "purchase", "timestamp": 1323000000, "quantity": 1, "price": 2.0}


def test_store_stopped_or_frozen_is_a_503_within_2s_and_the_same_app_recovers(
        outage_store: tuple[Settings, Spare | Gate]) -> None:
    base, spare = outage_store
    settings = base.with_overrides(api_keys={KEY: frozenset({"read", "write"})})
    client = create_app(settings).test_client()
    assert client.post("/v1/events", json={"events": [EVENT]}, headers=HEADERS).status_code == 202
    assert health(client) == (200, {"graph": "ok", "broker": "ok"})

    for outage in ("stopped", "frozen"):
        if outage == "stopped":
            spare.stop()
        with spare.frozen() if outage == "frozen" else _nothing():
            for method, path in (("GET", "/v1/segments"), ("GET", "/v1/users/outage-user/value"),
                                 ("GET", "/v1/users/outage-user/recommendations")):
                assert_503(client, method, path, "graph_unavailable")
            assert_503(client, "POST", "/v1/events", "graph_unavailable",
                       json={"events": [{**EVENT, "event_id": f"outage-{outage}"}]})
            assert health(client) == (503, {"graph": "unavailable", "broker": "ok"})
        if outage == "stopped":
            spare.start()
        # Back: the same app answers at once, with the data written before the outage.
        assert health(client) == (200, {"graph": "ok", "broker": "ok"})
        value = client.get("/v1/users/outage-user/value", headers=HEADERS)
        assert value.status_code == 200, value.json
    again = client.post("/v1/events", json={"events": [EVENT]}, headers=HEADERS).json
    assert (again["accepted"], again["duplicates"]) == (0, 1), "the acknowledged write survived"


def test_api_starts_while_the_store_is_down_and_serves_when_it_returns(
        outage_store: tuple[Settings, Spare | Gate]) -> None:
    base, spare = outage_store
    spare.stop()
    settings = base.with_overrides(api_keys={KEY: frozenset({"read"})})
    client = create_app(settings).test_client()  # a gunicorn worker booting during an outage
    assert_503(client, "GET", "/v1/segments", "graph_unavailable")
    spare.start()
    assert client.get("/v1/segments", headers=HEADERS).status_code == 200


def test_broker_stopped_or_frozen_is_a_503_within_2s_and_the_same_app_recovers(
        embedded_settings: Settings, spare: Spare) -> None:
    settings = embedded_settings.with_overrides(
        broker_url=f"redis://127.0.0.1:{spare.port}/1",
        api_keys={KEY: frozenset({"read", "write"})})
    client = create_app(settings).test_client()
    queued = client.post("/v1/refresh", json={"kind": "incremental"}, headers=HEADERS)
    assert queued.status_code == 202
    task = f"/v1/tasks/{queued.json['task_id']}"
    assert client.get(task, headers=HEADERS).status_code == 200

    for outage in ("stopped", "frozen"):
        if outage == "stopped":
            spare.stop()
        with spare.frozen() if outage == "frozen" else _nothing():
            assert_503(client, "POST", "/v1/refresh", "broker_unavailable",
                       json={"kind": "full"})
            assert_503(client, "GET", task, "broker_unavailable")
            # Events need no broker; with ?refresh= they are applied, then the 503 says so.
            assert_503(client, "POST", "/v1/events?refresh=incremental", "broker_unavailable",
                       json={"events": [{**EVENT, "event_id": f"broker-{outage}"}]})
            assert client.get("/v1/segments", headers=HEADERS).status_code == 200
            assert health(client) == (503, {"graph": "ok", "broker": "unavailable"})
        if outage == "stopped":
            spare.start()
        assert health(client) == (200, {"graph": "ok", "broker": "ok"})
        assert client.post("/v1/refresh", json={"kind": "incremental"},
                           headers=HEADERS).status_code == 202
        replay = client.post("/v1/events", json={"events": [
            {**EVENT, "event_id": f"broker-{outage}"}]}, headers=HEADERS).json
        assert replay["duplicates"] == 1, "the events of the 503 were applied once"


def test_task_client_fails_fast_with_a_broker_error(embedded_settings: Settings,
                                                    spare: Spare) -> None:
    client = TaskClient(embedded_settings.with_overrides(
        broker_url=f"redis://127.0.0.1:{spare.port}/1", broker_timeout_s=1.0))
    try:
        spare.stop()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="enqueue"):
            client.send(REFRESH_INCREMENTAL)
        with pytest.raises(BrokerUnavailable):
            client.state("0000-some-task")
        assert time.monotonic() - started <= 2 * BUDGET_S
        spare.start()
        assert client.send(REFRESH_INCREMENTAL)
    finally:
        client.close()


def test_worker_retries_with_backoff_until_the_store_returns(
        embedded_settings: Settings, cli_env: dict[str, str], spare: Spare,
        tmp_path: Path) -> None:
    # The spare is the store; the session server is the broker, on a database of its own so that
    # no other module's queued task reaches this worker.
    broker = embedded_settings.broker().rsplit("/", 1)[0] + "/6"
    env = {**cli_env, "INTERESTGRAPH_GRAPH_URI": f"falkordb://127.0.0.1:{spare.port}/interest",
           "INTERESTGRAPH_BROKER_URL": broker, "INTERESTGRAPH_ENCODER": "hashing"}
    settings = embedded_settings.with_overrides(broker_url=broker)
    spare.stop()
    worker = start_worker(env, tmp_path / "worker.log")
    client = TaskClient(settings)
    try:
        task_id = client.send(REFRESH_INCREMENTAL)
        assert wait_state(client, task_id, {"RETRY"}, worker, tmp_path).state == "RETRY"
        spare.start()
        done = wait_state(client, task_id, {"SUCCESS", "FAILURE"}, worker, tmp_path)
        assert done.state == "SUCCESS", done.error
        assert done.result is not None and done.result["status"] == "skipped"  # empty graph
        log = (tmp_path / "worker.log").read_text()
        assert "Retry in" in log and "GraphUnavailable" in log
    finally:
        client.close()
        stop_process(worker)


def wait_state(client: TaskClient, task_id: str, states: set[str],
               worker: subprocess.Popen[bytes], tmp_path: Path, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        state = client.state(task_id)
        if state.state in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"task never reached {states}: "
                         f"{(tmp_path / 'worker.log').read_text()[-3000:]}")


@contextmanager
def _nothing() -> Iterator[None]:
    yield
