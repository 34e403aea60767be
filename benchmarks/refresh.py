"""Refresh timings on UCI Online Retail through a real Celery worker, in one run.

    python benchmarks/refresh.py [--dataset online-retail] [--trials 50] [--data-dir DIR]
                                 [--backend embedded|neo4j]

Loads the dataset into a throw-away embedded server (or ``--data-dir``; or the Neo4j of
``--backend neo4j``, see ``backends.py``), starts a worker process,
then measures: a full refresh (wall time and per-stage seconds), a second full refresh (texts
encoded must be 0: the text cache lives in the graph), and ``--trials`` incremental updates, each
from "event ingested" to "the user's INTERESTED_IN edges show it" (the purchased item leaves the
user's recommendations). Prints one JSON object as its last line:
``{"dataset", "backend", "device", "full_refresh_s", "stages", "incremental_p95_s", "incremental_trials",
"texts_encoded_second_full", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import backends
import numpy as np

from interest_graph.errors import BrokerUnavailable
from interest_graph.graph import GraphStore, open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.ingest.loading import load_source, make_ingestor
from interest_graph.ingest.records import Event
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_FULL, REFRESH_INCREMENTAL, TaskClient, TaskState


def wait(client: TaskClient, task_id: str, timeout: float = 1800,
         on_poll: Callable[[TaskState], None] | None = None) -> tuple[dict[str, Any], float]:
    """The task's result and the seconds it took; ``on_poll`` sees every state read.

    A state read the broker does not answer in time is read again (for up to a minute running):
    one slow answer of a busy server must not end a run of an hour.
    """
    started = time.perf_counter()
    failing_since: float | None = None
    while time.perf_counter() - started < timeout:
        try:
            state = client.state(task_id)
        except BrokerUnavailable as exc:
            failing_since = failing_since or time.perf_counter()
            if time.perf_counter() - failing_since > 60:
                raise
            print(f"task state not read ({exc}); reading again", file=sys.stderr)
            time.sleep(1.0)
            continue
        failing_since = None
        if on_poll is not None:
            on_poll(state)
        if state.done:
            if state.state != "SUCCESS":
                raise RuntimeError(f"task failed: {state.error}")
            return state.result or {}, time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(task_id)


def incremental_latencies(settings: Settings, store: GraphStore, client: TaskClient, trials: int,
                          seed: int = 0) -> list[float]:
    """Seconds from "a user buys one of their recommended items" to "it left their recommendations",
    through incremental refreshes run by the worker(s) listening to ``client``'s broker."""
    rng = random.Random(seed)
    users = [r["id"] for r in store.read("stats/user_ids")]
    # The purchases happen at the shop's own clock, a second apart: a wall-clock timestamp on a
    # replayed history (Online Retail ends in 2011) would move the graph's clock by years, and
    # the next full refresh would decay every other edge to nothing (a float32 zero).
    clock = float(store.read("stats/latest_event")[0]["ts"] or time.time())
    ingestor = make_ingestor(settings.with_overrides(pseudonymise=False), IngestRepository(store))
    latencies: list[float] = []
    for trial in range(trials):
        user = rng.choice(users)
        recs = store.read("users/get_recommendations", user=user, k=5)
        if not recs:
            continue
        item = recs[0]["item"]
        started = time.perf_counter()
        # The graph id is used as the raw id with pseudonymisation off: same user node.
        ingestor.run([Event(f"bench-{trial}-{time.time_ns()}", user, item, "purchase",
                            clock + trial + 1, 1.0, 1.0)], pipelined=False)
        client.send(REFRESH_INCREMENTAL)
        deadline = started + 60
        while time.perf_counter() < deadline:
            if item not in {r["item"] for r in store.read("users/get_recommendations",
                                                           user=user, k=50)}:
                break
            time.sleep(0.02)
        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="online-retail")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--data-dir", type=Path)
    backends.add_argument(parser)
    args = parser.parse_args()

    tmp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="ig-refresh-")
    data_dir = args.data_dir or Path(tmp.name)  # type: ignore[union-attr]
    with backends.GraphBackend(args.backend, data_dir.parent) as backend:
        settings = Settings.from_env(data_dir=data_dir, broker_url=None, result_backend=None,
                                     secret="benchmark-secret", **backend.overrides())
        backend.clear(settings)
        env = backends.process_env(settings, INTERESTGRAPH_DATA_DIR=str(data_dir),
                                   INTERESTGRAPH_SECRET="benchmark-secret")
        EmbeddedServer(data_dir).start()
        store = open_store(settings)
        if IngestRepository(store).counts().events == 0:
            load_source(settings, args.dataset, show_progress=False)
        log = (data_dir / "bench-worker.log").open("ab")
        worker = subprocess.Popen([sys.executable, "-m", "interest_graph.cli", "worker", "--pool",
                                   "solo"], env=env, stdout=log, stderr=subprocess.STDOUT)
        client = TaskClient(settings)
        try:
            first, first_s = wait(client, client.send(REFRESH_FULL))
            second, second_s = wait(client, client.send(REFRESH_FULL))

            latencies = incremental_latencies(settings, store, client, args.trials)
        finally:
            client.close()
            worker.terminate()
            worker.wait(timeout=60)
            log.close()
            store.close()
            if tmp is not None:
                EmbeddedServer(data_dir).stop()
        described = backend.describe()
    if tmp is not None:
        tmp.cleanup()

    lat = np.asarray(latencies)
    result = {
        "dataset": args.dataset,
        **described,
        "device": first.get("device", "cpu"),
        "cpu_count": os.cpu_count(),
        "full_refresh_s": round(first_s, 2),
        "stages": {k: round(v, 2) for k, v in (first.get("stages") or {}).items()},
        "users": first.get("users"),
        "items": first.get("items"),
        "segments": first.get("segments"),
        "silhouette": first.get("silhouette"),
        "texts_encoded_first_full": first.get("texts_encoded"),
        "texts_encoded_second_full": second.get("texts_encoded"),
        "second_full_refresh_s": round(second_s, 2),
        "incremental_trials": int(lat.size),
        "incremental_p50_s": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
        "incremental_p95_s": round(float(np.percentile(lat, 95)), 3) if lat.size else None,
        "incremental_max_s": round(float(lat.max()), 3) if lat.size else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
