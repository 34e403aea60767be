from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interest_graph.recipe import EdgeArrays, EdgeRecipe
from interest_workers.pipelines.model.graph_build import IdMap, build_graph, consumed_matrix

DAY = 86400.0


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


def test_build_graph_decays_keeps_catalogue_and_drops_non_positive() -> None:
    # users u1, u2; items c, a, b. (u2, b) was returned; (u2, a) is one half-life old.
    edges = EdgeArrays.from_lists([1, 0, 1], [1, 1, 2], [2.0, 2.0, -1.0], [5.0, 1.0, 3.0],
                                  [10 * DAY, 40 * DAY, 40 * DAY], [False, True, True])
    g = build_graph(["u1", "u2"], ["c", "a", "b"], edges, EdgeRecipe(half_life_s=30 * DAY),
                    40 * DAY)
    assert g.items.ids == ("c", "a", "b") and g.users.ids == ("u1", "u2")
    assert g.edge_index.tolist() == [[0, 1], [1, 1]]  # sorted by user
    assert torch.allclose(g.edge_weight, torch.tensor([2.0, 1.0]))
    assert g.edge_first_ts.tolist() == [1.0, 5.0]
    assert g.item_degree().tolist() == [0, 2, 0]
    assert math.isclose(float(g.to_csr()[0, 1]), 2.0)
    assert g.to_csr(binary=True).sum() == 2
    sub = g.edge_subgraph(torch.tensor([True, False]))
    assert sub.num_edges == 1 and sub.users == g.users and sub.items == g.items
    # Consumed: what was bought, returned, rated or reviewed, whether or not it has an edge.
    c = consumed_matrix(edges, g.num_users, g.num_items).toarray()
    assert c.tolist() == [[0, 1, 0], [0, 0, 1]]
