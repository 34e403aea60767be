"""The full refresh's compute stages in process, without store or broker (``scale.py --compute-only``).

On a synth folder of one factor: read the events and fold them with the recipe (what the pull
gives a refresh), then time features, train, score (top-K with reasons and top categories for
every user), similar items, value and segments, as the full refresh runs them. Imports no graph
driver, broker or Celery (a GPU machine need not have them); ``lifetimes`` is optional (without it
the value stage is skipped and segments get no value fields).

One JSON object per factor: ``{"factor", "users", "items", "events", "edges", "device",
"encoder", "stages": {stage: seconds}, "stage_rss_mb": {stage: RSS after it}, "peak_rss_mb",
"cuda_peak_mb", "selection"}``.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.records import Event, ItemRecord
from interest_graph.recipe import EdgeRecipe, graph_clock

T = TypeVar("T")


def _rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    """Seconds and RSS after each stage."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}
        self.rss: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], T]) -> T:
        import torch

        started = time.perf_counter()
        out = fn()
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.seconds[name] = round(time.perf_counter() - started, 3)
        self.rss[name] = round(_rss_mb())
        print(f"  {name}: {self.seconds[name]:.1f}s, RSS {self.rss[name]:,.0f} MB",
              file=sys.stderr)
        return out


def make_encoder(name: str, path: Path | None, device: str) -> Any:
    from interest_workers.pipelines.model.features import HashingEncoder, SentenceTransformerEncoder

    if name == "hashing":
        return HashingEncoder(dim=384)
    return SentenceTransformerEncoder(path, device=device)


def read_folder(folder: Path, recipe: EdgeRecipe) -> dict[str, Any]:
    """Events and items of a generic-format folder, folded as ingestion folds them."""
    items: dict[str, ItemRecord] = {}
    purchases: dict[str, tuple[set[int], float]] = {}
    counted = [0]

    def events() -> Iterator[Event]:
        for record in open_dataset(folder).records():
            if isinstance(record, ItemRecord):
                items[record.item_id] = record
            elif isinstance(record, Event):
                counted[0] += 1
                if record.type in ("purchase", "return"):
                    days, revenue = purchases.get(record.user_id, (set(), 0.0))
                    amount = record.quantity * (record.price or 0.0)
                    if record.type == "purchase":
                        days.add(int(record.ts // 86400))
                        revenue += amount
                    else:
                        revenue -= amount
                    purchases[record.user_id] = (days, revenue)
                yield record

    # The catalogue is read as the events stream by: aggregate reads it after the last event.
    data = recipe.aggregate(events(), item_ids=items)
    return {"data": data, "items": items, "events": counted[0],
            "purchases": {u: (tuple(sorted(d)), r) for u, (d, r) in purchases.items() if d}}


def run(folder: Path, factor: int, *, device: str, encoder: str, encoder_path: Path | None,
        epochs: int | None, seed: int, top_k: int = 20) -> dict[str, Any]:
    """Every compute stage on ``folder``; the result row of one factor."""
    import torch

    from interest_workers.pipelines.model.features import build_node_features
    from interest_workers.pipelines.model.graph_build import build_graph, consumed_matrix
    from interest_workers.pipelines.model.interest_model import FitConfig, fit
    from interest_workers.pipelines.model.scores import similar_items
    from interest_workers.pipelines.value.churn import ChurnBasis, refresh_churn_basis
    from interest_workers.pipelines.value.customer_value import customer_value, value_fields
    from interest_workers.segments import run_segment_stage
    from interest_workers.shards import ShardInputs, score_users

    timer = Timer(device)
    recipe = EdgeRecipe()
    read = timer.run("read", lambda: read_folder(folder, recipe))
    data, items = read["data"], read["items"]
    ids = list(data.item_ids)
    texts = {i: items[i].text for i in ids if i in items}
    cats = [tuple(sorted(c for c in (items[i].categories if i in items else ()) if c)) for i in ids]
    titles = [items[i].title if i in items else "" for i in ids]
    as_of = graph_clock(data.edges.last_ts)
    graph = timer.run("build_graph", lambda: build_graph(data.user_ids, data.item_ids, data.edges,
                                                         recipe, as_of))
    consumed = consumed_matrix(data.edges, graph.num_users, graph.num_items)
    enc = make_encoder(encoder, encoder_path, device)
    feats = timer.run("features", lambda: build_node_features(graph, texts, enc, None,
                                                              user_texts=data.user_text))
    config = FitConfig(seed=seed, device=device,
                       **({"max_epochs": epochs} if epochs else {}))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    model = timer.run("train", lambda: fit(graph, feats.item_x, feats.user_text_x, consumed,
                                           config))
    inputs = ShardInputs(model.scorer(), model.user_emb, model.item_emb, consumed,
                         graph.to_csr(binary=True), graph.users.ids, graph.items.ids, cats, titles)
    timer.run("score", lambda: score_users(inputs, np.arange(graph.num_users), top_k))
    timer.run("similar", lambda: similar_items(model.item_emb, 10))

    def value() -> tuple[list[dict[str, Any]], Any]:
        try:
            val = customer_value(read["purchases"], as_of)
        except ImportError:  # no lifetimes on this machine
            return [{} for _ in graph.users.ids], ChurnBasis("none", False, None, 90, (),
                                                             "no value model")
        churn = refresh_churn_basis(val.frame, read["purchases"], as_of)
        return value_fields(churn.apply(val.frame), graph.users.ids), churn

    values, churn = timer.run("value", value)
    timer.run("segments", lambda: run_segment_stage(data.edges, graph.num_users, cats, values,
                                                    churn, seed=seed, previous=None))
    cuda_peak = (round(torch.cuda.max_memory_allocated() / 2**20)
                 if device.startswith("cuda") else None)
    return {"factor": factor, "users": graph.num_users, "items": graph.num_items,
            "events": read["events"], "edges": graph.num_edges, "device": device,
            "encoder": enc.name, "stages": timer.seconds, "stage_rss_mb": timer.rss,
            "peak_rss_mb": round(_peak_mb()), "cuda_peak_mb": cuda_peak,
            "selection": model.selection.as_dict(),
            "compute_s": round(sum(v for k, v in timer.seconds.items() if k != "read"), 2)}


def main() -> None:
    """One factor in this process (``scale.py --compute-only`` runs one child per factor, so each
    factor's peak RSS is its own)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a synth folder (interestgraph synth)")
    parser.add_argument("--factor", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--encoder", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--encoder-path", type=Path, default=None)
    parser.add_argument("--train-epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # The model's own log lines say where the train stage's time goes (carve, terms, refit).
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    row = run(args.folder, args.factor, device=args.device, encoder=args.encoder,
              encoder_path=args.encoder_path, epochs=args.train_epochs, seed=args.seed)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
