"""From the recipe's edge arrays to a weighted bipartite graph with explicit id maps.

The edges come from the graph store (the refresh pages them into arrays) or from events folded in
memory (the evaluation, with :meth:`interest_graph.recipe.EdgeRecipe.aggregate`); either way
:func:`build_graph` decays them to one time with the recipe and keeps pairs of positive weight, so
the refresh and the evaluation train on the same graph.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from interest_graph.recipe import EdgeArrays, EdgeRecipe

from ...typing import IndexArray

logger = logging.getLogger(__name__)


class IdMap:
    """A bijection between graph ids (strings) and contiguous tensor indices ``0..n-1``."""

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[str]) -> None:
        self._ids: tuple[str, ...] = tuple(dict.fromkeys(ids))
        self._index: dict[str, int] = {k: i for i, k in enumerate(self._ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._ids == other._ids

    def __hash__(self) -> int:
        return hash(self._ids)

    def __repr__(self) -> str:
        return f"IdMap(n={len(self)})"

    @property
    def ids(self) -> tuple[str, ...]:
        """All ids in index order."""
        return self._ids

    def index(self, key: str) -> int:
        """Index of one id.

        Raises:
            KeyError: the id is unknown.
        """
        return self._index[key]

    def get(self, key: str, default: int = -1) -> int:
        """Index of one id, or ``default`` when unknown."""
        return self._index.get(key, default)

    def to_index(self, keys: Iterable[str], *, missing: int | None = None) -> IndexArray:
        """Indices of many ids, shape ``(n,)``.

        Args:
            keys: Ids to look up.
            missing: Index to use for unknown ids; ``None`` raises instead.

        Raises:
            KeyError: an id is unknown and ``missing`` is ``None``.
        """
        if missing is None:
            return np.fromiter((self._index[k] for k in keys), dtype=np.int64)
        return np.fromiter((self._index.get(k, missing) for k in keys), dtype=np.int64)

    def to_ids(self, indices: Iterable[int] | np.ndarray | torch.Tensor) -> list[str]:
        """Ids of many indices."""
        if isinstance(indices, torch.Tensor):
            indices = indices.tolist()
        return [self._ids[int(i)] for i in indices]

    def extend(self, keys: Iterable[str]) -> IdMap:
        """A new map with unknown ``keys`` appended; existing indices are unchanged."""
        return IdMap((*self._ids, *(k for k in keys if k not in self._index)))


@dataclass(frozen=True)
class InteractionGraph:
    """A weighted bipartite user–item graph with its id maps.

    Attributes:
        users: Map of user ids to user indices ``0..U-1``.
        items: Map of item ids to item indices ``0..I-1`` (the whole catalogue, including items
            without interactions).
        edge_index: ``(2, E)`` long tensor of ``(user index, item index)`` pairs.
        edge_weight: ``(E,)`` float tensor, strictly positive (decayed to the graph's clock).
        edge_first_ts: ``(E,)`` float64 tensor, first event time per edge (the validation carve
            holds out each user's most recently *first-touched* items).
    """

    users: IdMap
    items: IdMap
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    edge_first_ts: torch.Tensor

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def item_degree(self) -> IndexArray:
        """Number of users per item, shape ``(I,)``."""
        return np.bincount(self.edge_index[1].numpy(), minlength=self.num_items).astype(np.int64)

    def to_csr(self, *, binary: bool = False) -> sp.csr_matrix:
        """The ``(U, I)`` user×item matrix (weights, or ones with ``binary=True``)."""
        u, i = self.edge_index.numpy()
        values = np.ones(len(u), np.float32) if binary else self.edge_weight.numpy()
        return sp.csr_matrix(
            (values.astype(np.float32), (u, i)), shape=(self.num_users, self.num_items)
        )

    def user_subgraph(self, users: IndexArray) -> tuple[InteractionGraph, IndexArray]:
        """The given users with all their edges, over the items they touched.

        Args:
            users: Ascending user indices.

        Returns:
            ``(graph, items)``: users ``j`` and items ``k`` of the subgraph are ``users[j]`` and
            ``items[k]`` here (both ascending).
        """
        users = np.asarray(users, np.int64)
        if len(users) and (np.diff(users) <= 0).any():
            raise ValueError("users must be ascending and distinct")
        u, i = self.edge_index.numpy()
        new_user = np.full(self.num_users, -1, np.int64)
        new_user[users] = np.arange(len(users))
        keep = new_user[u] >= 0
        items = np.unique(i[keep])
        new_item = np.full(self.num_items, -1, np.int64)
        new_item[items] = np.arange(len(items))
        index = torch.from_numpy(np.stack([new_user[u[keep]], new_item[i[keep]]]))
        mask = torch.from_numpy(keep)
        sub = InteractionGraph(IdMap(self.users.ids[j] for j in users),
                               IdMap(self.items.ids[k] for k in items), index,
                               self.edge_weight[mask], self.edge_first_ts[mask])
        return sub, items

    def edge_subgraph(self, keep: torch.Tensor) -> InteractionGraph:
        """The same nodes with only the edges where ``keep`` (``(E,)`` bool) is true."""
        return InteractionGraph(self.users, self.items, self.edge_index[:, keep],
                                self.edge_weight[keep], self.edge_first_ts[keep])


def build_graph(
    users: IdMap | Sequence[str],
    items: IdMap | Sequence[str],
    edges: EdgeArrays,
    recipe: EdgeRecipe,
    as_of: float,
) -> InteractionGraph:
    """The graph of ``edges`` with weights decayed to ``as_of``; pairs of weight ≤ 0 are dropped.

    Args:
        users: User ids (``edges.user`` indexes them); users without edges keep an index.
        items: Item ids, the whole catalogue (items without edges keep an index, which cold-start
            scoring needs).
        edges: Aggregated pairs, one row each, weights as of each pair's last event.
        recipe: Decays the weights.
        as_of: The time to decay to (:func:`interest_graph.recipe.graph_clock`).

    Returns:
        The graph, edges sorted by (user, item).
    """
    user_map = users if isinstance(users, IdMap) else IdMap(users)
    item_map = items if isinstance(items, IdMap) else IdMap(items)
    weight = recipe.decay(edges.weight, edges.last_ts, as_of)
    keep = weight > 0
    u, i = edges.user[keep], edges.item[keep]
    order = np.lexsort((i, u))
    logger.debug("graph: %d of %d pairs have a positive weight", int(keep.sum()), len(edges))
    return InteractionGraph(
        user_map, item_map,
        torch.from_numpy(np.stack([u[order], i[order]]).astype(np.int64)).reshape(2, -1),
        torch.from_numpy(weight[keep][order].astype(np.float32)),
        torch.from_numpy(edges.first_ts[keep][order].astype(np.float64)),
    )


def consumed_matrix(edges: EdgeArrays, num_users: int, num_items: int) -> sp.csr_matrix:
    """``(U, I)`` binary matrix of what each user consumed: the items never recommended back."""
    mask = edges.consumed
    return sp.csr_matrix(
        (np.ones(int(mask.sum()), np.float32), (edges.user[mask], edges.item[mask])),
        shape=(num_users, num_items),
    )
