"""Offline evaluation: the served model beside the baselines, on one temporal split.

Protocol (same for every method, one run):

* **Test split** (:func:`~interest_workers.pipelines.splits.temporal_split`): per user, the
  distinct items they interacted with are ordered by first interaction time; the last
  ``holdout`` share (users with at least ``min_items`` items) is held out, with all its events.
* **Training graph**: the training events go through the recipe exactly as ingestion and the
  refresh take them (:meth:`~interest_graph.recipe.EdgeRecipe.aggregate`, decayed to the split's
  last event), over the catalogue (item records and training items), with the same text features.
* **"ours"** is :func:`~interest_workers.pipelines.interest_model.fit` then
  :func:`~interest_workers.pipelines.interest_model.serve`, the functions the full refresh calls,
  with the same config: the metrics are those of the top-K a refresh of the training events would
  write as ``INTERESTED_IN`` (consumed items excluded, everything else ranked).
* **Baselines** are tuned on the same validation carve of the training graph that the served fit
  uses (:func:`~interest_workers.pipelines.splits.carve_validation`), then refitted on the whole
  graph. The test split is only ever scored once per method.
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

from ..typing import FloatArray
from . import baselines
from .features import TextCache, TextEncoder, build_node_features
from .graph_build import InteractionGraph, build_graph, consumed_matrix
from .interest_model import FitConfig, fit, serve
from .metrics import (
    Targets,
    embedding_validation,
    evaluate_scorer,
    index_targets,
    ranking_metrics,
    without_targets,
)
from .scores import Scorer
from .splits import carve_validation, temporal_split

logger = logging.getLogger(__name__)

METHODS = ("ours", "popularity", "itemknn", "ease", "bpr_mf", "lightgcn")
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


def _score_key(m: Mapping[str, float | None]) -> float:
    return float(m["recall@20"] or 0.0) + float(m["ndcg@20"] or 0.0)


def _fit_baseline(name: str, graph: InteractionGraph, val: InteractionGraph,
                  val_exclude: sp.csr_matrix, val_targets: Targets, seed: int,
                  batch_size: int) -> Scorer:
    def tuned(candidates: Iterable[Any], make: Any) -> Any:
        return max(candidates, key=lambda c: _score_key(
            evaluate_scorer(make(c).fit(val), val_exclude, val_targets)))

    if name == "popularity":
        return baselines.Popularity().fit(graph)
    if name == "itemknn":
        return baselines.ItemKNN(tuned((50, 200), baselines.ItemKNN)).fit(graph)
    if name == "ease":
        return baselines.EASE(tuned((100.0, 300.0, 1000.0), baselines.EASE)).fit(graph)
    if name in ("bpr_mf", "lightgcn"):
        cls = baselines.BPRMF if name == "bpr_mf" else baselines.LightGCNBaseline
        trial = cls(seed=seed, batch_size=batch_size).fit(
            val, embedding_validation(val_exclude, val_targets))
        epochs = max(trial.train_result.best_epoch, 1)
        return cls(epochs=epochs, seed=seed, batch_size=batch_size).fit(graph)
    raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")


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
) -> dict[str, Any]:
    """Evaluate every method on one temporal split of one dataset.

    Args:
        events: All events of the dataset.
        items: Item records by id (their text).
        encoder: Text encoder for ``ours``.
        cache: Text embedding cache.
        recipe: Edge weights (the settings': the same as ingestion's).
        config: The served model's fit config (the settings': the same as the refresh's); its
            seed and device serve every trained method.
        methods: Subset of :data:`METHODS`.
        holdout: Share of each user's items held out.
        min_items: Users with fewer items are not held out.

    Returns:
        ``{"methods": {name: metrics + fit_s}, "info": {...}}``.

    Raises:
        ValueError: unknown method name.
    """
    methods = list(methods)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    train_events, held = temporal_split(events, holdout=holdout, min_items=min_items)
    t0 = time.perf_counter()
    data = training_data(train_events, held, items, recipe, encoder, cache)
    features_s = time.perf_counter() - t0
    graph, targets = data.graph, data.targets
    val, val_targets = carve_validation(graph, holdout=config.holdout, min_items=config.min_items)
    val_exclude = without_targets(data.consumed, val_targets)
    out: dict[str, Any] = {"methods": {}}
    for name in methods:
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
            scorer = _fit_baseline(name, graph, val, val_exclude, val_targets, config.seed,
                                   config.batch_size(graph.num_edges))
            fit_s = time.perf_counter() - start
            metrics = dict(evaluate_scorer(scorer, data.consumed, targets, k=K))
        metrics["fit_s"] = round(fit_s, 3)
        if extra:
            metrics["chosen"] = extra
        out["methods"][name] = metrics
        logger.info("%s: %s", name, metrics)
    out["info"] = {
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
