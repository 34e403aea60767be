"""``interestgraph up``: everything on one laptop, stopped together."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from interest_graph.server import EmbeddedServer

from .serving import alive, free_port, request

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_up_starts_everything_and_sigterm_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")}
    env.update(INTERESTGRAPH_DATA_DIR=str(tmp_path), INTERESTGRAPH_SECRET="s",
               INTERESTGRAPH_API_KEYS="reader:read", INTERESTGRAPH_ENCODER="hashing")
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "interest_graph.cli", "up", "--port",
                                 str(port), "--workers", "1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                status, body = request(f"http://127.0.0.1:{port}/health")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert body["status"] == "ok"
        assert request(f"http://127.0.0.1:{port}/v1/segments")[0] == 401
        assert request(f"http://127.0.0.1:{port}/v1/segments", "reader")[0] == 200
        pids = {name: int(pid) for name, pid in
                re.findall(r"started (\w+) \(pid (\d+)\)", log.read_text())}
        assert set(pids) == {"worker", "beat", "api"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
        assert "stopped" in log.read_text()
        time.sleep(0.5)
        assert not [name for name, pid in pids.items() if alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
        EmbeddedServer(tmp_path).stop()
