"""Segment quality: stability across seeds and periods, predictive lift, separation, baselines.

Usage::

    PYTHONPATH=platform:workers python benchmarks/segments.py [--dataset NAME_OR_PATH ...]

It measures what the full refresh does: the refresh's inputs are built from the dataset with the
project's own code (the recipe's :meth:`~interest_graph.recipe.EdgeRecipe.aggregate` folds events
into the edges ingestion would store, :func:`~interest_workers.pipelines.value.customer_value.customer_value`
gives RFM), and segmented by the refresh's own :func:`segment_interests`. Runs per dataset:

* the whole data with seeds 0 and 1 (``stability_same_data``: their adjusted Rand index);
* the data up to T = end − 90 days (``predictive_lift``: the categories each segment
  over-indexes on against purchases after T, see ``pipelines/segments/segment_quality.py``;
  ``predictive_lift_of_label_categories``: the same for the categories that name it);
* the data up to T + 30 days, started from T's saved segments as the nightly refresh is
  (``stability_next_period``: ARI with T's segments on the users present in both).

Baselines, with the same k as ours in each run and the same warm start: k-means on RFM features
alone (log recency, frequency and spend, standardised) and k-means on raw category-share vectors.

The last line of stdout is one JSON object::

    {"datasets": {"<name>": {"stability_same_data", "stability_next_period", "predictive_lift",
     "predictive_lift_by_segment", "predictive_lift_of_label_categories", "separation", "k",
     "sizes",
     "baselines": {"rfm": {...same keys...}, "category_share": {...}}}}, "total_s": ...}
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans

ROOT = Path(__file__).resolve().parents[1]
for _src in ("platform", "workers"):
    if str(ROOT / _src) not in sys.path:
        sys.path.insert(0, str(ROOT / _src))

from interest_graph.ingest.datasets import read_dataset  # noqa: E402
from interest_graph.ingest.records import Event  # noqa: E402
from interest_graph.recipe import EdgeArrays, EdgeRecipe  # noqa: E402
from interest_graph.settings import Settings  # noqa: E402
from interest_workers.pipelines.segments.segment_briefs import (  # noqa: E402
    distinctive_categories,
    segment_labels,
)
from interest_workers.pipelines.segments.segment_quality import (  # noqa: E402
    ari_on_common,
    predictive_lift,
)
from interest_workers.pipelines.segments.segmentation import (  # noqa: E402
    RESTARTS,
    interest_shares,
    sample_silhouette,
    segment_interests,
)
from interest_workers.pipelines.value.customer_value import customer_value  # noqa: E402

log = logging.getLogger("segments")
DAY = 86400.0
LIFT_SPLIT_DAYS = 90
NEXT_PERIOD_DAYS = 30
#: Event types that count as buying in the test period (ratings: MovieLens's only behaviour).
BUYING = frozenset({"purchase", "rating", "review"})


@dataclass
class Inputs:
    """What a full refresh at ``now`` reads: users, their edges, item categories, purchases."""

    now: float
    user_ids: tuple[str, ...]
    edges: EdgeArrays
    item_categories: list[list[str]]
    value: Any  # pandas frame indexed by user id: recency_days, frequency, monetary, tier, ...

    def shares(self, categories: Sequence[str] | None = None) -> tuple[sp.csr_matrix,
                                                                      tuple[str, ...]]:
        return interest_shares(self.edges, len(self.user_ids), self.item_categories,
                               categories=categories)


def purchase_history(events: Sequence[Event]) -> dict[str, tuple[list[int], float]]:
    """Per user: distinct purchase days and net revenue, as ingestion keeps them on the user."""
    days: dict[str, set[int]] = defaultdict(set)
    revenue: dict[str, float] = defaultdict(float)
    for e in events:
        if e.type == "purchase":
            days[e.user_id].add(int(e.ts // DAY))
            revenue[e.user_id] += e.quantity * (e.price or 0.0)
        elif e.type == "return":
            revenue[e.user_id] -= e.quantity * (e.price or 0.0)
    return {u: (sorted(d), revenue[u]) for u, d in days.items()}


def refresh_inputs(events: Sequence[Event], items: dict[str, Any], now: float,
                   recipe: EdgeRecipe) -> Inputs:
    seen = [e for e in events if e.ts <= now]
    graph = recipe.aggregate(seen, items)
    cats = [list(items[i].categories) if i in items else [] for i in graph.item_ids]
    value = customer_value(purchase_history(seen), now, fit=False).frame
    return Inputs(now, graph.user_ids, graph.edges, cats, value)


# -- the three methods: ours and the two baselines -------------------------------------------------


@dataclass
class Run:
    """One segmentation: labels per graph user, its space (for the silhouette) and what the next
    period's run starts from."""

    ids: tuple[str, ...]
    labels: np.ndarray
    points: np.ndarray | sp.csr_matrix
    state: Any
    names: list[str]


def ours(inp: Inputs, seed: int, previous: Run | None = None, k: int | None = None) -> Run:
    model = segment_interests(inp.edges, len(inp.user_ids), inp.item_categories, seed=seed,
                              previous=None if previous is None else previous.state)
    seg = model.segmentation
    presence, names = model.shares, list(model.space.categories)
    labels = segment_labels(distinctive_categories(seg.labels, presence, names))
    return Run(inp.user_ids, seg.labels, model.points, model.saved(), labels)


def _kmeans(x: np.ndarray | sp.csr_matrix, k: int, seed: int,
            init: np.ndarray | None) -> KMeans:
    if init is not None and len(init) == k:
        return KMeans(n_clusters=k, init=init, n_init=1, random_state=seed).fit(x)
    return KMeans(n_clusters=k, n_init=RESTARTS, random_state=seed).fit(x)


def rfm(inp: Inputs, seed: int, previous: Run | None = None, k: int | None = None) -> Run:
    """k-means on standardised log recency, log frequency and log spend; users without a
    purchase form one extra group."""
    ids = inp.user_ids
    frame = inp.value.reindex(list(ids))
    known = frame["frequency"].notna().to_numpy()
    feats = np.log1p(frame[["recency_days", "frequency", "monetary"]].to_numpy(float)[known]
                     .clip(min=0))
    mean, std = (feats.mean(0), feats.std(0) + 1e-9) if previous is None else previous.state[1:]
    z = (feats - mean) / std
    init = None if previous is None else previous.state[0]
    model = _kmeans(z, int(k or 5), seed, init)
    labels = np.full(len(ids), model.n_clusters, dtype=np.int64)
    labels[known] = model.labels_
    points = np.zeros((len(ids), 3))
    points[known] = z
    return Run(ids, labels, points, (model.cluster_centers_, mean, std), [])


def category_share(inp: Inputs, seed: int, previous: Run | None = None,
                   k: int | None = None) -> Run:
    """k-means on the raw category-share vectors (columns aligned with the previous run)."""
    names = None if previous is None else previous.state[1]
    shares, cols = inp.shares(names)
    init = None if previous is None else previous.state[0]
    model = _kmeans(shares, int(k or 5), seed, init)
    return Run(inp.user_ids, model.labels_, shares, (model.cluster_centers_, cols), [])


Method = Callable[..., Run]


def evaluate(method: Method, full: Inputs, at_t: Inputs, at_t30: Inputs,
             test: dict[str, set[str]], ks: dict[str, int] | None) -> tuple[dict[str, Any],
                                                                            dict[str, int]]:
    """The issue's figures for one method; ``ks`` fixes k per run (the baselines take ours)."""
    started = time.perf_counter()
    k = ks or {}
    a = method(full, 0, k=k.get("full"))
    b = method(full, 1, k=k.get("full"))
    t = method(at_t, 0, k=k.get("t"))
    t30 = method(at_t30, 0, previous=t, k=k.get("t"))
    shares, names = at_t.shares()
    rows = {u: i for i, u in enumerate(at_t.user_ids)}
    test_rows = {rows[u]: cats for u, cats in test.items() if u in rows}
    lift = predictive_lift(t.labels, shares, names, test_rows)
    label_lift = predictive_lift(t.labels, shares, names, test_rows, by="score")
    dense = a.points.toarray() if sp.issparse(a.points) else a.points
    sizes = sorted(np.bincount(a.labels).tolist(), reverse=True)
    by_segment = {}
    for s, value in enumerate(lift.per_segment):
        name = t.names[s] if s < len(t.names) else f"segment {s}"
        by_segment[name] = None if value is None else round(value, 3)
    out = {
        "stability_same_data": round(ari_on_common(a.ids, a.labels, b.ids, b.labels), 4),
        "stability_next_period": round(ari_on_common(t.ids, t.labels, t30.ids, t30.labels), 4),
        "predictive_lift": round(lift.mean, 4),
        "predictive_lift_by_segment": by_segment,
        "predictive_lift_of_label_categories": round(label_lift.mean, 4),
        "separation": round(sample_silhouette(dense, a.labels), 4),
        "k": int(len(set(a.labels.tolist()))),
        "sizes": sizes,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return out, {"full": int(a.labels.max()) + 1, "t": int(t.labels.max()) + 1}


def test_purchases(events: Sequence[Event], items: dict[str, Any], after: float
                   ) -> dict[str, set[str]]:
    """Per user, the categories they bought after ``after``."""
    out: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.ts > after and e.type in BUYING and e.item_id in items:
            out[e.user_id].update(items[e.item_id].categories)
    return dict(out)


def run_dataset(name: str, settings: Settings) -> dict[str, Any]:
    started = time.perf_counter()
    ds = read_dataset(name, settings.datasets_dir)
    events = sorted(ds.events, key=lambda e: e.ts)
    end = events[-1].ts
    split = end - LIFT_SPLIT_DAYS * DAY
    recipe = EdgeRecipe.from_settings(settings)
    full = refresh_inputs(events, ds.items, end, recipe)
    at_t = refresh_inputs(events, ds.items, split, recipe)
    at_t30 = refresh_inputs(events, ds.items, split + NEXT_PERIOD_DAYS * DAY, recipe)
    test = test_purchases(events, ds.items, split)
    log.info("%s: inputs in %.1fs (%d users, %d at T)", name, time.perf_counter() - started,
             len(full.user_ids), len(at_t.user_ids))
    result, ks = evaluate(ours, full, at_t, at_t30, test, None)
    baselines = {}
    has_value = not full.value.empty
    for key, method in (("rfm", rfm), ("category_share", category_share)):
        if key == "rfm" and not has_value:
            baselines[key] = {"skipped": "no purchases with prices: RFM is undefined"}
            continue
        baselines[key], _ = evaluate(method, full, at_t, at_t30, test, ks)
    result["baselines"] = baselines
    result["users"] = len(full.user_ids)
    result["users_at_split"] = len(at_t.user_ids)
    result["test_buyers"] = len(test)
    result["total_s"] = round(time.perf_counter() - started, 1)
    return result


def _finite(value: Any) -> Any:
    """NaN (e.g. ARI with no common users) as null, so the last line is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", help="name or path (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    names = args.dataset or ["online-retail", "ml-100k"]
    started = time.perf_counter()
    out: dict[str, Any] = {"datasets": {}}
    for name in names:
        result = run_dataset(name, settings)
        out["datasets"][name] = result
        base = result["baselines"]
        for key, r in (("ours", result), *base.items()):
            if "skipped" in r:
                print(f"{name:>14} {key:>15}  skipped: {r['skipped']}", flush=True)
                continue
            print(f"{name:>14} {key:>15}  same {r['stability_same_data']:.3f}  next "
                  f"{r['stability_next_period']:.3f}  lift {r['predictive_lift']:.2f}  "
                  f"sil {r['separation']:.3f}  k {r['k']}", flush=True)
    out["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(_finite(out), allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
