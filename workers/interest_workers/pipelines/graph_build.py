"""From behaviour events to weighted user–item interactions and a PyG graph.

Two pure steps:

1. :func:`events_to_interactions` folds raw events into one aggregated edge per ``(user, item)``
   pair: behaviour weights, returns subtracted, exponential time decay. The refresh task reads the
   same aggregated edges from the graph store instead.
2. :func:`build_graph` turns aggregated edges into an :class:`InteractionGraph` with explicit
   :class:`IdMap` objects for users and items, and :meth:`InteractionGraph.to_data` gives the
   homogeneous bipartite :class:`torch_geometric.data.Data` the GCN consumes (users ``0..U-1``,
   items ``U..U+I-1``).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import Data

from interest_graph.settings import DEFAULT_WEIGHTS

from ..typing import FloatArray, IndexArray

logger = logging.getLogger(__name__)

#: Default behaviour weights (same table as the platform settings). ``rating`` is scaled by
#: ``rating / 5``; ``return`` is negative so that a fully returned purchase nets out to zero.
DEFAULT_BEHAVIOUR_WEIGHTS: Mapping[str, float] = DEFAULT_WEIGHTS
#: Event types whose ``text`` describes the user (and is encoded as user text).
USER_TEXT_TYPES = frozenset({"review", "search"})


class EventLike(Protocol):
    """The fields of :class:`interest_graph.ingest.records.Event` this module reads."""

    @property
    def user_id(self) -> str: ...
    @property
    def item_id(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def ts(self) -> float: ...
    @property
    def quantity(self) -> float: ...
    @property
    def rating(self) -> float | None: ...
    @property
    def text(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Interaction:
    """One aggregated user→item edge, as the graph store keeps it.

    Attributes:
        user_id: Graph id of the user.
        item_id: Graph id of the item.
        weight: Time-decayed net weight; ``<= 0`` means returned / cancelled and is dropped.
        last_ts: Epoch seconds of the latest event on the pair.
        counts: Events per behaviour type.
    """

    user_id: str
    item_id: str
    weight: float
    last_ts: float
    counts: Mapping[str, int] = field(default_factory=dict)


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


def behaviour_weight(
    event_type: str,
    *,
    quantity: float = 1.0,
    rating: float | None = None,
    behaviour_weights: Mapping[str, float] = DEFAULT_BEHAVIOUR_WEIGHTS,
    max_rating: float = 5.0,
) -> float:
    """The undecayed weight of one event.

    Quantities count sub-linearly (``log2(1 + q)``) so a wholesale order of 48 does not drown
    everything else, and a return of the same quantity nets the purchase out exactly.

    Raises:
        ValueError: unknown event type (names the valid ones).
    """
    if event_type not in behaviour_weights:
        raise ValueError(
            f"unknown event type {event_type!r}; valid: {', '.join(sorted(behaviour_weights))}"
        )
    weight = behaviour_weights[event_type] * math.log2(1.0 + max(quantity, 0.0))
    if event_type == "rating" and rating is not None:
        weight *= rating / max_rating
    return weight


def events_to_interactions(
    events: Iterable[EventLike],
    *,
    behaviour_weights: Mapping[str, float] = DEFAULT_BEHAVIOUR_WEIGHTS,
    half_life_days: float = 30.0,
    now: float | None = None,
    min_weight: float = 0.0,
) -> list[Interaction]:
    """Aggregate events into one time-decayed edge per ``(user, item)``.

    Each event contributes ``behaviour_weight * 0.5 ** (age / half_life)`` where ``age`` is
    ``now - ts``. Pairs whose net weight is ``<= min_weight`` (e.g. returned purchases) are dropped.
    Item-less events (searches) carry no edge; see :func:`user_texts`.

    Args:
        events: Event records (``interest_graph.ingest.records.Event`` or alike).
        behaviour_weights: Weight per event type; unknown types raise.
        half_life_days: Decay half-life; ``math.inf`` disables decay.
        now: Reference time (epoch seconds); defaults to the latest event.
        min_weight: Pairs at or below this net weight are dropped.

    Returns:
        Interactions sorted by ``(user_id, item_id)``.

    Raises:
        ValueError: non-positive half-life or unknown event type.
    """
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    rows = [e for e in events if e.item_id is not None]
    if not rows:
        return []
    ref = max(e.ts for e in rows) if now is None else now
    half_life_s = half_life_days * 86400.0
    weight: dict[tuple[str, str], float] = defaultdict(float)
    last: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in rows:
        assert e.item_id is not None
        key = (e.user_id, e.item_id)
        w = behaviour_weight(
            e.type, quantity=e.quantity, rating=e.rating, behaviour_weights=behaviour_weights
        )
        decay = 1.0 if math.isinf(half_life_s) else 0.5 ** (max(ref - e.ts, 0.0) / half_life_s)
        weight[key] += w * decay
        last[key] = max(last.get(key, -math.inf), e.ts)
        counts[key][e.type] += 1
    out = [
        Interaction(u, i, w, last[(u, i)], dict(counts[(u, i)]))
        for (u, i), w in sorted(weight.items())
        if w > min_weight
    ]
    logger.debug("aggregated %d events into %d interactions", len(rows), len(out))
    return out


def user_texts(events: Iterable[EventLike]) -> dict[str, list[str]]:
    """Texts that describe users (review bodies, search queries), per user id, in event order."""
    out: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.type in USER_TEXT_TYPES and e.text:
            out[e.user_id].append(e.text)
    return dict(out)


@dataclass(frozen=True)
class InteractionGraph:
    """A weighted bipartite user–item graph with its id maps.

    Attributes:
        users: Map of user ids to user indices ``0..U-1``.
        items: Map of item ids to item indices ``0..I-1`` (the whole catalogue, including items
            without interactions).
        edge_index: ``(2, E)`` long tensor of ``(user index, item index)`` pairs.
        edge_weight: ``(E,)`` float tensor, strictly positive.
        edge_ts: ``(E,)`` float64 tensor, latest event time per edge.
    """

    users: IdMap
    items: IdMap
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    edge_ts: torch.Tensor

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

    def to_data(
        self, *, user_x: FloatArray | None = None, item_x: FloatArray | None = None
    ) -> Data:
        """A homogeneous undirected PyG graph: users ``0..U-1``, items ``U..U+I-1``.

        Args:
            user_x: Optional ``(U, D)`` user features.
            item_x: Optional ``(I, D)`` item features.

        Returns:
            ``Data`` with ``edge_index`` ``(2, 2E)``, ``edge_weight`` ``(2E,)``, ``node_type``
            ``(U+I,)`` (0 user, 1 item), ``num_users``, ``num_items`` and, when both feature
            matrices are given, ``x`` ``(U+I, D)``.
        """
        u, i = self.edge_index
        i = i + self.num_users
        edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])])
        data = Data(
            edge_index=edge_index,
            edge_weight=torch.cat([self.edge_weight, self.edge_weight]),
            node_type=torch.cat(
                [torch.zeros(self.num_users, dtype=torch.long), torch.ones(self.num_items, dtype=torch.long)]
            ),
            num_nodes=self.num_users + self.num_items,
        )
        data.num_users = self.num_users
        data.num_items = self.num_items
        if user_x is not None and item_x is not None:
            data.x = torch.from_numpy(np.concatenate([user_x, item_x]).astype(np.float32))
        return data


def build_graph(
    interactions: Iterable[Interaction],
    *,
    item_ids: Sequence[str] | None = None,
    user_ids: Sequence[str] | None = None,
    min_weight: float = 0.0,
) -> InteractionGraph:
    """Build an :class:`InteractionGraph` from aggregated interactions.

    Args:
        interactions: Aggregated edges; those with ``weight <= min_weight`` are dropped.
        item_ids: The whole catalogue in a fixed order (items without interactions keep an index,
            which cold-start scoring needs). Interactions on items not listed are appended.
        user_ids: Users in a fixed order (e.g. to keep indices stable across refreshes).
        min_weight: Drop threshold.

    Returns:
        The graph; duplicate pairs are summed.
    """
    kept = [r for r in interactions if r.weight > min_weight]
    users = IdMap([*(user_ids or ()), *(r.user_id for r in kept)])
    items = IdMap([*(item_ids or ()), *(r.item_id for r in kept)])
    pair: dict[tuple[int, int], tuple[float, float]] = {}
    for r in kept:
        key = (users.index(r.user_id), items.index(r.item_id))
        w, ts = pair.get(key, (0.0, -math.inf))
        pair[key] = (w + r.weight, max(ts, r.last_ts))
    keys = sorted(pair)
    edge_index = torch.tensor(keys, dtype=torch.long).reshape(-1, 2).t().contiguous()
    edge_weight = torch.tensor([pair[k][0] for k in keys], dtype=torch.float32)
    edge_ts = torch.tensor([pair[k][1] for k in keys], dtype=torch.float64)
    return InteractionGraph(users, items, edge_index, edge_weight, edge_ts)
