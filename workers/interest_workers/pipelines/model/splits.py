"""Temporal hold-outs: the test split of an event log, and the validation carve of a graph.

Both hold out each user's most recently *first-touched* items: per user, the distinct items are
ordered by first interaction time and the last ``holdout`` share is held out (users with at least
``min_items`` items; at least one item each).

Items whose first interaction times tie are ordered by a seeded hash of (user id, item id)
(:func:`tie_keys`), not by id or index: on data without timestamps, or with day-level ones, the
held-out items are then a random sample of each user's tied items, not the highest ids, and the
same sample on every backend (it depends on the ids alone).

* :func:`temporal_split` cuts an event log (the benchmark's test split): every event of a held-out
  (user, item) pair leaves the training events.
* :func:`carve_validation` cuts a graph's own edges by their first interaction time. The served
  model's fit picks its epochs, λ and blend weight there, so the refresh and the benchmark make
  the same choices from the same graph.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from interest_graph.recipe import EventLike

from .graph_build import InteractionGraph
from .metrics import Targets

#: Seeds the tie-break hash (a fixed value: the carve is part of the served function).
TIE_SEED = 0
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def id_hashes(ids: Iterable[str], seed: int = TIE_SEED) -> np.ndarray:
    """``(n,)`` uint64 keyed BLAKE2b hashes of ``ids`` (stable across processes and machines)."""
    key = seed.to_bytes(8, "little")
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8, key=key).digest(), "little")
         for i in ids), np.uint64)


def tie_keys(user_hash: np.ndarray, item_hash: np.ndarray) -> np.ndarray:
    """The tie-break key of each (user, item) pair from the two ids' hashes (:func:`id_hashes`):
    SplitMix64's finaliser over their combination, so the order of a user's items is unrelated
    to their ids and to other users' orders."""
    with np.errstate(over="ignore"):
        z = (user_hash * np.uint64(0x9E3779B97F4A7C15) + item_hash) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return np.asarray(z ^ (z >> np.uint64(31)), np.uint64)


def _check(holdout: float) -> None:
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")


def temporal_split(
    events: Sequence[EventLike], *, holdout: float = 0.2, min_items: int = 5
) -> tuple[list[EventLike], dict[str, list[str]]]:
    """Hold out each user's most recently first-touched items, with all their events.

    Args:
        events: All events.
        holdout: Share of each user's distinct items held out (at least one).
        min_items: Users with fewer distinct items (returns aside) stay entirely in training.

    Returns:
        ``(training events, held-out item ids per user)``.

    Raises:
        ValueError: ``holdout`` outside ``(0, 1)``.
    """
    _check(holdout)
    first: dict[str, dict[str, float]] = defaultdict(dict)
    for e in events:
        if e.item_id is None or e.type == "return":
            continue
        seen = first[e.user_id]
        if e.item_id not in seen or e.ts < seen[e.item_id]:
            seen[e.item_id] = e.ts
    held: dict[str, list[str]] = {}
    item_hash: dict[str, np.uint64] = {}
    for user, items in first.items():
        if len(items) < min_items:
            continue
        ids = list(items)
        new = [i for i in ids if i not in item_hash]
        item_hash.update(zip(new, id_hashes(new)))
        ties = tie_keys(id_hashes([user]), np.array([item_hash[i] for i in ids], np.uint64))
        order = np.lexsort((ties, np.array([items[i] for i in ids], np.float64)))
        n = max(1, int(round(len(order) * holdout)))
        held[user] = [ids[j] for j in order[-n:]]
    held_sets = {u: set(v) for u, v in held.items()}
    train = [e for e in events if e.item_id is None or e.item_id not in held_sets.get(e.user_id, ())]
    return train, held


def carve_validation(
    graph: InteractionGraph, *, holdout: float = 0.2, min_items: int = 5
) -> tuple[InteractionGraph, Targets]:
    """Hold out each user's most recently first-touched edges of ``graph``.

    Ties in first interaction time are ordered by :func:`tie_keys` of the user and item ids (so
    the carve of tied edges is a seeded random sample, and the same wherever the graph came from).

    Args:
        graph: A training graph with ``edge_first_ts``.
        holdout: Share of each user's edges held out (at least one).
        min_items: Users with fewer edges are not held out.

    Returns:
        ``(the graph without the held-out edges, the held-out edges as targets)``.

    Raises:
        ValueError: ``holdout`` outside ``(0, 1)``.
    """
    _check(holdout)
    u = graph.edge_index[0].numpy()
    i = graph.edge_index[1].numpy()
    ties = tie_keys(id_hashes(graph.users.ids)[u], id_hashes(graph.items.ids)[i])
    order = np.lexsort((ties, graph.edge_first_ts.numpy(), u))
    deg = np.bincount(u, minlength=graph.num_users)
    n_held = np.where(deg >= min_items, np.maximum(1, np.rint(deg * holdout)), 0).astype(np.int64)
    us = u[order]
    start = np.cumsum(deg) - deg
    position = np.arange(len(order)) - start[us]
    held_sorted = position >= deg[us] - n_held[us]
    held = np.zeros(len(order), bool)
    held[order] = held_sorted
    sub = graph.edge_subgraph(torch.from_numpy(~held))
    users = np.flatnonzero(n_held > 0)
    held_u, held_i = u[held], i[held]
    by_user = np.argsort(held_u, kind="stable")
    items = np.split(held_i[by_user], np.cumsum(n_held[users])[:-1]) if len(users) else []
    targets = Targets(users.astype(np.int64), [np.sort(x) for x in items],
                      n_held[users], sub.item_degree() == 0)
    return sub, targets
