"""Closed-form recommenders: baselines of the evaluation and candidate terms of the served model.

Each one is fitted on an :class:`InteractionGraph` (binary implicit feedback by default, as these
baselines are usually run; the served model may fit them on the recipe's weights) and is a
:class:`~interest_workers.pipelines.model.scores.Scorer`. The trained peers (implicit's ALS and BPR,
cornac's Mult-VAE, PyG's LightGCN) are in :mod:`~interest_workers.pipelines.evaluation.peers`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import overload

import numpy as np
import scipy.sparse as sp

from ...typing import FloatArray, IndexArray
from .features import user_features
from .graph_build import InteractionGraph
from .parallel import map_blocks, usable_cores

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

    def score_into(self, users: IndexArray, out: FloatArray) -> FloatArray:
        out[...] = self.counts
        return out


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


#: Product entries handled at once when keeping each item row's top ``k`` (in blocks of whole
#: item rows): memory is bounded by this, never ``I²``.
BLOCK_NNZ = 1 << 23
#: Blocks computed at once, at most (each holds up to :data:`BLOCK_NNZ` product entries and their
#: sort keys, some 250 MB): scipy's sparse product and numpy's sort release the GIL, so threads
#: use the machine's cores.
BLOCK_THREADS = 8


def top_k_per_row(m: sp.csr_matrix, k: int | None) -> sp.csr_matrix:
    """Keep each row's ``k`` largest stored entries (ties: the lower column), dropping zeros.

    Works on the stored entries alone (``O(nnz log nnz)``), never on a dense row. Entries are
    compared as float32, the precision the weights are kept in.

    Raises:
        ValueError: a negative entry.
    """
    m = sp.csr_matrix(m, dtype=np.float32, copy=True)  # the caller's arrays stay as they are
    m.sum_duplicates()
    m.eliminate_zeros()
    counts = np.diff(m.indptr)
    if k is None or not len(counts) or counts.max() <= k:
        return m
    if (m.data < 0).any():
        raise ValueError("top_k_per_row takes non-negative entries")
    # One int64 key per entry: the row, then the float32 bits inverted (a non-negative float's
    # bits order as the float does). A stable sort keeps the columns ascending within ties.
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), counts)
    key = (rows << 31) | (~m.data.view(np.int32) & 0x7FFFFFFF).astype(np.int64)
    order = np.argsort(key, kind="stable")
    rank = np.arange(m.nnz) - m.indptr[rows]  # the sort keeps each row's segment in place
    keep = np.sort(order[rank < k])
    return sp.csr_matrix((m.data[keep], m.indices[keep],
                          np.concatenate([[0], np.cumsum(np.minimum(counts, k))])),
                         shape=m.shape)


def rp3beta_walk(x: sp.csr_matrix, alpha: float) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The two transition matrices of RP3β's walk, raised to ``alpha``: ``(P_iu^α, P_ui^α)``."""
    x = sp.csr_matrix(x, dtype=np.float64)
    x.data[:] = 1.0
    p_ui = sp.csr_matrix(sp.diags(1.0 / np.maximum(np.asarray(x.sum(1)).ravel(), 1)) @ x)
    xt = sp.csr_matrix(x.T)
    p_iu = sp.csr_matrix(sp.diags(1.0 / np.maximum(np.asarray(xt.sum(1)).ravel(), 1)) @ xt)
    p_ui.data **= alpha
    p_iu.data **= alpha
    return p_iu, p_ui


@overload
def rp3beta_weights(x: sp.csr_matrix, alpha: float, beta: float, k: int | None,
                    block: int | None = None, threads: int | None = None) -> sp.csr_matrix: ...


@overload
def rp3beta_weights(x: sp.csr_matrix, alpha: float, beta: Sequence[float], k: int | None,
                    block: int | None = None, threads: int | None = None
                    ) -> list[sp.csr_matrix]: ...


def rp3beta_weights(x: sp.csr_matrix, alpha: float, beta: float | Sequence[float],
                    k: int | None, block: int | None = None, threads: int | None = None
                    ) -> sp.csr_matrix | list[sp.csr_matrix]:
    """RP3β item-item weights (Paudel et al. 2017, as in Dacrema et al.'s reference code).

    The 3-step random walk item → user → item, ``W = P_iu^α · P_ui^α``, with each column divided by
    the target item's popularity to the power ``β``; the diagonal is zero and each row keeps its
    ``k`` largest weights (ties: the lower item). The product is sparse (two items are linked only
    through a user who touched both) and is taken ``block`` item rows at a time, each row's top
    ``k`` kept from its stored entries: time and memory follow the co-occurrences
    (``Σ_users degree²``), never ``I²``.

    Args:
        x: ``(U, I)`` binary user×item matrix.
        alpha: Power on the transition probabilities.
        beta: Popularity penalty (0 = plain P³α); a sequence gives one matrix per value from one
            product (the penalty only rescales columns).
        k: Neighbours kept per item (``None``: all).
        block: Item rows per product block (default: as many as keep a block's walks near
            :data:`BLOCK_NNZ`).
        threads: Blocks computed at once (default: the usable cores, at most
            :data:`BLOCK_THREADS`); the result does not depend on it.

    Returns:
        ``(I, I)`` float32 CSR, or a list of them for a sequence of ``beta``.
    """
    betas = [float(b) for b in beta] if isinstance(beta, Sequence) else [float(beta)]
    p_iu, p_ui = rp3beta_walk(x, alpha)
    pop = np.diff(sp.csc_matrix(x).indptr)
    penalties = [np.where(pop > 0, np.maximum(pop, 1) ** -b, 0.0) for b in betas]
    n = x.shape[1]
    if block is None:
        # A row's product entries are at most the walks from it: Σ over its users of their degree.
        walks = p_iu.astype(bool).astype(np.float64) @ np.diff(p_ui.indptr).astype(np.float64)
        block = max(1, min(4096, int(BLOCK_NNZ // max(float(np.mean(walks)) if n else 0.0, 1.0))))
    def one_block(start: int) -> list[sp.csr_matrix]:
        product = sp.csr_matrix(p_iu[start : start + block] @ p_ui)
        product.sort_indices()
        rows = np.repeat(np.arange(product.shape[0]), np.diff(product.indptr))
        product.data[product.indices == rows + start] = 0.0  # no item is its own neighbour
        return [top_k_per_row(sp.csr_matrix((product.data * penalty[product.indices],
                                             product.indices, product.indptr),
                                            shape=product.shape), k)
                for penalty in penalties]

    if threads is None:
        threads = min(BLOCK_THREADS, usable_cores())
    blocks = map_blocks(one_block, range(0, n, block), threads)
    parts = [[b[j] for b in blocks] for j in range(len(betas))]
    results = [sp.csr_matrix(sp.vstack(p, format="csr")) if p
               else sp.csr_matrix((0, 0), dtype=np.float32) for p in parts]
    return results if isinstance(beta, Sequence) else results[0]


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
        return sparse_scores(self.history[users] @ self.w)

    def score_into(self, users: IndexArray, out: FloatArray) -> FloatArray:
        return sparse_scores(self.history[users] @ self.w, out)


def sparse_scores(product: sp.spmatrix, out: FloatArray | None = None) -> FloatArray:
    """A sparse ``(B, I)`` product as dense float32, written into ``out`` when given (a reused
    buffer: no new pages to fault in, which costs as much as the product at large ``I``)."""
    if out is None:
        return np.asarray(product.toarray(), dtype=np.float32)
    if product.dtype == out.dtype:
        return product.toarray(out=out)  # type: ignore[no-any-return]
    np.copyto(out, product.toarray())
    return out


class Content:
    """Text only: cosine of each item's text to the user's history.

    A user's profile is the weighted mean of the texts of the items they interacted with (the
    recipe's time-decayed weights: recent and strong interactions count most), blended with their
    own review and search text (:func:`~interest_workers.pipelines.model.features.user_features`). Items
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

    def score_into(self, users: IndexArray, out: FloatArray) -> FloatArray:
        return np.matmul(self.user_x[users], self.item_x.T, out=out)
