"""Offline evaluation: the served model beside the baselines, on one train/test split.

Protocol (same for every method, one run):

* **Test split** (:func:`~interest_workers.pipelines.model.splits.temporal_split`): per user, the
  distinct items they interacted with are ordered by first interaction time; the last
  ``holdout`` share (users with at least ``min_items`` items) is held out, with all its events.
  A dataset published with a **fixed split** (``test_events``: LightGCN's Gowalla, a ``split``
  column) is scored on its own test pairs instead (:func:`fixed_split`), as its papers score it.
* **Training graph**: the training events go through the recipe exactly as ingestion and the
  refresh take them (:meth:`~interest_graph.recipe.EdgeRecipe.aggregate`, decayed to the split's
  last event), over the catalogue (item records and training items), with the same text features.
* **"ours"** is :func:`~interest_workers.pipelines.model.interest_model.fit` then
  :func:`~interest_workers.pipelines.model.interest_model.serve`, the functions the full refresh calls,
  with the same config: the metrics are those of the top-K a refresh of the training events would
  write as ``INTERESTED_IN`` (consumed items excluded, everything else ranked).
* **Baselines** (:mod:`~interest_workers.pipelines.evaluation.tuning`) are tuned on the same validation
  carve of the training graph that the served fit uses
  (:func:`~interest_workers.pipelines.model.splits.carve_validation`), then refitted on the whole
  graph. The test split is only ever scored once per method.
* **Cold slice**: held-out items that nobody interacted with in the training split (they first
  appear in the test period); ``cold_recall@20`` is Recall@20 over those items alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import scipy.sparse as sp
from torch_geometric import seed_everything

from interest_graph.recipe import EdgeRecipe, EventLike, graph_clock

from ...typing import FloatArray
from ..model.features import TextCache, TextEncoder, build_node_features
from ..model.graph_build import InteractionGraph, build_graph, consumed_matrix
from ..model.interest_model import FitConfig, fit, serve
from ..model.metrics import Targets, evaluate_scorer, index_targets, ranking_metrics, without_targets
from ..model.splits import carve_validation, temporal_split
from .tuning import BASELINES, Validation, fit_baseline

logger = logging.getLogger(__name__)

METHODS = ("ours", *BASELINES)
#: Peers that hold a dense ``items × items`` matrix: not run above the fit's dense item limit
#: (41k items is a 13 GB matrix), as the served blend leaves EASE out there.
DENSE_BASELINES = frozenset({"ease", "itemknn"})
METRICS = ("recall@20", "ndcg@20", "hit@10", "coverage", "cold_recall@20")
K = 20


class ItemLike(Protocol):
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class TrainingData:
    """The training split as the served model sees it, and the held-out targets.

    Attributes:
        graph: The recipe's graph of the training events.
        consumed: ``(U, I)`` what each user consumed (never recommended).
        item_x: ``(I, D)`` item text features.
        user_text_x: ``(U, D)`` users' own text features.
        targets: Held-out items of the test split.
        encoded: Texts that missed the cache.
    """

    graph: InteractionGraph
    consumed: sp.csr_matrix
    item_x: FloatArray
    user_text_x: FloatArray
    targets: Targets
    encoded: int


def training_data(
    train_events: Sequence[EventLike],
    held: Mapping[str, Sequence[str]],
    items: Mapping[str, ItemLike],
    recipe: EdgeRecipe,
    encoder: TextEncoder,
    cache: TextCache | None = None,
) -> TrainingData:
    """Build what a store loaded with ``train_events`` and ``items`` would give the refresh."""
    data = recipe.aggregate(train_events, item_ids=items)
    graph = build_graph(data.user_ids, data.item_ids, data.edges, recipe,
                        graph_clock(data.edges.last_ts))
    feats = build_node_features(graph, {i: r.text for i, r in items.items()}, encoder, cache,
                                user_texts=data.user_text)
    return TrainingData(graph, consumed_matrix(data.edges, graph.num_users, graph.num_items),
                        feats.item_x, feats.user_text_x, index_targets(graph, held), feats.encoded)


def fixed_split(train_events: Sequence[EventLike], test_events: Sequence[EventLike]
                ) -> dict[str, list[str]]:
    """The held-out items of a fixed split: each user's test items, less those the user already
    has in training (consumed or not, the served ranking could not hold them as new)."""
    seen: dict[str, set[str]] = {}
    for e in train_events:
        if e.item_id is not None:
            seen.setdefault(e.user_id, set()).add(e.item_id)
    held: dict[str, dict[str, None]] = {}
    for e in test_events:
        if e.item_id is not None and e.type != "return" and e.item_id not in seen.get(
                e.user_id, ()):
            held.setdefault(e.user_id, {})[e.item_id] = None
    return {u: list(items) for u, items in held.items()}


def run_benchmark(
    events: Sequence[EventLike],
    items: Mapping[str, ItemLike],
    encoder: TextEncoder,
    cache: TextCache | None = None,
    *,
    recipe: EdgeRecipe,
    config: FitConfig,
    methods: Iterable[str] = METHODS,
    holdout: float = 0.2,
    min_items: int = 5,
    test_events: Sequence[EventLike] | None = None,
) -> dict[str, Any]:
    """Evaluate every method on one split of one dataset.

    Args:
        events: All events of the dataset (its training part when ``test_events`` is given).
        items: Item records by id (their text).
        encoder: Text encoder for ``ours``.
        cache: Text embedding cache.
        recipe: Edge weights (the settings': the same as ingestion's).
        config: The served model's fit config (the settings': the same as the refresh's); its
            seed and device serve every trained method.
        methods: Subset of :data:`METHODS`.
        holdout: Share of each user's items held out.
        min_items: Users with fewer items are not held out.
        test_events: A fixed split's test events: no temporal split is made (``holdout`` and
            ``min_items`` are unused), the fit carves its validation from ``events`` alone.

    Returns:
        ``{"methods": {name: metrics + fit_s}, "info": {...}}``.

    Raises:
        ValueError: unknown method name.
    """
    methods = list(methods)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    if test_events is None:
        train_events, held = temporal_split(events, holdout=holdout, min_items=min_items)
    else:
        train_events, held = list(events), fixed_split(events, test_events)
    t0 = time.perf_counter()
    data = training_data(train_events, held, items, recipe, encoder, cache)
    features_s = time.perf_counter() - t0
    graph, targets = data.graph, data.targets
    carved, val_targets = carve_validation(graph, holdout=config.holdout,
                                           min_items=config.min_items)
    val = Validation(carved, without_targets(data.consumed, val_targets), val_targets)
    out: dict[str, Any] = {"methods": {}, "skipped": {}}
    for name in methods:
        if name in DENSE_BASELINES and not config.dense_allowed(graph.num_items):
            out["skipped"][name] = (f"a dense {graph.num_items:,} x {graph.num_items:,} item matrix"
                                    f" (above the dense item limit, {config.dense_item_limit:,})")
            logger.info("%s: not run, %s", name, out["skipped"][name])
            continue
        seed_everything(config.seed)
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        if name == "ours":
            model = fit(graph, data.item_x, data.user_text_x, data.consumed, config)
            top = serve(model.scorer(), data.consumed, K).items[targets.users]
            fit_s = time.perf_counter() - start
            metrics: dict[str, Any] = dict(ranking_metrics(top, targets, graph.num_items, k=K))
            extra = model.selection.as_dict()
        else:
            tuned = fit_baseline(name, graph, val, item_x=data.item_x,
                                 user_text_x=data.user_text_x, seed=config.seed,
                                 device=config.device)
            fit_s = time.perf_counter() - start
            metrics = dict(evaluate_scorer(tuned.scorer, data.consumed, targets, k=K))
            extra = tuned.params
        metrics["fit_s"] = round(fit_s, 3)
        if extra:
            metrics["chosen"] = extra
        out["methods"][name] = metrics
        logger.info("%s: %s", name, metrics)
    out["info"] = {
        "split": "temporal" if test_events is None else "fixed",
        "users": graph.num_users,
        "items": graph.num_items,
        "train_edges": graph.num_edges,
        "test_users": len(targets.users),
        "test_pairs": int(targets.sizes.sum()),
        "cold_test_pairs": int(sum(targets.cold_items[t].sum() for t in targets.items)),
        "texts_encoded": data.encoded,
        "features_s": round(features_s, 3),
    }
    return out
