"""Scores from embeddings: top-K items per user (with reasons), category interest, similar items.

Everything works on user batches so a ``(U, I)`` score matrix is never materialised whole.
Any object with ``score(user_index) -> (B, I)`` (a :class:`Scorer`) can be ranked, which is how the
evaluation ranks baselines and the hybrid model with the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from ..typing import FloatArray, IndexArray

logger = logging.getLogger(__name__)


class Scorer(Protocol):
    """Scores every item for a batch of users."""

    @property
    def num_items(self) -> int: ...

    def score(self, users: IndexArray) -> FloatArray:
        """Args: users ``(B,)`` indices. Returns: ``(B, I)`` scores (higher is better)."""
        ...


def _np(x: torch.Tensor | np.ndarray) -> FloatArray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


class EmbeddingScorer:
    """Dot-product scores ``user_emb @ item_emb.T``.

    Args:
        user_emb: ``(U, D)``.
        item_emb: ``(I, D)``.
    """

    def __init__(self, user_emb: torch.Tensor | np.ndarray, item_emb: torch.Tensor | np.ndarray):
        self.user_emb = _np(user_emb)
        self.item_emb = _np(item_emb)

    @property
    def num_items(self) -> int:
        return int(self.item_emb.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return self.user_emb[users] @ self.item_emb.T


class BlendScorer:
    """A weighted sum of scorers, each standardised per user (zero mean, unit std over items).

    Standardising makes weights comparable between models whose scores live on different scales
    (GCN dot products, item-item regression scores).

    Args:
        scorers: Component scorers over the same items.
        weights: One weight per scorer.
    """

    def __init__(self, scorers: Sequence[Scorer], weights: Sequence[float]) -> None:
        if len(scorers) != len(weights) or not scorers:
            raise ValueError("need one weight per scorer and at least one scorer")
        self.scorers = list(scorers)
        self.weights = [float(w) for w in weights]

    @property
    def num_items(self) -> int:
        return self.scorers[0].num_items

    def score(self, users: IndexArray) -> FloatArray:
        out = np.zeros((len(users), self.num_items), dtype=np.float32)
        for scorer, weight in zip(self.scorers, self.weights):
            if weight == 0:
                continue
            s = scorer.score(users)
            s = (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-8)
            out += weight * s
        return out


@dataclass(frozen=True)
class TopK:
    """Top-K items per user.

    Attributes:
        items: ``(B, K)`` item indices, best first (``-1`` pads when fewer items are eligible).
        scores: ``(B, K)`` their scores (``-inf`` pads).
    """

    items: IndexArray
    scores: FloatArray


def _top_k_rows(scores: np.ndarray, k: int) -> tuple[IndexArray, FloatArray]:
    k = min(k, scores.shape[1])
    # Stable sort on the negated scores: ties break towards the lower item index, deterministically.
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else None
    if part is None:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    else:
        cand = np.sort(part, axis=1)
        sub = np.take_along_axis(scores, cand, 1)
        order = np.take_along_axis(cand, np.argsort(-sub, axis=1, kind="stable"), 1)
    top = np.take_along_axis(scores, order, 1)
    order = np.where(np.isneginf(top), -1, order)
    return order.astype(np.int64), top.astype(np.float32)


def top_k_items(
    scorer: Scorer,
    k: int,
    *,
    users: IndexArray | None = None,
    exclude: sp.csr_matrix | None = None,
    batch_size: int = 1024,
) -> TopK:
    """Top-``k`` items per user.

    Args:
        scorer: E.g. :class:`EmbeddingScorer`.
        k: Items per user.
        users: ``(B,)`` user indices; default all rows of ``exclude`` (required then).
        exclude: ``(U, I)`` matrix whose non-zeros are never recommended (already bought /
            interacted); ``None`` excludes nothing.
        batch_size: Users scored at once.

    Returns:
        :class:`TopK` for ``users``.

    Raises:
        ValueError: ``k < 1`` or neither ``users`` nor ``exclude`` given.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if users is None:
        if exclude is None:
            raise ValueError("pass users= or exclude= (to know how many users there are)")
        users = np.arange(exclude.shape[0])
    items_out, scores_out = [], []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        s = scorer.score(batch).astype(np.float32, copy=True)
        if exclude is not None:
            sub = exclude[batch]
            rows = np.repeat(np.arange(len(batch)), np.diff(sub.indptr))
            s[rows, sub.indices] = -np.inf
        it, sc = _top_k_rows(s, k)
        items_out.append(it)
        scores_out.append(sc)
    if not items_out:
        return TopK(np.zeros((0, k), np.int64), np.zeros((0, k), np.float32))
    return TopK(np.concatenate(items_out), np.concatenate(scores_out))


@dataclass(frozen=True)
class Recommendations:
    """Top-K items per user and why.

    Attributes:
        users: ``(B,)`` user indices.
        items: ``(B, K)`` item indices (``-1`` pads).
        scores: ``(B, K)``.
        reason_items: ``(B, K)`` index of the user's interacted item most similar (cosine of item
            embeddings) to the recommendation, ``-1`` where the user has no history.
        reason_similarity: ``(B, K)`` that cosine similarity.
        reason_categories: Per user, per slot, a category shared by the recommendation and the
            user's history (the one the user interacted with most), or ``None``.
    """

    users: IndexArray
    items: IndexArray
    scores: FloatArray
    reason_items: IndexArray
    reason_similarity: FloatArray
    reason_categories: list[list[str | None]]


def _unit(x: FloatArray) -> FloatArray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def recommend(
    user_emb: torch.Tensor | np.ndarray,
    item_emb: torch.Tensor | np.ndarray,
    interactions: sp.csr_matrix,
    k: int = 20,
    *,
    users: IndexArray | None = None,
    exclude_interacted: bool = True,
    item_categories: Sequence[Sequence[str]] | None = None,
    scorer: Scorer | None = None,
    batch_size: int = 1024,
) -> Recommendations:
    """Top-``k`` items per user with a reason per recommendation.

    Args:
        user_emb: ``(U, D)`` user embeddings.
        item_emb: ``(I, D)`` item embeddings (also used for reason similarity).
        interactions: ``(U, I)`` user history (non-zeros = interacted).
        k: Items per user.
        users: ``(B,)`` users to recommend for; default all.
        exclude_interacted: Never recommend an item already in the history.
        item_categories: Categories per item index, for the shared-category reason.
        scorer: Ranks items instead of ``user_emb @ item_emb.T`` (e.g. a :class:`BlendScorer`).
        batch_size: Users per batch.

    Returns:
        :class:`Recommendations`.
    """
    ie = _np(item_emb)
    scorer = scorer if scorer is not None else EmbeddingScorer(user_emb, ie)
    users = np.arange(interactions.shape[0]) if users is None else np.asarray(users, np.int64)
    interactions = sp.csr_matrix(interactions)
    top = top_k_items(
        scorer, k, users=users, exclude=interactions if exclude_interacted else None,
        batch_size=batch_size,
    )
    unit = _unit(ie)
    reason_items = np.full(top.items.shape, -1, np.int64)
    reason_sim = np.zeros(top.items.shape, np.float32)
    reason_cats: list[list[str | None]] = []
    for row, u in enumerate(users):
        hist = interactions.indices[interactions.indptr[u] : interactions.indptr[u + 1]]
        recs = top.items[row]
        valid = recs >= 0
        if len(hist):
            sims = unit[recs[valid]] @ unit[hist].T  # (K', H)
            best = sims.argmax(1)
            reason_items[row, valid] = hist[best]
            reason_sim[row, valid] = sims[np.arange(len(best)), best]
        cats: list[str | None] = [None] * len(recs)
        if item_categories is not None and len(hist):
            counts: dict[str, int] = {}
            for h in hist:
                for c in item_categories[h]:
                    counts[c] = counts.get(c, 0) + 1
            for j, it in enumerate(recs):
                if it >= 0:
                    shared = [c for c in item_categories[it] if c in counts]
                    if shared:
                        cats[j] = max(shared, key=lambda c: (counts[c], c))
        reason_cats.append(cats)
    return Recommendations(users, top.items, top.scores, reason_items, reason_sim, reason_cats)


def category_matrix(
    item_categories: Sequence[Sequence[str]],
) -> tuple[sp.csr_matrix, list[str]]:
    """``(I, C)`` binary item×category matrix and the category names (sorted)."""
    names = sorted({c for cats in item_categories for c in cats})
    col = {c: j for j, c in enumerate(names)}
    rows, cols = [], []
    for i, cats in enumerate(item_categories):
        for c in set(cats):
            rows.append(i)
            cols.append(col[c])
    m = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(item_categories), len(names))
    )
    return m, names


def category_scores(
    user_emb: torch.Tensor | np.ndarray,
    item_emb: torch.Tensor | np.ndarray,
    item_category: sp.csr_matrix,
) -> FloatArray:
    """User→category interest in ``[0, 1]``: ``(1 + cos(user, category centroid)) / 2``.

    Args:
        user_emb: ``(U, D)``.
        item_emb: ``(I, D)``.
        item_category: ``(I, C)`` membership (see :func:`category_matrix`).

    Returns:
        ``(U, C)`` float32; categories without items score 0.5.
    """
    ie = _unit(_np(item_emb))
    counts = np.asarray(item_category.sum(0)).ravel()
    centroid = np.asarray(item_category.T @ ie) / np.maximum(counts, 1)[:, None]
    cos = _unit(_np(user_emb)) @ _unit(centroid.astype(np.float32)).T
    return ((1.0 + cos) / 2.0).astype(np.float32)


def similar_items(
    item_emb: torch.Tensor | np.ndarray, k: int = 10, *, batch_size: int = 2048
) -> TopK:
    """Top-``k`` most similar items per item by cosine (the item itself excluded).

    Args:
        item_emb: ``(I, D)``.
        k: Neighbours per item.
        batch_size: Items per batch.

    Returns:
        :class:`TopK` with ``(I, k)`` indices and cosine similarities.
    """
    unit = _unit(_np(item_emb))
    n = unit.shape[0]
    self_loops = sp.identity(n, dtype=np.float32, format="csr")
    return top_k_items(
        EmbeddingScorer(unit, unit), k, users=np.arange(n), exclude=self_loops,
        batch_size=batch_size,
    )
