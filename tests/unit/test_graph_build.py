from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interest_workers.pipelines.graph_build import (
    IdMap,
    Interaction,
    behaviour_weight,
    build_graph,
    events_to_interactions,
    user_texts,
)

from .conftest import DAY, Ev


def test_id_map_round_trip_and_extend() -> None:
    m = IdMap(["b", "a", "b", "c"])
    assert m.ids == ("b", "a", "c")
    assert m.to_index(["c", "b"]).tolist() == [2, 0]
    assert m.to_ids(np.array([1, 2])) == ["a", "c"]
    assert m.to_index(["zz", "a"], missing=-1).tolist() == [-1, 1]
    with pytest.raises(KeyError):
        m.to_index(["zz"])
    bigger = m.extend(["c", "d"])
    assert bigger.ids == ("b", "a", "c", "d") and len(m) == 3


def test_behaviour_weight_rejects_unknown_type_naming_valid_ones() -> None:
    with pytest.raises(ValueError, match="purchase"):
        behaviour_weight("teleport")
    assert behaviour_weight("rating", rating=2.5) == pytest.approx(2.5)


def test_events_to_interactions_weights_decay_and_returns() -> None:
    now = 100 * DAY
    events = [
        Ev("u1", "a", "purchase", now, quantity=3),
        Ev("u1", "a", "return", now, quantity=3),  # fully returned -> dropped
        Ev("u1", "b", "view", now - 30 * DAY),  # one half-life old
        Ev("u1", "b", "cart", now),
        Ev("u2", "b", "rating", now, rating=4.0),
        Ev("u2", None, "search", now, text="green tea"),
    ]
    rows = events_to_interactions(events, half_life_days=30.0, now=now)
    assert [(r.user_id, r.item_id) for r in rows] == [("u1", "b"), ("u2", "b")]
    assert rows[0].weight == pytest.approx(0.5 * 1.0 + 3.0)
    assert rows[0].counts == {"view": 1, "cart": 1}
    assert rows[0].last_ts == now
    assert rows[1].weight == pytest.approx(4.0)
    assert user_texts(events) == {"u2": ["green tea"]}
    with pytest.raises(ValueError, match="half_life"):
        events_to_interactions(events, half_life_days=0)


def test_build_graph_keeps_catalogue_and_drops_non_positive() -> None:
    rows = [
        Interaction("u1", "a", 2.0, 10.0),
        Interaction("u2", "b", -1.0, 11.0),
        Interaction("u2", "a", 1.0, 12.0),
    ]
    g = build_graph(rows, item_ids=["c", "a", "b"])
    assert g.items.ids == ("c", "a", "b")
    assert g.users.ids == ("u1", "u2")
    assert g.edge_index.tolist() == [[0, 1], [1, 1]]
    assert torch.allclose(g.edge_weight, torch.tensor([2.0, 1.0]))
    assert g.item_degree().tolist() == [0, 2, 0]
    data = g.to_data(user_x=np.ones((2, 4), np.float32), item_x=np.zeros((3, 4), np.float32))
    assert data.num_nodes == 5 and data.edge_index.shape == (2, 4)
    assert data.x.shape == (5, 4)
    assert data.node_type.tolist() == [0, 0, 1, 1, 1]
    # Undirected: item node 3 (= item "a") links back to both users.
    assert sorted(data.edge_index[1][data.edge_index[0] == 3].tolist()) == [0, 1]
    assert math.isclose(float(g.to_csr()[0, 1]), 2.0)
