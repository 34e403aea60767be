"""Offline evaluation: temporal split, full-ranking metrics, and the side-by-side benchmark.

Protocol (same for every method, one run):

* **Test split**: per user, the distinct items they interacted with are ordered by first
  interaction time; the last ``holdout`` share (users with at least ``min_items`` items) is held
  out, with all its events. Test items are never in the user's training history.
* **Validation split**: the same procedure applied to the *training* events only. Early stopping,
  ``λ`` grids and blend weights are chosen there; the chosen setting is then refitted on the whole
  training split. The test split is only ever scored once per method.
* **Metrics**: every catalogue item is ranked (the user's training items excluded): Recall@20,
  NDCG@20, HitRate@10, catalogue coverage of the top-20 lists, and Recall@20 restricted to
  held-out items with no training interactions at all (the cold-start slice).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from torch import Tensor

from ..typing import FloatArray, IndexArray
from . import baselines
from .features import TextCache, TextEncoder, build_node_features
from .gcn import TextGCN, embed, seed_everything, train_gcn
from .graph_build import (
    DEFAULT_BEHAVIOUR_WEIGHTS,
    EventLike,
    InteractionGraph,
    build_graph,
    events_to_interactions,
    user_texts,
)
from .scores import BlendScorer, EmbeddingScorer, Scorer, top_k_items

logger = logging.getLogger(__name__)

METHODS = ("ours", "popularity", "itemknn", "ease", "bpr_mf", "lightgcn")
METRICS = ("recall@20", "ndcg@20", "hit@10", "coverage", "cold_recall@20")


class ItemLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def categories(self) -> tuple[str, ...]: ...


def temporal_split(
    events: Sequence[EventLike], *, holdout: float = 0.2, min_items: int = 5
) -> tuple[list[EventLike], dict[str, list[str]]]:
    """Hold out each user's most recently *first-touched* items.

    Args:
        events: All events.
        holdout: Share of each user's distinct items held out (at least one).
        min_items: Users with fewer distinct positive items stay entirely in training.

    Returns:
        ``(training events, held-out item ids per user)``.

    Raises:
        ValueError: ``holdout`` outside ``(0, 1)``.
    """
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    first: dict[str, dict[str, float]] = defaultdict(dict)
    for e in events:
        if e.item_id is None or e.type == "return":
            continue
        seen = first[e.user_id]
        if e.item_id not in seen or e.ts < seen[e.item_id]:
            seen[e.item_id] = e.ts
    held: dict[str, list[str]] = {}
    for user, items in first.items():
        if len(items) < min_items:
            continue
        order = sorted(items, key=lambda i: (items[i], i))
        n = max(1, int(round(len(order) * holdout)))
        held[user] = order[-n:]
    held_sets = {u: set(v) for u, v in held.items()}
    train = [e for e in events if e.item_id is None or e.item_id not in held_sets.get(e.user_id, ())]
    return train, held


@dataclass(frozen=True)
class Targets:
    """Held-out items as indices of a training graph.

    Attributes:
        users: ``(T,)`` user indices with at least one target.
        items: Per user, ``(n_u,)`` target item indices.
        cold_items: ``(I,)`` bool, items without training interactions.
    """

    users: IndexArray
    items: list[IndexArray]
    cold_items: np.ndarray


def index_targets(graph: InteractionGraph, held: Mapping[str, Sequence[str]]) -> Targets:
    """Map held-out ids onto ``graph`` (users unknown to the graph are skipped)."""
    users, items = [], []
    for uid in sorted(held):
        u = graph.users.get(uid)
        if u < 0:
            continue
        idx = graph.items.to_index(held[uid], missing=-1)
        idx = idx[idx >= 0]
        if len(idx):
            users.append(u)
            items.append(np.unique(idx))
    return Targets(np.asarray(users, np.int64), items, graph.item_degree() == 0)


def evaluate_scorer(
    scorer: Scorer,
    train: sp.csr_matrix,
    targets: Targets,
    *,
    k: int = 20,
    hit_k: int = 10,
    batch_size: int = 512,
) -> dict[str, float | None]:
    """Full-ranking metrics of one scorer.

    Args:
        scorer: Anything with ``score(users) -> (B, I)``.
        train: ``(U, I)`` training matrix; its non-zeros are excluded from ranking.
        targets: Held-out items.
        k: Cut-off for recall, NDCG and coverage.
        hit_k: Cut-off for hit rate.
        batch_size: Users per batch.

    Returns:
        ``recall@k``, ``ndcg@k``, ``hit@hit_k``, ``coverage``, ``cold_recall@k`` (``None`` when
        no target is cold).
    """
    top = top_k_items(scorer, k, users=targets.users, exclude=train, batch_size=batch_size).items
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))  # k may exceed the catalogue
    recall, ndcg, hit, cold = [], [], [], []
    for row, target in enumerate(targets.items):
        ranked = top[row]
        is_hit = np.isin(ranked, target)
        recall.append(is_hit.sum() / len(target))
        idcg = discounts[: min(len(target), k)].sum()
        ndcg.append((is_hit * discounts).sum() / idcg)
        hit.append(float(is_hit[:hit_k].any()))
        cold_target = target[targets.cold_items[target]]
        if len(cold_target):
            cold.append(np.isin(ranked, cold_target).sum() / len(cold_target))
    shown = np.unique(top[top >= 0])
    return {
        f"recall@{k}": float(np.mean(recall)) if recall else 0.0,
        f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else 0.0,
        f"hit@{hit_k}": float(np.mean(hit)) if hit else 0.0,
        "coverage": len(shown) / scorer.num_items,
        f"cold_recall@{k}": float(np.mean(cold)) if cold else None,
    }


def embedding_validation(
    train: sp.csr_matrix, targets: Targets, *, k: int = 20
) -> Callable[[Tensor, Tensor], float]:
    """A validation function (Recall@k) for early stopping of embedding models."""

    def validate(user_emb: Tensor, item_emb: Tensor) -> float:
        m = evaluate_scorer(EmbeddingScorer(user_emb, item_emb), train, targets, k=k)
        return float(m[f"recall@{k}"] or 0.0)

    return validate


@dataclass
class Fold:
    """A training graph with its text features and held-out targets."""

    graph: InteractionGraph
    targets: Targets
    user_x: FloatArray
    item_x: FloatArray

    @property
    def binary(self) -> sp.csr_matrix:
        return self.graph.to_csr(binary=True)


def make_fold(
    train_events: Sequence[EventLike],
    held: Mapping[str, Sequence[str]],
    item_ids: Sequence[str],
    item_texts: Mapping[str, str],
    encoder: TextEncoder,
    cache: TextCache | None,
    *,
    half_life_days: float,
    behaviour_weights: Mapping[str, float] = DEFAULT_BEHAVIOUR_WEIGHTS,
) -> tuple[Fold, int]:
    """Build the graph, features and targets of one split; also returns texts encoded."""
    interactions = events_to_interactions(
        train_events, behaviour_weights=behaviour_weights, half_life_days=half_life_days
    )
    graph = build_graph(interactions, item_ids=item_ids)
    feats = build_node_features(
        graph, item_texts, encoder, cache, user_texts=user_texts(train_events)
    )
    return Fold(graph, index_targets(graph, held), feats.user_x, feats.item_x), feats.encoded


def _score_key(m: Mapping[str, float | None]) -> float:
    return float(m["recall@20"] or 0.0) + float(m["ndcg@20"] or 0.0)


@dataclass
class OursModel:
    """The hybrid "ours": text-fed GCN blended with a recency-weighted EASE item-item term."""

    gcn: TextGCN
    user_emb: Tensor
    item_emb: Tensor
    item_term: baselines.EASE
    gcn_weight: float

    def scorer(self) -> Scorer:
        return BlendScorer(
            [EmbeddingScorer(self.user_emb, self.item_emb), self.item_term],
            [self.gcn_weight, 1.0 - self.gcn_weight],
        )


def fit_ours(
    fold: Fold,
    val: Fold,
    *,
    seed: int = 0,
    embedding_dim: int = 64,
    num_layers: int = 2,
    epochs: int = 40,
    lr: float = 0.01,
    batch_size: int = 4096,
    text_loss_weight: float = 0.5,
    id_dropout: float = 0.2,
    l2_grid: Sequence[float] = (100.0, 300.0, 1000.0),
    gcn_weights: Sequence[float] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0),
    device: str | None = None,
) -> tuple[OursModel, dict[str, Any]]:
    """Tune on ``val`` (sub-train + validation targets), refit on ``fold`` (whole training split).

    Returns:
        The refitted model and what was chosen.
    """
    def new_gcn(f: Fold) -> TextGCN:
        seed_everything(seed)
        return TextGCN(
            f.graph.num_users, f.graph.num_items, f.item_x.shape[1], embedding_dim, num_layers,
            id_dropout=id_dropout,
        )

    gcn = new_gcn(val)
    res = train_gcn(
        gcn, val.graph, val.user_x, val.item_x, epochs=epochs, lr=lr, batch_size=batch_size,
        text_loss_weight=text_loss_weight, validation=embedding_validation(val.binary, val.targets),
        seed=seed, device=device,
    )
    ue, ie = embed(gcn, val.graph, val.user_x, val.item_x, device=device)
    best: tuple[float, float, float] | None = None
    for l2 in l2_grid:
        term = baselines.EASE(l2, history="weighted").fit(val.graph)
        for w in gcn_weights:
            scorer = BlendScorer([EmbeddingScorer(ue, ie), term], [w, 1.0 - w])
            key = _score_key(evaluate_scorer(scorer, val.binary, val.targets))
            if best is None or key > best[0]:
                best = (key, l2, w)
    assert best is not None
    _, l2, w = best
    logger.info("ours: best epoch %d, item-term l2 %s, gcn weight %s", res.best_epoch, l2, w)
    gcn = new_gcn(fold)
    train_gcn(
        gcn, fold.graph, fold.user_x, fold.item_x, epochs=max(res.best_epoch, 1), lr=lr,
        batch_size=batch_size, text_loss_weight=text_loss_weight, seed=seed, device=device,
    )
    ue, ie = embed(gcn, fold.graph, fold.user_x, fold.item_x, device=device)
    term = baselines.EASE(l2, history="weighted").fit(fold.graph)
    chosen = {"best_epoch": res.best_epoch, "val_recall@20": res.best_val, "item_l2": l2, "gcn_weight": w}
    return OursModel(gcn, ue, ie, term, w), chosen


def _fit_baseline(name: str, fold: Fold, val: Fold, seed: int, batch_size: int) -> Scorer:
    if name == "popularity":
        return baselines.Popularity().fit(fold.graph)
    if name == "itemknn":
        best = max(
            (50, 200),
            key=lambda k: _score_key(
                evaluate_scorer(baselines.ItemKNN(k).fit(val.graph), val.binary, val.targets)
            ),
        )
        return baselines.ItemKNN(best).fit(fold.graph)
    if name == "ease":
        best_l2 = max(
            (100.0, 300.0, 1000.0),
            key=lambda l2: _score_key(
                evaluate_scorer(baselines.EASE(l2).fit(val.graph), val.binary, val.targets)
            ),
        )
        return baselines.EASE(best_l2).fit(fold.graph)
    if name in ("bpr_mf", "lightgcn"):
        cls = baselines.BPRMF if name == "bpr_mf" else baselines.LightGCNBaseline
        tuned = cls(seed=seed, batch_size=batch_size).fit(
            val.graph, embedding_validation(val.binary, val.targets)
        )
        epochs = max(tuned.train_result.best_epoch, 1)
        return cls(epochs=epochs, seed=seed, batch_size=batch_size).fit(fold.graph)
    raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")


def run_benchmark(
    events: Sequence[EventLike],
    items: Mapping[str, ItemLike],
    encoder: TextEncoder,
    cache: TextCache | None = None,
    *,
    methods: Iterable[str] = METHODS,
    seed: int = 0,
    holdout: float = 0.2,
    min_items: int = 5,
    half_life_days: float = 90.0,
    ours_params: Mapping[str, Any] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Evaluate every method on one temporal split of one dataset.

    Args:
        events: All events of the dataset.
        items: Item records by id (text and categories).
        encoder: Text encoder for ``ours``.
        cache: Text embedding cache.
        methods: Subset of :data:`METHODS`.
        seed: Seed for every trained method.
        holdout: Share of each user's items held out (test, then validation).
        min_items: Users with fewer items are not held out.
        half_life_days: Time decay of interaction weights.
        ours_params: Keyword arguments for :func:`fit_ours`.
        device: ``None`` = CUDA when present.

    Returns:
        ``{"methods": {name: metrics + fit_s}, "info": {...}}``.

    Raises:
        ValueError: unknown method name.
    """
    methods = list(methods)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    item_ids = sorted(set(items) | {e.item_id for e in events if e.item_id is not None})
    item_texts = {i: r.text for i, r in items.items()}
    train_events, held = temporal_split(events, holdout=holdout, min_items=min_items)
    sub_events, val_held = temporal_split(train_events, holdout=holdout, min_items=min_items)
    t0 = time.perf_counter()
    fold, enc1 = make_fold(
        train_events, held, item_ids, item_texts, encoder, cache, half_life_days=half_life_days
    )
    val, enc2 = make_fold(
        sub_events, val_held, item_ids, item_texts, encoder, cache, half_life_days=half_life_days
    )
    features_s = time.perf_counter() - t0
    out: dict[str, Any] = {"methods": {}}
    train_csr = fold.binary
    # ~12 steps per epoch whatever the graph size keeps both datasets inside the time budget.
    batch_size = max(4096, math.ceil(fold.graph.num_edges / 12))
    for name in methods:
        seed_everything(seed)
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        if name == "ours":
            params = {"batch_size": batch_size, **(ours_params or {})}
            model, extra = fit_ours(fold, val, seed=seed, device=device, **params)
            scorer: Scorer = model.scorer()
        else:
            scorer = _fit_baseline(name, fold, val, seed, batch_size)
        fit_s = time.perf_counter() - start
        metrics: dict[str, Any] = dict(evaluate_scorer(scorer, train_csr, fold.targets))
        metrics["fit_s"] = round(fit_s, 3)
        if extra:
            metrics["chosen"] = extra
        out["methods"][name] = metrics
        logger.info("%s: %s", name, metrics)
    out["info"] = {
        "users": fold.graph.num_users,
        "items": fold.graph.num_items,
        "train_edges": fold.graph.num_edges,
        "test_users": len(fold.targets.users),
        "test_pairs": int(sum(len(t) for t in fold.targets.items)),
        "cold_test_pairs": int(sum(fold.targets.cold_items[t].sum() for t in fold.targets.items)),
        "texts_encoded": enc1 + enc2,
        "features_s": round(features_s, 3),
    }
    return out
