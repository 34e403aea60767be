"""Helpers for tests that run the real API under gunicorn (``interestgraph serve``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import children, free_port

CLI = [sys.executable, "-m", "interest_graph.cli"]


def request(url: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    """GET (or POST ``body`` as JSON); returns the status and the decoded body (text if not JSON)."""
    headers = {"X-API-Key": key} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except json.JSONDecodeError:
        return status, raw.decode()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def serving(env: dict[str, str], log: Path,
            workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``interestgraph serve`` on a free port; yields its base URL and process, ready."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", str(workers)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if request(base + "/health")[0] == 200 and len(children(proc.pid)) == workers:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait()
