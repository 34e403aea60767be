"""What is served is what is measured: a full refresh's INTERESTED_IN scores as the benchmark's "ours".

The training split of an Online Retail slice is loaded into the embedded store and refreshed by a
real worker; the served top-20 lists, read back from the graph, are scored against the held-out
items and must give the metrics the evaluation computes for "ours" on the same split with the same
settings.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from interest_graph.graph import GraphStore
from interest_graph.ingest.records import Event, parse_event, parse_item
from interest_graph.privacy import Pseudonymiser
from interest_graph.recipe import EdgeRecipe
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_FULL, TaskClient

from .conftest import CLI, RetailSlice, start_worker, stop_process
from .test_refresh import wait

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPOCHS = 3


@pytest.fixture(scope="module")
def worker(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    env = {**cli_env, "INTERESTGRAPH_ENCODER": "hashing",
           "INTERESTGRAPH_TRAIN_EPOCHS": str(EPOCHS)}
    proc = start_worker(env, tmp_path_factory.mktemp("worker") / "worker.log")
    yield
    stop_process(proc)


def test_served_interests_score_as_the_benchmarks_ours(
        falkor_store: GraphStore, embedded_settings: Settings, cli_env: dict[str, str],
        retail_slice: RetailSlice, worker: None, tmp_path: Path) -> None:
    from interest_workers.pipelines.evaluation.evaluation import K, run_benchmark, training_data
    from interest_workers.pipelines.model.interest_model import FitConfig
    from interest_workers.pipelines.model.metrics import ranking_metrics
    from interest_workers.pipelines.model.splits import temporal_split
    from interest_workers.resources import make_encoder

    events = [parse_event(e) for e in retail_slice.events]
    item_lines = (retail_slice.folder / "items.jsonl").read_text().splitlines()
    items = {r.item_id: r for r in (parse_item(json.loads(line)) for line in item_lines)}
    # The split is made on the ids the graph will hold (pseudonymised users): tied timestamps are
    # broken by a hash of the user and item ids, so splitting the raw ids would hold out other items.
    p = Pseudonymiser("test-secret")
    graph_events = [Event(e.event_id, p.user(e.user_id), e.item_id, e.type, e.ts, e.quantity,
                          e.price, e.rating, e.text) for e in events]
    graph_train, held = temporal_split(graph_events)
    kept = {e.event_id for e in graph_train}
    train = [e for e in events if e.event_id in kept]
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "events.jsonl").write_text("".join(
        json.dumps({"event_id": e.event_id, "user_id": e.user_id, "item_id": e.item_id,
                    "type": e.type, "timestamp": e.ts, "quantity": e.quantity,
                    "price": e.price}) + "\n" for e in train))
    (folder / "items.jsonl").write_text((retail_slice.folder / "items.jsonl").read_text())
    # One batch: each edge's weight is then folded in one pass, as the evaluation folds it.
    load_env = {**cli_env, "INTERESTGRAPH_BATCH_SIZE": str(len(train) + 1)}
    subprocess.run([*CLI, "load", str(folder)], env=load_env, check=True, capture_output=True)
    client = TaskClient(embedded_settings)
    try:
        report = wait(client, client.send(REFRESH_FULL))
    finally:
        client.close()
    assert report["status"] == "active"

    # The benchmark's "ours" on the same split, the settings the worker runs with, and the
    # graph's (pseudonymised) user ids, which fix the users' order as in the store.
    settings = embedded_settings.with_overrides(train_epochs=EPOCHS, encoder="hashing")
    recipe, config = EdgeRecipe.from_settings(settings), FitConfig.from_settings(settings)
    encoder = make_encoder(settings)
    measured = run_benchmark(graph_events, items, encoder, recipe=recipe, config=config,
                             methods=["ours"])["methods"]["ours"]

    # The served lists, scored against the same held-out items.
    data = training_data(graph_train, held, items, recipe, encoder)
    served: dict[str, list[str]] = {}
    for row in falkor_store.read("stats/active_interests"):
        served.setdefault(row["user"], []).append(row["item"])
    top = np.full((len(data.targets.users), K), -1, np.int64)
    for r, u in enumerate(data.targets.users):
        ids = served.get(data.graph.users.ids[u], [])
        top[r, : len(ids)] = data.graph.items.to_index(ids)
    assert (top[:, 0] >= 0).all(), "every evaluated user is served"
    from_graph = ranking_metrics(top, data.targets, data.graph.num_items, k=K)
    assert measured["recall@20"] > 0.02, measured
    for key in ("recall@20", "ndcg@20", "hit@10", "coverage"):
        assert from_graph[key] == pytest.approx(measured[key], abs=1e-9), key
    assert (from_graph["cold_recall@20"] is None) == (measured["cold_recall@20"] is None)
