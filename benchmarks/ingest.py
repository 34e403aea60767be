"""Ingest throughput on UCI Online Retail: the platform, the raw store, a naive loop — one run.

    python benchmarks/ingest.py [--dataset online-retail] [--naive-events 3000] [--fsync both]
    eval "$(make neo4j)"; python benchmarks/ingest.py      # Neo4j too, side by side

Prints one JSON object as its last line:
``{"dataset", "events", "platform_eps", "raw_store_eps", "naive_eps", ...}``, and with
``NEO4J_URI`` (``NEO4J_USER``, ``NEO4J_PASSWORD``) set also ``neo4j_platform_eps``,
``neo4j_raw_eps`` and ``neo4j_naive_eps`` for that Neo4j (whose graph it clears).

* ``platform_eps``: :class:`Ingestor` on the parsed records (validation done, pseudonymisation,
  event hashing, de-duplication against the graph, batching, atomic guarded writes).
* ``raw_store_eps``: the same ``ingest/apply_events`` UNWIND queries with their parameters
  prepared in advance, timed alone (the store's ceiling).
* ``naive_eps``: the same job one query per event, as a naive integration writes it: skip a
  known event id, else mark it and MERGE user, item and edge (first ``--naive-events`` events).
* ``load_eps``: ``interestgraph load`` end to end, CSV parsing included.
* ``--fsync``: the embedded server's append-only-file policy for the run, ``always`` (the
  default: fsync before answering, acknowledged events survive a crash) or ``everysec``; ``both``
  also times the platform alternately under each, twice each: ``platform_eps_by_fsync`` holds the
  mean of each, and ``batch20_eps_by_fsync`` the same for the first 20,000 events in batches of
  20 (as API clients post them: one fsync per batch).

Every phase uses a fresh graph: in a throw-away embedded server, and on Neo4j in its database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

from interest_graph.graph import open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.ingest.datasets import read_dataset
from interest_graph.ingest.ingestor import aggregate_batch, item_row
from interest_graph.ingest.loading import load_source, make_ingestor
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings

SMALL_EVENTS = 20000


def set_fsync(settings: Settings, mode: str) -> None:
    """Switch the running embedded server's append-only-file fsync policy."""
    status = EmbeddedServer(settings.data_dir).status()
    assert status is not None
    client = redis.Redis(port=status.port)
    try:
        client.config_set("appendfsync", mode)
    finally:
        client.close()


def compare_fsync(store, settings: Settings, data) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """The platform's events per second under each fsync policy, alternating, twice each: in
    batches of BATCH_SIZE, and the first SMALL_EVENTS events in batches of 20."""
    bulk: dict[str, list[float]] = {}
    small: dict[str, list[float]] = {}
    records = [*data.items.values(), *data.events]
    small_events = data.events[:SMALL_EVENTS]
    for mode in ["always", "everysec"] * 2:
        set_fsync(settings, mode)
        for out, config, recs, n in ((bulk, settings, records, len(data.events)),
                                     (small, settings.with_overrides(batch_size=20),
                                      [*data.items.values(), *small_events], len(small_events))):
            ingestor = make_ingestor(config, fresh(store))
            started = time.perf_counter()
            ingestor.run(recs, pipelined=out is bulk)
            out.setdefault(mode, []).append(n / (time.perf_counter() - started))
    set_fsync(settings, "always")
    return {"platform_eps_by_fsync": {k: round(statistics.mean(v), 1) for k, v in bulk.items()},
            "batch20_eps_by_fsync": {k: round(statistics.mean(v), 1) for k, v in small.items()}}


def fresh(store) -> IngestRepository:  # type: ignore[no-untyped-def]
    store.clear()
    store.init_schema()
    return IngestRepository(store)


def measure(store, settings: Settings, data, naive_events: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Events per second of the platform, the raw store and the naive loop on one store."""
    records = [*data.items.values(), *data.events]
    n = len(data.events)

    # -- the platform ------------------------------------------------------------------
    repo = fresh(store)
    ingestor = make_ingestor(settings, repo)
    started = time.perf_counter()
    summary = ingestor.run(records)
    platform_s = time.perf_counter() - started
    assert summary.events_applied == n, summary.as_dict()

    # -- the raw store: same queries, parameters prepared beforehand -----------------------
    repo = fresh(store)
    prepared = [ingestor.prepare(e) for e in data.events]
    batches = []
    for start in range(0, n, settings.batch_size):
        chunk = prepared[start : start + settings.batch_size]
        users = aggregate_batch(chunk, ingestor.recipe)
        batches.append(([e.hid for e in chunk], users))
    item_rows = [item_row(i) for i in data.items.values()]
    started = time.perf_counter()
    repo.upsert_items(item_rows, now=1.0)
    for ids, users in batches:
        store.write("ingest/apply_events", ids=ids, users=users, now=1.0,
                    half_life=settings.half_life_s)
    raw_s = time.perf_counter() - started

    # -- naive: one query per event ----------------------------------------------------
    fresh(store)
    sample = [e for e in prepared if e.item is not None][:naive_events]
    started = time.perf_counter()
    for ev in sample:
        store.write("bench/naive_apply_event", id=ev.hid, user=ev.user, item=ev.item,
                    ts=ev.ts, weight=5.0, now=1.0)
    naive_s = time.perf_counter() - started
    rates = {"platform": n / platform_s, "raw": n / raw_s, "naive": len(sample) / naive_s,
             "naive_events": len(sample)}
    print(f"{store.backend}: " + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items()),
          file=sys.stderr)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="online-retail")
    parser.add_argument("--naive-events", type=int, default=3000)
    parser.add_argument("--fsync", choices=["always", "everysec", "both"], default="always",
                        help="the embedded server's appendfsync for the run ('both': compare)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ig-bench-") as tmp:
        settings = Settings.from_env(data_dir=Path(tmp), graph_uri=None)
        data = read_dataset(args.dataset, settings.datasets_dir)
        store = open_store(settings)
        try:
            fsync: dict[str, dict[str, float]] = {}
            if args.fsync == "both":
                fsync = compare_fsync(store, settings, data)
            else:
                set_fsync(settings, args.fsync)
            falkor = measure(store, settings, data, args.naive_events)
            # -- end to end from the file ------------------------------------------------
            fresh(store)
            load = load_source(settings, args.dataset, show_progress=False)
        finally:
            store.close()
            EmbeddedServer(Path(tmp)).stop()
        neo4j = None
        if os.environ.get("NEO4J_URI"):
            neo4j_settings = settings.with_overrides(
                graph_uri=os.environ["NEO4J_URI"],
                neo4j_user=os.environ.get("NEO4J_USER", "neo4j"),
                neo4j_password=os.environ.get("NEO4J_PASSWORD", ""))
            neo4j_store = open_store(neo4j_settings)
            try:
                neo4j = measure(neo4j_store, neo4j_settings, data, args.naive_events)
                fresh(neo4j_store)
            finally:
                neo4j_store.close()

    result = {
        "dataset": args.dataset,
        "events": len(data.events),
        "batch_size": settings.batch_size,
        "platform_eps": round(falkor["platform"], 1),
        "raw_store_eps": round(falkor["raw"], 1),
        "naive_eps": round(falkor["naive"], 1),
        "load_eps": round(load.events_per_s, 1),
        "platform_vs_raw": round(falkor["platform"] / falkor["raw"], 3),
        "platform_vs_naive": round(falkor["platform"] / falkor["naive"], 1),
        "naive_events": falkor["naive_events"],
        "fsync": args.fsync,
        **fsync,
    }
    if neo4j is not None:
        result.update({
            "neo4j_platform_eps": round(neo4j["platform"], 1),
            "neo4j_raw_eps": round(neo4j["raw"], 1),
            "neo4j_naive_eps": round(neo4j["naive"], 1),
            "neo4j_platform_vs_raw": round(neo4j["platform"] / neo4j["raw"], 3),
        })
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
