"""``interestgraph up``: everything on one laptop, stopped together."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from interest_graph.server import EmbeddedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
                status, body = get(f"http://127.0.0.1:{port}/health")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert body["status"] == "ok"
        assert get(f"http://127.0.0.1:{port}/v1/segments")[0] == 401
        assert get(f"http://127.0.0.1:{port}/v1/segments", "reader")[0] == 200
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
