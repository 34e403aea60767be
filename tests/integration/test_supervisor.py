"""The embedded server brought back by ``interestgraph serve`` after it dies (SIGKILL stands in for
a crash: the 30-minute soak saw FalkorDB fault in a read, and every request then got a 503)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from interest_graph.server import EmbeddedServer

from .serving import request, serving

pytestmark = [pytest.mark.integration]


def test_serve_restarts_a_dead_embedded_server_and_the_api_recovers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")}
    env.update(INTERESTGRAPH_DATA_DIR=str(data_dir), INTERESTGRAPH_SECRET="supervised",
               INTERESTGRAPH_API_KEYS="k:read")
    server = EmbeddedServer(data_dir)
    try:
        with serving(env, tmp_path / "serve.log", workers=1) as (base, _proc):
            first = server.status()
            assert first is not None
            assert request(base + "/v1/segments", key="k")[0] == 200
            os.kill(first.pid, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while True:
                # A data read, not /health: its broker check would start the server itself.
                status, _ = request(base + "/v1/segments", key="k")
                again = server.status()
                if status == 200 and again is not None and again.pid != first.pid:
                    break
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
                time.sleep(0.2)
            assert again.port == first.port, "clients reconnect to the port they know"
            assert "restarting it" in (tmp_path / "serve.log").read_text()
    finally:
        server.stop()
    assert server.status() is None
