"""Full-ranking metrics of a top-K list against held-out items.

Every catalogue item is ranked (what the user consumed excluded, as in production): Recall@K,
NDCG@K, HitRate@10, catalogue coverage of the top-K lists, and Recall@K restricted to held-out
items with no training interactions at all (the cold-start slice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from torch import Tensor

from ...typing import IndexArray
from .graph_build import InteractionGraph
from .scores import EmbeddingScorer, Scorer, top_k_items


@dataclass(frozen=True)
class Targets:
    """Held-out items as indices of a training graph.

    Attributes:
        users: ``(T,)`` user indices with at least one held-out item.
        items: Per user, ``(n_u,)`` held-out item indices that the catalogue holds.
        sizes: ``(T,)`` held-out items per user, those outside the catalogue included (they count
            as misses: nothing can recommend them).
        cold_items: ``(I,)`` bool, items without training interactions.
    """

    users: IndexArray
    items: list[IndexArray]
    sizes: IndexArray
    cold_items: np.ndarray


def index_targets(graph: InteractionGraph, held: Mapping[str, Sequence[str]]) -> Targets:
    """Map held-out ids onto ``graph`` (users unknown to the graph are skipped)."""
    users, items, sizes = [], [], []
    for uid in sorted(held):
        u = graph.users.get(uid)
        if u < 0 or not held[uid]:
            continue
        idx = graph.items.to_index(held[uid], missing=-1)
        users.append(u)
        items.append(np.unique(idx[idx >= 0]))
        sizes.append(len(set(held[uid])))
    return Targets(np.asarray(users, np.int64), items, np.asarray(sizes, np.int64),
                   graph.item_degree() == 0)


def without_targets(matrix: sp.csr_matrix, targets: Targets) -> sp.csr_matrix:
    """``matrix`` with the held-out pairs removed (a validation split must not exclude the
    future it predicts)."""
    rows = np.repeat(targets.users, [len(t) for t in targets.items])
    cols = np.concatenate(targets.items) if targets.items else np.zeros(0, np.int64)
    held = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=matrix.shape)
    out = sp.csr_matrix(matrix - matrix.multiply(held))
    out.eliminate_zeros()
    return out


def ranking_metrics(
    top: IndexArray, targets: Targets, num_items: int, *, k: int = 20, hit_k: int = 10
) -> dict[str, float | None]:
    """Metrics of top-K lists.

    Args:
        top: ``(T, K)`` item indices per target user (rows in ``targets.users`` order, ``-1``
            pads), best first.
        targets: Held-out items.
        num_items: Catalogue size (for coverage).
        k: Cut-off for recall, NDCG and coverage.
        hit_k: Cut-off for hit rate.

    Returns:
        ``recall@k``, ``ndcg@k``, ``hit@hit_k``, ``coverage``, ``cold_recall@k`` (``None`` when
        no target is cold).
    """
    top = top[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))  # k may exceed the catalogue
    full_discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg, hit, cold = [], [], [], []
    for row, target in enumerate(targets.items):
        ranked = top[row]
        size = int(targets.sizes[row])
        is_hit = np.isin(ranked, target)
        recall.append(is_hit.sum() / size)
        idcg = full_discounts[: min(size, k)].sum()
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
        "coverage": len(shown) / num_items,
        f"cold_recall@{k}": float(np.mean(cold)) if cold else None,
    }


def evaluate_scorer(
    scorer: Scorer,
    exclude: sp.csr_matrix,
    targets: Targets,
    *,
    k: int = 20,
    hit_k: int = 10,
    batch_size: int = 512,
) -> dict[str, float | None]:
    """Full-ranking metrics of one scorer.

    Args:
        scorer: Anything with ``score(users) -> (B, I)``.
        exclude: ``(U, I)`` matrix whose non-zeros are never ranked (what users consumed).
        targets: Held-out items.
        k: Cut-off for recall, NDCG and coverage.
        hit_k: Cut-off for hit rate.
        batch_size: Users per batch.
    """
    top = top_k_items(scorer, k, users=targets.users, exclude=exclude, batch_size=batch_size).items
    return ranking_metrics(top, targets, scorer.num_items, k=k, hit_k=hit_k)


def embedding_validation(
    exclude: sp.csr_matrix, targets: Targets, *, k: int = 20
) -> Callable[[Tensor, Tensor], float]:
    """A validation function (Recall@k) for early stopping of embedding models."""

    def validate(user_emb: Tensor, item_emb: Tensor) -> float:
        m = evaluate_scorer(EmbeddingScorer(user_emb, item_emb), exclude, targets, k=k)
        return float(m[f"recall@{k}"] or 0.0)

    return validate
