"""The platform's real processes, started and watched for the soak and chaos benchmarks.

An embedded server in a throw-away data directory (the graph store, or with a Neo4j in the
settings only the broker), the API under gunicorn (``interestgraph
serve``), Celery workers (``interestgraph worker``), loaders (``interestgraph load``); a keep-alive
JSON client; RSS of a process tree; the first records of Online Retail in the generic format.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backends import store_env

from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.records import Event, ItemRecord
from interest_graph.settings import Settings

CLI = [sys.executable, "-m", "interest_graph.cli"]
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def platform_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of every platform process of a benchmark (hashing encoder, one key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")}
    env.update(INTERESTGRAPH_DATA_DIR=str(settings.data_dir),
               INTERESTGRAPH_SECRET=settings.resolved_secret(),
               INTERESTGRAPH_DATASETS_DIR=str(settings.datasets_dir),
               INTERESTGRAPH_API_KEYS=f"{KEY}:read+write",
               INTERESTGRAPH_ENCODER=settings.encoder,
               INTERESTGRAPH_TRAIN_EPOCHS=str(settings.train_epochs),
               INTERESTGRAPH_TOP_K=str(settings.top_k),
               INTERESTGRAPH_REFRESH_LOCK_TTL=str(settings.refresh_lock_ttl_s),
               **store_env(settings), **extra)
    return env


class Process:
    """A platform command running in the background, its output appended to a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*CLI, *self.args], env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait()

    def stop(self, timeout: float = 30) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in [*descendants(self.pid), self.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def api(env: dict[str, str], log_dir: Path, workers: int, timeout: float = 90) -> tuple[Process, int]:
    """``interestgraph serve`` on a free port, once every worker answers ``/health``."""
    port = free_port()
    proc = Process("api", ["serve", "--port", str(port), "--workers", str(workers)], env, log_dir)
    deadline = time.monotonic() + timeout
    while True:
        if not proc.alive():
            raise RuntimeError(f"gunicorn exited:\n{proc.tail()}")
        try:
            if Client(port).call("GET", "/health")[0] == 200 and \
                    len(children(proc.pid)) >= workers:
                return proc, port
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API did not become ready:\n{proc.tail()}")
        time.sleep(0.2)


def worker(env: dict[str, str], log_dir: Path, name: str = "worker",
           pool: str = "prefork") -> Process:
    return Process(name, ["worker", "--pool", pool, "--hostname", f"{name}@%h"], env, log_dir)


class Client:
    """One keep-alive HTTP connection sending and receiving JSON; reconnects after an error."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.port, self.timeout = port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, decoded body, seconds); raises OSError or HTTPException on a broken link."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"X-API-Key": KEY}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self._conn.request(method, path, body=data, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        elapsed = time.perf_counter() - started
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            decoded = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            decoded = raw.decode(errors="replace")
        return response.status, decoded, elapsed

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return sorted(out)


def descendants(pid: int) -> list[int]:
    found = children(pid)
    return found + [d for c in found for d in descendants(c)]


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process in MB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def retail_records(settings: Settings, count: int) -> tuple[list[dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """The first ``count`` records of Online Retail as generic (events, items) dicts."""
    events, items = [], []
    reader = open_dataset("online-retail", settings.datasets_dir)
    for record in itertools.islice(reader.records(), count):
        if isinstance(record, Event):
            events.append({"event_id": record.event_id, "user_id": record.user_id,
                           "item_id": record.item_id, "type": record.type,
                           "timestamp": record.ts, "quantity": record.quantity,
                           "price": record.price})
        elif isinstance(record, ItemRecord):
            items.append({"item_id": record.item_id, "title": record.title,
                          "categories": list(record.categories), "price": record.price})
    return events, items


def write_folder(folder: Path, events: list[dict[str, Any]], items: list[dict[str, Any]]) -> Path:
    """A generic-format folder (events.jsonl, items.jsonl) that ``interestgraph load`` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return folder


def wait_task(client: Client, task_id: str, timeout: float = 900) -> dict[str, Any]:
    """Poll ``GET /v1/tasks/<id>`` until the task is done; its body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body, _ = client.call("GET", f"/v1/tasks/{task_id}")
            if status == 200 and body["done"]:
                return body  # type: ignore[no-any-return]
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"task {task_id} not done after {timeout:.0f}s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0
