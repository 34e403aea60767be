"""Scores: top-K items per user, the reason for each, category interest, similar items.

Everything works on user batches so a ``(U, I)`` score matrix is never materialised whole.
Any object with ``score(user_index) -> (B, I)`` (a :class:`Scorer`) can be ranked, which is how the
evaluation ranks baselines and the hybrid model with the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
import torch

from ...typing import FloatArray, IndexArray

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

    def score_into(self, users: IndexArray, out: FloatArray) -> FloatArray:
        """:meth:`score` written into ``out`` (``(B, I)`` float32, a reused buffer)."""
        return np.matmul(self.user_emb[users], self.item_emb.T, out=out)


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
    """Each row's ``k`` best columns, best first; ties break towards the lower column index,
    also at the cut (``-1`` pads where a row's ``k``-th score is ``-inf``).

    ``torch.topk`` of ``k + 1`` finds the candidates (several times faster than a partition on
    CPU); where the ``k``-th and ``k + 1``-th scores differ, the top ``k`` is that set whatever
    order ``topk`` broke ties in, sorted here by score then index. Rows tied at the cut (rare,
    but every row padded with ``-inf``) take the exact path (:func:`_top_k_exact`).
    """
    k = min(k, scores.shape[1])
    if k >= scores.shape[1] or scores.dtype not in (np.float32, np.float64):
        return _top_k_exact(scores, k)
    scores = np.ascontiguousarray(scores)
    values, index = torch.topk(torch.from_numpy(scores), k + 1, dim=1)
    vals, idx = values.numpy(), index.numpy()
    tied = np.flatnonzero(~(vals[:, k - 1] > vals[:, k]))
    vals, idx = vals[:, :k], idx[:, :k]
    perm = np.lexsort((idx, -vals), axis=1)
    order = np.take_along_axis(idx, perm, 1)
    top = np.take_along_axis(vals, perm, 1)
    if len(tied):
        order[tied], top[tied] = _top_k_exact(scores[tied], k)
    order = np.where(np.isneginf(top), -1, order)
    return order.astype(np.int64), top.astype(np.float32)


def _top_k_exact(scores: np.ndarray, k: int) -> tuple[IndexArray, FloatArray]:
    """:func:`_top_k_rows` by partition and counts: exact for any ties."""
    k = min(k, scores.shape[1])
    # Stable sort on the negated scores: ties break towards the lower item index, deterministically,
    # also at the cut: of the items tied with the k-th score, the lowest indices make the top k
    # (a partition alone would take any of them, so the list would depend on k).
    if k >= scores.shape[1]:
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    else:
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
        above = scores > kth
        at = scores == kth
        room = k - above.sum(1)
        take = above | at
        # Rows with more items tied at the k-th score than room left keep the lowest indices;
        # only those rows need the running count (most rows have exactly one such item).
        tied = np.flatnonzero(at.sum(1) > room)
        if len(tied):
            take[tied] = above[tied] | (at[tied] & (np.cumsum(at[tied], axis=1)
                                                    <= room[tied, None]))
        cand = np.nonzero(take)[1].reshape(len(scores), k)  # row-major: each row's indices sorted
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
        s = scorer.score(batch)
        # Masked in place below: a copy unless the scorer hands over a new array.
        s = (s if getattr(scorer, "fresh_scores", False) and s.dtype == np.float32
             else np.array(s, dtype=np.float32, copy=True))
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
class Reasons:
    """Why each recommendation: the user's own item it is most like, and a shared category.

    Attributes:
        items: ``(B, K)`` index of the user's interacted item (any behaviour) most similar (cosine
            of item embeddings) to the recommendation, ``-1`` where the user has no history.
        similarity: ``(B, K)`` that cosine similarity.
        categories: Per user, per slot, a category shared by the recommendation and the user's
            history (the one the user interacted with most), or ``None``.
    """

    items: IndexArray
    similarity: FloatArray
    categories: list[list[str | None]]


def _unit(x: FloatArray) -> FloatArray:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def explain(
    top: IndexArray,
    users: IndexArray,
    item_emb: torch.Tensor | np.ndarray,
    history: sp.csr_matrix,
    item_categories: Sequence[Sequence[str]] | None = None,
) -> Reasons:
    """A reason per recommendation, from the user's whole history.

    Args:
        top: ``(B, K)`` recommended item indices (``-1`` pads).
        users: ``(B,)`` their users.
        item_emb: ``(I, D)`` item embeddings (similarity between items).
        history: ``(U, I)`` what each user interacted with, whatever the behaviour.
        item_categories: Categories per item index, for the shared-category reason.
    """
    unit = _unit(_np(item_emb))
    history = sp.csr_matrix(history)
    reason_items = np.full(top.shape, -1, np.int64)
    reason_sim = np.zeros(top.shape, np.float32)
    reason_cats: list[list[str | None]] = []
    for row, u in enumerate(users):
        hist = history.indices[history.indptr[u] : history.indptr[u + 1]]
        recs = top[row]
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
    return Reasons(reason_items, reason_sim, reason_cats)


def reason_text(item: str | None, category: str | None) -> str:
    """The sentence stored on ``INTERESTED_IN``: the cited own item and/or shared category."""
    if item is not None:
        text = f"similar to {item}, which you interacted with"
        return f"{text} (both {category})" if category else text
    if category:
        return f"popular in {category}, a category you like"
    return "popular with people like you"


def interest_rows(
    item_ids: Sequence[str], top: TopK, reasons: Reasons, titles: Sequence[str]
) -> list[list[dict[str, Any]]]:
    """Per user, the ``INTERESTED_IN`` rows: item id, score, rank (1-based) and reason.

    Args:
        item_ids: Id per item index.
        top: Top-K of the users, best first.
        reasons: :func:`explain` of ``top``.
        titles: Title per item index (the reason names the cited item by it; id when empty).
    """
    out: list[list[dict[str, Any]]] = []
    for row in range(top.items.shape[0]):
        recs = []
        for slot in range(top.items.shape[1]):
            item = int(top.items[row, slot])
            if item < 0:
                continue
            cited = int(reasons.items[row, slot])
            name = None if cited < 0 else (titles[cited] or item_ids[cited])
            recs.append({"item": item_ids[item], "score": float(top.scores[row, slot]),
                         "rank": slot + 1,
                         "reason": reason_text(name, reasons.categories[row][slot])})
        out.append(recs)
    return out


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


def top_categories(
    user_emb: torch.Tensor | np.ndarray,
    item_emb: torch.Tensor | np.ndarray,
    item_categories: Sequence[Sequence[str]],
    k: int,
) -> list[list[dict[str, Any]]]:
    """Per user, the ``k`` categories of highest :func:`category_scores` as ``{name, score}``."""
    m, names = category_matrix(item_categories)
    if not names:
        return [[] for _ in range(len(user_emb))]
    scores = category_scores(user_emb, item_emb, m)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[{"name": names[j], "score": float(scores[row, j])} for j in top[row]]
            for row in range(len(scores))]


def similar_items(
    item_emb: torch.Tensor | np.ndarray, k: int = 10, *, rows: IndexArray | None = None,
    batch_size: int = 2048
) -> TopK:
    """Top-``k`` most similar items per item by cosine (the item itself excluded).

    Args:
        item_emb: ``(I, D)``.
        k: Neighbours per item.
        rows: The items to find neighbours for (default all); neighbours come from all.
        batch_size: Items per batch.

    Returns:
        :class:`TopK` with ``(len(rows), k)`` indices and cosine similarities.
    """
    unit = _unit(_np(item_emb))
    n = unit.shape[0]
    self_loops = sp.identity(n, dtype=np.float32, format="csr")
    return top_k_items(
        EmbeddingScorer(unit, unit), k, users=np.arange(n) if rows is None else rows,
        exclude=self_loops, batch_size=batch_size,
    )
