"""What people touch next: an item-to-next-item term from the order of each user's history.

Each user's items are ordered by first interaction. An item ``j`` that follows ``i`` within
``lags`` steps adds ``decay^(lag - 1)`` to ``W[i, j]`` (a first-order Markov chain over a window,
as in item-to-item "bought next" lists); items first touched at the same moment (one basket, one
day's reviews) count both ways, since their order is unknown. A user is scored from their last
``recent`` items, the latest weighing most: ``score_u = Σ_k decay^(n-1-k) · W[item_k, :]``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...typing import FloatArray, IndexArray
from .baselines import pad_items, sparse_scores
from .graph_build import InteractionGraph


def _ordered(graph: InteractionGraph) -> tuple[IndexArray, IndexArray, np.ndarray]:
    """Edges sorted by user, then first interaction time, then item index."""
    u = graph.edge_index[0].numpy()
    i = graph.edge_index[1].numpy()
    t = graph.edge_first_ts.numpy()
    order = np.lexsort((i, t, u))
    return u[order], i[order], t[order]


def transition_weights(graph: InteractionGraph, lags: int, decay: float) -> sp.csr_matrix:
    """``(I, I)`` next-item counts ``W[i, j]``, discounted by how many steps apart they were.

    Args:
        graph: Interactions with first-interaction times.
        lags: Steps ahead that count.
        decay: Discount per extra step.
    """
    u, i, t = _ordered(graph)
    rows, cols, vals = [], [], []
    for lag in range(1, lags + 1):
        same_user = u[:-lag] == u[lag:]
        if not same_user.any():
            break
        w = decay ** (lag - 1)
        rows.append(i[:-lag][same_user])
        cols.append(i[lag:][same_user])
        vals.append(np.full(int(same_user.sum()), w))
        together = same_user & (t[:-lag] == t[lag:])
        rows.append(i[lag:][together])
        cols.append(i[:-lag][together])
        vals.append(np.full(int(together.sum()), w))
    n = graph.num_items
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    w_ij = sp.csr_matrix((np.concatenate(vals).astype(np.float32),
                          (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    w_ij.setdiag(0.0)
    w_ij.eliminate_zeros()
    return w_ij


def recent_items(graph: InteractionGraph, recent: int, decay: float) -> sp.csr_matrix:
    """``(U, I)`` each user's last ``recent`` items, weighted ``decay^(steps from the end)``."""
    u, i, _ = _ordered(graph)
    n = np.bincount(u, minlength=graph.num_users)
    start = np.cumsum(n) - n
    from_end = n[u] - 1 - (np.arange(len(u)) - start[u])
    keep = from_end < recent
    return sp.csr_matrix(
        ((decay ** from_end[keep]).astype(np.float32), (u[keep], i[keep])),
        shape=(graph.num_users, graph.num_items))


class SequentialItemItem:
    """Items that people touched right after the user's latest items.

    Args:
        decay: Discount per step, both in the window and over the user's latest items.
        lags: Steps ahead that count as "next".
        recent: The user's latest items that are looked at.
    """

    def __init__(self, decay: float = 0.7, lags: int = 20, recent: int = 20) -> None:
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay}")
        self.decay = decay
        self.lags = lags
        self.recent = recent

    def fit(self, graph: InteractionGraph) -> SequentialItemItem:
        self.w = transition_weights(graph, self.lags, self.decay)
        self.history = recent_items(graph, self.recent, self.decay)
        return self

    def with_history(self, graph: InteractionGraph) -> SequentialItemItem:
        """The fitted transitions scoring the users of ``graph`` (its first items are the fitted
        ones; items added after them have no transitions yet)."""
        out = SequentialItemItem(self.decay, self.lags, self.recent)
        out.w = sp.csr_matrix(pad_items(self.w, graph.num_items))
        out.history = recent_items(graph, self.recent, self.decay)
        return out

    @property
    def num_items(self) -> int:
        return int(self.w.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return sparse_scores(self.history[users] @ self.w)

    def score_into(self, users: IndexArray, out: FloatArray) -> FloatArray:
        return sparse_scores(self.history[users] @ self.w, out)
