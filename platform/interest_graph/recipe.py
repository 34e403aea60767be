"""The recipe: how behaviour events become the graph's edges. Ingestion, the refresh and the
evaluation all use it, so what is stored, what is served and what is measured agree.

* An event's **weight** is its behaviour's weight (``Settings.weights``) times
  ``log2(1 + quantity)``, so a wholesale order of 48 counts like 5.6 single purchases, not 48.
  Ratings and rated reviews scale by ``rating / 5``. A return weighs minus a purchase of the
  same quantity.
* A (user, item) pair's weight is the time-decayed sum of its events' weights, kept **as of the
  pair's last event**: ``Σ w_i · 2^(−(last_ts − t_i) / half_life)``. Ingestion folds events into
  it in any order (:meth:`EdgeRecipe.fold`), and the store merges batches the same way.
* The refresh and the evaluation **decay** every pair to one time (:meth:`EdgeRecipe.decay`):
  the graph's clock (:func:`graph_clock`), that is its latest event, never later than the refresh
  itself. A replayed history keeps its weights instead of decaying to nothing in wall-clock time,
  and the evaluation's training split (which ends at its last event) decays to the same point as
  a refresh of the same events. A pair whose decayed weight is ≤ 0 (a purchase returned in full)
  carries no edge.
* What a user **consumed** (bought, returned, rated or reviewed: :data:`CONSUMED_TYPES`) is never
  recommended back to them; what they only viewed, carted or wished for may be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from .settings import DEFAULT_WEIGHTS

if TYPE_CHECKING:
    from .settings import Settings

#: Behaviours that consume an item: it is not recommended to that user again.
CONSUMED_TYPES: frozenset[str] = frozenset({"purchase", "return", "rating", "review"})
#: Behaviours whose weight scales with the rating they carry.
RATED_TYPES: frozenset[str] = frozenset({"rating", "review"})
#: Behaviours whose text describes the user (encoded as the user's own text).
USER_TEXT_TYPES: frozenset[str] = frozenset({"review", "search"})
MAX_RATING = 5.0
#: Characters of review and search text kept per user and batch (newest first).
MAX_USER_TEXT = 1000

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]


class EventLike(Protocol):
    """The fields of :class:`interest_graph.ingest.records.Event` the recipe reads."""

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


@dataclass(frozen=True)
class EdgeArrays:
    """Aggregated user→item pairs as parallel arrays (what ``INTERACTED`` edges hold).

    Attributes:
        user: ``(E,)`` index into a user id list.
        item: ``(E,)`` index into an item id list.
        weight: ``(E,)`` net weight as of ``last_ts`` (may be ≤ 0: returned).
        first_ts: ``(E,)`` epoch seconds of the pair's first event.
        last_ts: ``(E,)`` epoch seconds of its latest event.
        consumed: ``(E,)`` the pair holds an event of :data:`CONSUMED_TYPES`.
    """

    user: Indices
    item: Indices
    weight: Floats
    first_ts: Floats
    last_ts: Floats
    consumed: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.user.shape[0])

    @classmethod
    def empty(cls) -> EdgeArrays:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                   np.zeros(0), np.zeros(0, bool))

    @classmethod
    def from_lists(cls, user: list[int], item: list[int], weight: list[float],
                   first_ts: list[float], last_ts: list[float], consumed: list[bool]) -> EdgeArrays:
        return cls(np.asarray(user, np.int64), np.asarray(item, np.int64),
                   np.asarray(weight, np.float64), np.asarray(first_ts, np.float64),
                   np.asarray(last_ts, np.float64), np.asarray(consumed, bool))


@dataclass(frozen=True)
class Interactions:
    """What a store loaded with some events would hold, in memory (the evaluation's graph).

    Attributes:
        user_ids: Every user with an event, sorted (the store's page order).
        item_ids: The catalogue and every item with an event, sorted.
        edges: One row per (user, item) pair, indexing ``user_ids`` and ``item_ids``.
        user_text: A user's review and search text, as ingestion stores it.
    """

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    edges: EdgeArrays
    user_text: Mapping[str, str]


def user_text(texts: Iterable[tuple[float, str]]) -> str:
    """A user's own text from ``(ts, text)`` pairs: newest first, cut at :data:`MAX_USER_TEXT`."""
    return " ".join(t for _, t in sorted(texts, reverse=True))[:MAX_USER_TEXT]


def graph_clock(last_ts: Floats, now: float | None = None) -> float:
    """The time every edge is decayed to: the latest event, never later than ``now``.

    Returns ``now`` (or 0) for a graph without edges.
    """
    if last_ts.size == 0:
        return 0.0 if now is None else now
    latest = float(last_ts.max())
    return latest if now is None else min(latest, now)


@dataclass(frozen=True)
class EdgeRecipe:
    """Behaviour weights and the half-life: how events become edge weights.

    Args:
        weights: Weight per event type (negative for ``return``).
        half_life_s: Time decay half-life in seconds.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    half_life_s: float = 30 * 86400.0

    def __post_init__(self) -> None:
        if not self.half_life_s > 0:
            raise ValueError(f"half_life_s must be positive, got {self.half_life_s}")

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeRecipe:
        return cls(dict(settings.weights), settings.half_life_s)

    def event_weight(self, kind: str, quantity: float = 1.0, rating: float | None = None) -> float:
        """The undecayed weight of one event.

        Raises:
            ValueError: unknown event type (names the valid ones).
        """
        if kind not in self.weights:
            raise ValueError(f"unknown event type {kind!r}; valid: {', '.join(sorted(self.weights))}")
        weight = self.weights[kind] * math.log2(1.0 + max(quantity, 0.0))
        if rating is not None and kind in RATED_TYPES:
            weight *= rating / MAX_RATING
        return weight

    def fold(self, weight: float, last_ts: float, event_weight: float, ts: float
             ) -> tuple[float, float]:
        """Add one event to a pair's weight kept as of ``last_ts``; returns ``(weight, last_ts)``.

        Start a pair at ``(0.0, ts of its first event)``.
        """
        if ts > last_ts:
            return weight * 2.0 ** (-(ts - last_ts) / self.half_life_s) + event_weight, ts
        return weight + event_weight * 2.0 ** (-(last_ts - ts) / self.half_life_s), last_ts

    def decay(self, weight: Floats, last_ts: Floats, as_of: float) -> Floats:
        """Weights kept as of ``last_ts``, decayed to ``as_of`` (pairs newer than it are not
        boosted)."""
        age = np.maximum(as_of - last_ts, 0.0)
        out: Floats = weight * np.exp2(-age / self.half_life_s)
        return out

    def aggregate(self, events: Iterable[EventLike], item_ids: Iterable[str] = ()) -> Interactions:
        """Fold events into pairs exactly as ingestion does (one batch, file order).

        Args:
            events: Behaviour events.
            item_ids: The catalogue (items without events keep an index).

        Raises:
            ValueError: unknown event type.
        """
        pairs: dict[tuple[str, str], list[float]] = {}  # weight, last_ts, first_ts, consumed
        users: set[str] = set()
        texts: dict[str, list[tuple[float, str]]] = {}
        for e in events:
            users.add(e.user_id)
            if e.text and e.type in USER_TEXT_TYPES:
                texts.setdefault(e.user_id, []).append((e.ts, e.text))
            if e.item_id is None:
                continue
            w = self.event_weight(e.type, e.quantity, e.rating)
            p = pairs.get((e.user_id, e.item_id))
            if p is None:
                p = pairs[(e.user_id, e.item_id)] = [0.0, e.ts, e.ts, 0.0]
            p[0], p[1] = self.fold(p[0], p[1], w, e.ts)
            p[2] = min(p[2], e.ts)
            if e.type in CONSUMED_TYPES:
                p[3] = 1.0
        user_ids = tuple(sorted(users))
        all_items = tuple(sorted(set(item_ids) | {i for _, i in pairs}))
        u_index = {u: k for k, u in enumerate(user_ids)}
        i_index = {i: k for k, i in enumerate(all_items)}
        keys = sorted(pairs, key=lambda k: (u_index[k[0]], i_index[k[1]]))
        values = np.asarray([pairs[k] for k in keys], np.float64).reshape(-1, 4)
        edges = EdgeArrays(
            np.asarray([u_index[u] for u, _ in keys], np.int64),
            np.asarray([i_index[i] for _, i in keys], np.int64),
            values[:, 0].copy(), values[:, 2].copy(), values[:, 1].copy(), values[:, 3] > 0,
        )
        return Interactions(user_ids, all_items, edges,
                            {u: user_text(t) for u, t in texts.items()})
