"""Closed-form recommenders: baselines of the evaluation and candidate terms of the served model.

Each one is fitted on an :class:`InteractionGraph` (binary implicit feedback by default, as these
baselines are usually run; the served model may fit them on the recipe's weights) and is a
:class:`~interest_workers.pipelines.scores.Scorer`. The trained peers (implicit's ALS and BPR,
cornac's Mult-VAE, PyG's LightGCN) are in :mod:`~interest_workers.pipelines.peers`.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ..typing import FloatArray, IndexArray
from .features import user_features
from .graph_build import InteractionGraph

logger = logging.getLogger(__name__)

#: EASE ridge strengths: the baseline is tuned over them and the served model's term chooses
#: from them (one grid, so the term is never a worse-tuned EASE than the baseline).
EASE_L2 = (30.0, 100.0, 300.0, 1000.0)
#: RP3β transition powers and popularity penalties, shared likewise.
RP3_ALPHAS = (0.5, 0.75, 1.0)
RP3_BETAS = (0.0, 0.3, 0.6)


def pad_items(w: FloatArray | sp.csr_matrix, n: int) -> FloatArray | sp.csr_matrix:
    """An ``(I, I)`` item-item matrix grown to ``(n, n)`` with zeros: items added to the catalogue
    after the fit have no learned relations yet.

    Raises:
        ValueError: ``n`` is below the fitted item count.
    """
    m = w.shape[0]
    if n < m:
        raise ValueError(f"the graph has {n} items, fewer than the fitted {m}")
    if n == m:
        return w
    if sp.issparse(w):
        csr = sp.csr_matrix(w)
        return sp.csr_matrix((csr.data, csr.indices, np.concatenate(
            [csr.indptr, np.full(n - m, csr.indptr[-1])])), shape=(n, n))
    return np.pad(w, ((0, n - m), (0, n - m)))


class Popularity:
    """Items ranked by number of distinct users."""

    def fit(self, graph: InteractionGraph) -> Popularity:
        self.counts = graph.item_degree().astype(np.float32)
        return self

    def with_history(self, graph: InteractionGraph) -> Popularity:
        """The fitted counts over ``graph``'s catalogue (new items count 0 until the next fit)."""
        out = Popularity()
        out.counts = np.zeros(graph.num_items, np.float32)
        out.counts[: len(self.counts)] = self.counts
        return out

    @property
    def num_items(self) -> int:
        return len(self.counts)

    def score(self, users: IndexArray) -> FloatArray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts))).copy()


class ItemKNN:
    """Item-based k-nearest neighbours with cosine similarity on the binary user×item matrix.

    Args:
        k: Neighbours kept per item.
        shrink: Added to the cosine denominator (damps similarities from few co-occurrences).
    """

    def __init__(self, k: int = 100, shrink: float = 10.0) -> None:
        self.k = k
        self.shrink = shrink

    def fit(self, graph: InteractionGraph) -> ItemKNN:
        x = graph.to_csr(binary=True)
        self.history = x
        norms = np.sqrt(np.asarray(x.sum(0)).ravel())
        co = (x.T @ x).toarray()
        np.fill_diagonal(co, 0.0)
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-12)
        if self.k < sim.shape[0]:
            cut = np.argpartition(-sim, self.k, axis=0)[self.k :]
            np.put_along_axis(sim, cut, 0.0, axis=0)
        self.sim = sim.astype(np.float32)
        return self

    @property
    def num_items(self) -> int:
        return int(self.sim.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.history[users] @ self.sim, dtype=np.float32)


def ease_weights(x: sp.csr_matrix, l2: float) -> FloatArray:
    """EASE item-item weights ``B`` (Steck 2019): ``P = (XᵀX + λI)⁻¹, B = -P / diag(P)``, diag 0.

    Args:
        x: ``(U, I)`` user×item matrix.
        l2: Ridge strength ``λ``.

    Returns:
        ``(I, I)`` float32.
    """
    g = (x.T @ x).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += l2
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return np.asarray(b, dtype=np.float32)


def _history_rows_check(kind: str) -> None:
    if kind not in ("binary", "weighted"):
        raise ValueError(f"unknown history {kind!r}; valid: binary, weighted")


def _history_rows(graph: InteractionGraph, kind: str) -> sp.csr_matrix:
    """The user rows an item-item model scores with: binary, or the recipe's weights with each
    row scaled to a maximum of 1 (so λ and the similarities keep the binary fit's scale)."""
    _history_rows_check(kind)
    x = graph.to_csr(binary=kind == "binary")
    if kind == "weighted":
        x = sp.csr_matrix(sp.diags(1.0 / np.maximum(x.max(1).toarray().ravel(), 1e-12)) @ x)
    return x


class EASE:
    """Embarrassingly Shallow Autoencoder on the binary matrix (or a weighted one).

    Args:
        l2: Ridge strength.
        history: ``"binary"`` or ``"weighted"`` user rows at scoring time and fit time.
    """

    def __init__(self, l2: float = 500.0, history: str = "binary") -> None:
        _history_rows_check(history)
        self.l2 = l2
        self.history_kind = history

    def fit(self, graph: InteractionGraph) -> EASE:
        self.history = _history_rows(graph, self.history_kind)
        self.b = ease_weights(self.history, self.l2)
        return self

    def with_history(self, graph: InteractionGraph) -> EASE:
        """The fitted item-item weights scoring the users of ``graph`` (whose first items are the
        fitted ones; items added after the fit have no weights yet)."""
        out = EASE(self.l2, history=self.history_kind)
        out.history = _history_rows(graph, self.history_kind)
        out.b = np.asarray(pad_items(self.b, graph.num_items))
        return out

    @property
    def num_items(self) -> int:
        return int(self.b.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.history[users] @ self.b, dtype=np.float32)


#: Weights of the RP3β product made dense at once (float64: 512 MB), in blocks of whole item rows
#: (at most 1,024 of them): memory ``block × I``, never ``I²``.
BLOCK_CELLS = 1 << 26


def rp3beta_weights(x: sp.csr_matrix, alpha: float, beta: float, k: int | None,
                    block: int | None = None) -> sp.csr_matrix:
    """RP3β item-item weights (Paudel et al. 2017, as in Dacrema et al.'s reference code).

    The 3-step random walk item → user → item, ``W = P_iu^α · P_ui^α``, with each column divided by
    the target item's popularity to the power ``β``; the diagonal is zero and each row keeps its
    ``k`` largest weights. Computed ``block`` item rows at a time, so only ``block × I`` weights
    are ever dense (the result holds ``I × k``).

    Args:
        x: ``(U, I)`` binary user×item matrix.
        alpha: Power on the transition probabilities.
        beta: Popularity penalty (0 = plain P³α).
        k: Neighbours kept per item (``None``: all).
        block: Item rows per dense block (default: 1,024, fewer when ``I`` is so large that
            :data:`BLOCK_CELLS` would be exceeded).

    Returns:
        ``(I, I)`` float32 CSR.
    """
    x = sp.csr_matrix(x, dtype=np.float64)
    x.data[:] = 1.0
    p_ui = sp.csr_matrix(sp.diags(1.0 / np.maximum(np.asarray(x.sum(1)).ravel(), 1)) @ x)
    xt = sp.csr_matrix(x.T)
    p_iu = sp.csr_matrix(sp.diags(1.0 / np.maximum(np.asarray(xt.sum(1)).ravel(), 1)) @ xt)
    p_ui.data **= alpha
    p_iu.data **= alpha
    pop = np.asarray(x.sum(0)).ravel()
    penalty = np.where(pop > 0, np.maximum(pop, 1) ** -beta, 0.0)
    n = x.shape[1]
    if block is None:
        block = max(1, min(1024, BLOCK_CELLS // max(n, 1)))
    parts = []
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        w = (p_iu[rows] @ p_ui).toarray() * penalty[None, :]
        w[np.arange(len(rows)), rows] = 0.0
        if k is not None and k < n:
            cut = np.argpartition(-w, k, axis=1)[:, k:]
            np.put_along_axis(w, cut, 0.0, axis=1)
        part = sp.csr_matrix(w.astype(np.float32))
        part.eliminate_zeros()
        parts.append(part)
    if not parts:
        return sp.csr_matrix((0, 0), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(parts, format="csr"))


class RP3Beta:
    """Graph-based item-item recommender RP3β: scores ``history · W`` (see :func:`rp3beta_weights`).

    Args:
        alpha: Power on the transition probabilities.
        beta: Popularity penalty.
        k: Neighbours kept per item.
        history: ``"binary"`` or ``"weighted"`` user rows at scoring time.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, k: int | None = 200,
                 history: str = "binary") -> None:
        _history_rows_check(history)
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.history_kind = history

    def fit(self, graph: InteractionGraph, weights: sp.csr_matrix | None = None) -> RP3Beta:
        """Fit on ``graph``; ``weights``: its walk already computed with this α, β and k."""
        self.w = (rp3beta_weights(graph.to_csr(binary=True), self.alpha, self.beta, self.k)
                  if weights is None else weights)
        self.history = _history_rows(graph, self.history_kind)
        return self

    def with_history(self, graph: InteractionGraph) -> RP3Beta:
        """The fitted weights scoring the users of ``graph`` (see :meth:`EASE.with_history`)."""
        out = RP3Beta(self.alpha, self.beta, self.k, self.history_kind)
        out.w = sp.csr_matrix(pad_items(self.w, graph.num_items))
        out.history = _history_rows(graph, self.history_kind)
        return out

    @property
    def num_items(self) -> int:
        return int(self.w.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray((self.history[users] @ self.w).todense(), dtype=np.float32)


class Content:
    """Text only: cosine of each item's text to the user's history.

    A user's profile is the weighted mean of the texts of the items they interacted with (the
    recipe's time-decayed weights: recent and strong interactions count most), blended with their
    own review and search text (:func:`~interest_workers.pipelines.features.user_features`). Items
    nobody has touched yet are scored like any other, which is what cold start needs.

    Args:
        item_x: ``(I, D)`` normalised item text embeddings.
        user_text_x: ``(U, D)`` users' own text embeddings (zero rows for none), or ``None``.
    """

    def __init__(self, item_x: FloatArray, user_text_x: FloatArray | None = None) -> None:
        self.item_x = np.ascontiguousarray(item_x, dtype=np.float32)
        self.user_text_x = user_text_x

    def fit(self, graph: InteractionGraph) -> Content:
        if graph.num_items != self.item_x.shape[0]:
            raise ValueError(f"graph has {graph.num_items} items, the features {self.item_x.shape[0]}")
        self.user_x = user_features(graph, self.item_x, self.user_text_x)
        return self

    @property
    def num_items(self) -> int:
        return int(self.item_x.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return self.user_x[users] @ self.item_x.T
