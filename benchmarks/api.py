"""Recommendations latency and throughput of the HTTP API under gunicorn, on loopback.

    python benchmarks/api.py [--data-dir DIR] [--concurrency 16] [--requests 6000] [--workers 3]
                             [--backend embedded|neo4j]

With ``--data-dir`` a loaded and refreshed data directory is reused (its embedded server is
started if needed; pass its secret with ``INTERESTGRAPH_SECRET`` if it is not in the folder); a
folder without a refresh is built first and kept. Without it, a throw-away directory is built:
Online Retail is loaded (``--events`` limits it) and a full refresh runs in-process through
``interest_workers.refresh.run_full`` with the hashing encoder and ``--train-epochs`` epochs
(the model's quality does not matter here). ``--backend neo4j`` builds it in Neo4j instead (see
``backends.py``; not with ``--data-dir``).

gunicorn (``interestgraph serve``) then runs as a subprocess on a free port of 127.0.0.1, and
``--concurrency`` client threads, each with its own connection, request
``GET /v1/users/<id>/recommendations?k=10`` for ``--requests`` requests in total over distinct
real users. The same store query is also timed directly (no HTTP) for the ratio. The clients run
on the same machine as the server and share its cores.

Last line, JSON: ``{"backend", "concurrency", "requests", "errors", "p50_ms", "p99_ms", "rps",
"direct_p50_ms", ...}``.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import backends

from interest_graph.graph import open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.loading import make_ingestor
from interest_graph.ingest.records import Event
from interest_graph.privacy import Pseudonymiser
from interest_graph.settings import Settings

BENCH_KEY = "bench-read-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build(settings: Settings, events: int | None) -> None:
    """Load Online Retail and run one full refresh in this process."""
    from interest_graph.graph.refresh import RefreshRepository
    from interest_workers.refresh import run_full
    from interest_workers.resources import make_encoder

    store = open_store(settings)
    try:
        store.init_schema()
        reader = open_dataset("online-retail", settings.datasets_dir)
        records = reader.records() if events is None else itertools.islice(reader.records(), events)
        started = time.perf_counter()
        summary = make_ingestor(settings, IngestRepository(store)).run(records)
        print(f"loaded {summary.events_applied:,} events in {time.perf_counter() - started:.0f}s",
              file=sys.stderr)
        started = time.perf_counter()
        report = run_full(RefreshRepository(store, settings.read_page_size), settings,
                          make_encoder(settings))
        print(f"full refresh {report.version}: {report.status} in "
              f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
    finally:
        store.close()


def retail_users(settings: Settings, events: int | None) -> list[str]:
    """Raw ids of the Online Retail users (of the first ``events`` records), in file order."""
    reader = open_dataset("online-retail", settings.datasets_dir)
    records = reader.records() if events is None else itertools.islice(reader.records(), events)
    return list(dict.fromkeys(r.user_id for r in records if isinstance(r, Event)))


def user_ids(settings: Settings, raw: Iterable[str], limit: int) -> list[tuple[str, str]]:
    """(raw id, graph id) of up to ``limit`` of the ``raw`` users that have recommendations."""
    pseudo = Pseudonymiser(settings.resolved_secret(), enabled=settings.pseudonymise)
    store = open_store(settings)
    try:
        out = []
        for user in raw:
            graph_id = pseudo.user(user)
            if store.read("api/get_recommendations", user=graph_id, k=1):
                out.append((user, graph_id))
                if len(out) >= limit:
                    break
        return out
    finally:
        store.close()


def direct_latency(settings: Settings, users: list[tuple[str, str]], n: int) -> list[float]:
    store = open_store(settings)
    try:
        times = []
        for i in range(n):
            started = time.perf_counter()
            store.read("api/get_recommendations", user=users[i % len(users)][1], k=10)
            times.append(time.perf_counter() - started)
        return times
    finally:
        store.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited; see its output above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")


def load(port: int, users: list[tuple[str, str]], concurrency: int, total: int
         ) -> tuple[list[float], int, float]:
    """``total`` requests from ``concurrency`` threads; returns latencies, errors, wall time."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = itertools.count()
    headers = {"X-API-Key": BENCH_KEY}

    def client() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        failed = 0
        while (n := next(counter)) < total:
            path = f"/v1/users/{users[n % len(users)][0]}/recommendations?k=10"
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - started


def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    users = user_ids(settings, retail_users(settings, args.events), 2000)
    return measure(settings, users, concurrency=args.concurrency, requests=args.requests,
                   workers=args.workers)


def measure(settings: Settings, users: list[tuple[str, str]], *, concurrency: int = 16,
            requests: int = 6000, workers: int = 3) -> dict[str, Any]:
    """Recommendation latency through gunicorn (``workers`` processes) and the store directly."""
    if not users:
        raise SystemExit("no user has recommendations: is the data directory refreshed?")
    direct = direct_latency(settings, users, 2000)
    port = free_port()
    env = backends.process_env(settings, INTERESTGRAPH_DATA_DIR=str(settings.data_dir),
                               INTERESTGRAPH_SECRET=settings.resolved_secret(),
                               INTERESTGRAPH_API_KEYS=f"{BENCH_KEY}:read")
    server = subprocess.Popen(
        [sys.executable, "-m", "interest_graph.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(workers)], env=env)
    try:
        wait_ready(port, server)
        load(port, users, concurrency, min(500, requests))  # warm-up
        latencies, errors, wall = load(port, users, concurrency, requests)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    p50 = percentile(latencies, 0.50) * 1000
    direct_p50 = statistics.median(direct) * 1000
    return {
        "concurrency": concurrency, "requests": len(latencies), "errors": errors,
        "p50_ms": round(p50, 2), "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "rps": round(len(latencies) / wall, 1), "direct_p50_ms": round(direct_p50, 3),
        "direct_p99_ms": round(percentile(direct, 0.99) * 1000, 3),
        "http_over_direct_p50": round(p50 / direct_p50, 1) if direct_p50 else None,
        "gunicorn_workers": workers, "cpus": os.cpu_count(), "users": len(users),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, help="reuse a loaded, refreshed data directory")
    parser.add_argument("--events", type=int, default=None,
                        help="when building: load only the first N records (default: all)")
    parser.add_argument("--train-epochs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    backends.add_argument(parser)
    args = parser.parse_args()

    if args.data_dir is not None:
        if args.backend != "embedded":
            parser.error("--data-dir reuses an embedded data directory; leave out --backend")
        from interest_graph.server import EmbeddedServer

        settings = Settings.from_env(data_dir=args.data_dir.resolve(), graph_uri=None,
                                     encoder="hashing", train_epochs=args.train_epochs)
        EmbeddedServer(settings.data_dir).start()
        store = open_store(settings)
        try:
            refreshed = bool(store.read("stats/refresh_summary"))
        finally:
            store.close()
        if not refreshed:  # an empty or unrefreshed folder: build it once, reuse it next time
            build(settings, args.events)
        print(json.dumps({"backend": "embedded", **run(settings, args)}))
        return
    with tempfile.TemporaryDirectory(prefix="ig-bench-api-") as tmp, \
            backends.GraphBackend(args.backend) as backend:
        from interest_graph.server import EmbeddedServer

        settings = Settings.from_env(data_dir=Path(tmp), encoder="hashing",
                                     train_epochs=args.train_epochs, secret="bench-secret",
                                     **backend.overrides())
        backend.clear(settings)
        server = EmbeddedServer(settings.data_dir)
        server.start()
        try:
            build(settings, args.events)
            measured = run(settings, args)
            result = {**backend.describe(), **measured}
        finally:
            server.stop()
        print(json.dumps(result))


if __name__ == "__main__":
    main()
