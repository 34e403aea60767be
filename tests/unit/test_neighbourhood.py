"""Embedding a changed neighbourhood alone equals propagating over the whole changed graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric import seed_everything

from interest_workers.pipelines.model.features import user_features
from interest_workers.pipelines.model.gcn import TextGCN, TrainedModel, embed_inductive
from interest_workers.pipelines.model.graph_build import IdMap, InteractionGraph
from interest_workers.pipelines.model.neighbourhood import BaseMessages, embed_neighbourhood


def _graph(users: list[str], items: list[str], pairs: dict[tuple[int, int], float]
           ) -> InteractionGraph:
    keys = sorted(pairs)
    index = torch.tensor(keys, dtype=torch.int64).reshape(-1, 2).T.contiguous()
    return InteractionGraph(IdMap(users), IdMap(items), index,
                            torch.tensor([pairs[k] for k in keys], dtype=torch.float32),
                            torch.zeros(len(keys), dtype=torch.float64))


def _normal(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("layers", [1, 2])
def test_changed_users_and_new_items_match_the_whole_graph(layers: int) -> None:
    rng = np.random.default_rng(layers)
    U, I, D_t = 60, 40, 12
    users, items = [f"u{k}" for k in range(U)], [f"i{k}" for k in range(I)]
    pairs = {(int(u), int(i)): float(rng.uniform(0.5, 4.0))
             for u, i in zip(rng.integers(0, U, 400), rng.integers(0, I, 400))}
    pairs[(0, I - 1)] = 2.0  # item I-1 has one user, u0, who drops it below
    pairs = {k: v for k, v in pairs.items() if k[1] != I - 1 or k[0] == 0}
    base = _graph(users, items, pairs)
    item_x = _normal(rng, I + 2, D_t)
    seed_everything(0)
    model = TextGCN(U, I, D_t, embedding_dim=8, num_layers=layers)
    trained = TrainedModel(model, base, user_features(base, item_x[:I]), item_x[:I], "v1")

    # Changed: u0 (new weights, a new item, drops I-1), u1 (loses every edge), u2 (unchanged
    # edges: a neighbour of a changed item), u60 (new, buys the new item and two old ones).
    # Item I+1 is new and nobody touched it.
    new_items = [*items, "new1", "new2"]
    changed = {(0, 3): 5.0, (0, 7): 1.0, (0, I): 2.0}
    changed.update({(2, i): w for (u, i), w in pairs.items() if u == 2})
    changed.update({(3, I): 1.5, (3, 3): 1.0, (3, 5): 3.0})
    local = _graph(["u0", "u1", "u2", "u60"], new_items, changed)
    whole_pairs = {k: v for k, v in pairs.items() if k[0] not in (0, 1, 2)}
    rows = {0: 0, 1: 1, 2: 2, 3: U}
    whole_pairs.update({(rows[u], i): w for (u, i), w in changed.items()})
    whole = _graph([*users, "u60"], new_items, whole_pairs)

    ref_u, ref_i = embed_inductive(trained, whole, user_features(whole, item_x), item_x,
                                   device="cpu")
    got_u, got_i = embed_neighbourhood(
        trained, BaseMessages.of(trained), local, np.array([0, 1, 2, -1]),
        user_features(local, item_x), item_x)
    assert got_u.shape == (4, 8) and got_i.shape == (2, 8)
    torch.testing.assert_close(got_u, ref_u[[0, 1, 2, U]], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_i, ref_i[I:], rtol=1e-5, atol=1e-5)
    # The changes moved the users (the check is not vacuous) ...
    before, _ = trained.embeddings("cpu")
    assert not torch.allclose(got_u[0], before[0], atol=1e-3)
    # ... and an untouched neighbour's embedding only through its items' new degrees.
    assert torch.allclose(got_u[2], before[2], atol=0.5)


def test_deeper_models_are_refused() -> None:
    base = _graph(["u0"], ["i0"], {(0, 0): 1.0})
    x = np.ones((1, 4), np.float32)
    trained = TrainedModel(TextGCN(1, 1, 4, embedding_dim=4, num_layers=3), base, x, x, "v1")
    with pytest.raises(ValueError, match="3 layers"):
        embed_neighbourhood(trained, BaseMessages.of(trained), base, np.array([0]), x, x)
