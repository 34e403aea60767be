from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch_geometric import seed_everything

from interest_workers.pipelines.model.features import build_node_features, user_features
from interest_workers.pipelines.model.gcn import TextGCN, TrainedModel, embed, embed_inductive
from interest_workers.pipelines.model.propagation import (
    bipartite_edges,
    normalized_adjacency,
    propagation,
)
from interest_workers.pipelines.model.training import train_gcn

from .conftest import ITEM_TEXTS, PAIRS, make_graph


@dataclass(frozen=True)
class Feats:
    user_x: np.ndarray
    item_x: np.ndarray


def features(graph, encoder) -> Feats:
    f = build_node_features(graph, ITEM_TEXTS, encoder)
    return Feats(user_features(graph, f.item_x, f.user_text_x), f.item_x)


def _fit(tiny_graph, encoder, *, seed: int = 0, epochs: int = 30, sampled: bool = False):
    feats = features(tiny_graph, encoder)
    seed_everything(seed)
    model = TextGCN(tiny_graph.num_users, tiny_graph.num_items, encoder.dim, embedding_dim=16)
    res = train_gcn(
        model, tiny_graph, feats.user_x, feats.item_x, epochs=epochs, lr=0.05, batch_size=4,
        seed=seed, device="cpu", sampled=sampled,
    )
    return model, feats, res


def test_forward_shapes_and_isolated_nodes_keep_input(tiny_graph, encoder) -> None:
    feats = features(tiny_graph, encoder)
    model = TextGCN(tiny_graph.num_users, tiny_graph.num_items, encoder.dim, embedding_dim=8)
    assert "TextGCN(users=6, items=7" in repr(model)
    n = tiny_graph.num_users + tiny_graph.num_items
    adj = normalized_adjacency(
        bipartite_edges(tiny_graph.edge_index, 6), torch.cat([tiny_graph.edge_weight] * 2), n
    )
    ux, ix = torch.from_numpy(feats.user_x), torch.from_numpy(feats.item_x)
    z = model.get_embedding(adj, ux, ix)
    assert z.shape == (13, 8)
    h0 = model.node_input(ux, ix)
    new = 6 + tiny_graph.items.index("new")
    assert torch.allclose(z[new], h0[new])  # no edges: layer-0 embedding all the way
    scores = model(adj, ux, ix, torch.tensor([[0, 1], [0, 6]]))
    assert scores.shape == (2,)
    loss = model.recommendation_loss(scores[:1], scores[1:])
    assert loss.ndim == 0 and loss.item() > 0
    before = model.user_embedding.weight.clone()
    model.reset_parameters()
    assert not torch.allclose(before, model.user_embedding.weight)


def test_propagation_operator_equals_the_masked_adjacency(tiny_graph, encoder) -> None:
    """The fast operator (isolated nodes' self-loops folded in, CSR, its own gradient) gives the
    values and gradients of the plain adjacency with isolated nodes masked."""
    feats = features(tiny_graph, encoder)
    model = TextGCN(tiny_graph.num_users, tiny_graph.num_items, encoder.dim, embedding_dim=8,
                    num_layers=3)
    n = tiny_graph.num_users + tiny_graph.num_items
    w = tiny_graph.edge_weight * torch.linspace(0.5, 3.0, tiny_graph.num_edges)  # unequal weights
    adj = normalized_adjacency(bipartite_edges(tiny_graph.edge_index, 6), torch.cat([w] * 2), n)
    op = propagation(tiny_graph.edge_index, w, 6, n)
    assert op.num_nodes == n and op.matrix.layout == torch.sparse_csr
    ux, ix = torch.from_numpy(feats.user_x), torch.from_numpy(feats.item_x)
    mask = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    ids = torch.arange(6), torch.arange(7)
    g = torch.randn(n, 8, generator=torch.Generator().manual_seed(0))
    grads = []
    for a, explicit in ((adj, True), (op, False)):
        model.zero_grad()
        # With explicit ids node_input takes the general path; without, the training graph's own.
        h0 = model.node_input(ux, ix, *(ids if explicit else (None, None)), item_id_mask=mask)
        h0.retain_grad()
        z = model.propagate_layers(h0, a)
        (z * g).sum().backward()
        grads.append((z.detach(), h0.grad.clone(), model.item_embedding.weight.grad.clone(),
                      model.user_text.weight.grad.clone()))
    for old, new in zip(*grads):
        assert torch.allclose(old, new, atol=1e-6)
    new = 6 + tiny_graph.items.index("new")
    h0 = model.node_input(ux, ix, item_id_mask=mask).detach()
    assert torch.allclose(grads[1][0][new], h0[new])  # isolated: its input in every layer
    assert grads[1][2][tiny_graph.items.index("tea2")].abs().sum() == 0  # id dropped out


@pytest.mark.parametrize("sampled", [False, True], ids=["full-batch", "sampled"])
def test_training_learns_the_two_clusters(tiny_graph, encoder, sampled) -> None:
    model, feats, res = _fit(tiny_graph, encoder, sampled=sampled, epochs=40 if sampled else 30)
    assert res.history[-1][1] < res.history[0][1]
    ue, ie = embed(model, tiny_graph, feats.user_x, feats.item_x, device="cpu")
    u1 = tiny_graph.users.index("u1")
    tea = [tiny_graph.items.index(i) for i in ("tea1", "tea2", "tea3")]
    gar = [tiny_graph.items.index(i) for i in ("gar1", "gar2", "gar3")]
    s = ue[u1] @ ie.T
    assert s[tea].min() > s[gar].max()
    # The cold item (no edges) is embedded from its tea-ish text: closer to tea users.
    new = tiny_graph.items.index("new")
    u4 = tiny_graph.users.index("u4")
    assert float(ue[u1] @ ie[new]) > float(ue[u4] @ ie[new])


def test_a_sampled_step_estimates_the_whole_graphs_propagation(tiny_graph) -> None:
    """A step's subgraph: its users' rows are the whole graph's; its items' rows, rescaled by
    ``U / |S|``, average to the whole graph's over the shares of an epoch (unbiased)."""
    from interest_workers.pipelines.model.training import _UserSampler

    g = tiny_graph
    U, N = g.num_users, g.num_users + g.num_items
    whole = propagation(g.edge_index, g.edge_weight, U, N).matrix.to_dense()
    sampler = _UserSampler(g, "log1p")
    warm = torch.from_numpy(np.flatnonzero(g.item_degree() > 0))
    x = torch.randn(N, 3, generator=torch.Generator().manual_seed(0))
    shares = torch.arange(U).chunk(2)
    item_sum = torch.zeros(g.num_items, 3)
    for chosen in shares:
        edges, negs, local_user, local_item, items, op = sampler.step(
            chosen, warm, torch.Generator().manual_seed(1), torch.device("cpu"))
        assert sorted(g.edge_index[0, edges].tolist()) == sorted(
            u for u in g.edge_index[0].tolist() if u in set(chosen.tolist()))
        assert len(negs) == len(edges) and set(negs.tolist()) <= set(warm.tolist())
        local_x = torch.cat([x[chosen], x[U + items]])
        out = op.apply(local_x)
        assert torch.allclose(out[: len(chosen)], (whole @ x)[chosen], atol=1e-6)
        item_sum[items] += out[len(chosen):]
        # Its gradient is the transpose's product.
        local_x.requires_grad_(True)
        grad = torch.autograd.grad(op.apply(local_x).sum(), local_x)[0]
        assert torch.allclose(grad, op.transpose.to_dense() @ torch.ones_like(local_x), atol=1e-6)
    # (An item without edges keeps its own row in the whole graph; no step holds it.)
    assert torch.allclose((item_sum / len(shares))[warm], (whole @ x)[U:][warm], atol=1e-5)


def test_same_seed_same_result_and_early_stopping(tiny_graph, encoder) -> None:
    m1, f, _ = _fit(tiny_graph, encoder, seed=3, epochs=6)
    m2, _, _ = _fit(tiny_graph, encoder, seed=3, epochs=6)
    m3, _, _ = _fit(tiny_graph, encoder, seed=4, epochs=6)
    e1 = embed(m1, tiny_graph, f.user_x, f.item_x)[0]
    assert torch.allclose(e1, embed(m2, tiny_graph, f.user_x, f.item_x)[0], atol=1e-6)
    assert not torch.allclose(e1, embed(m3, tiny_graph, f.user_x, f.item_x)[0], atol=1e-3)
    calls = iter([0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0, 0.0])
    model = TextGCN(6, 7, encoder.dim, embedding_dim=8)
    res = train_gcn(
        model, tiny_graph, f.user_x, f.item_x, epochs=50, eval_every=1, patience=2,
        validation=lambda u, i: next(calls),
    )
    assert res.best_epoch == 1 and res.epochs == 3


def test_inductive_embedding_of_new_users_and_items(tiny_graph, encoder) -> None:
    model, feats, _ = _fit(tiny_graph, encoder, epochs=10)
    trained = TrainedModel(model, tiny_graph, feats.user_x, feats.item_x, "textgcn-test-1",
                           encoder_name=encoder.name)
    ue, ie = trained.embeddings("cpu")
    assert torch.allclose(ue, embed(model, tiny_graph, feats.user_x, feats.item_x)[0])
    # A new user who bought two garden items, and a brand new garden item.
    texts = {**ITEM_TEXTS, "gar9": "garden tool hose"}
    g2 = make_graph([*PAIRS, ("u9", "gar1"), ("u9", "gar2")], [*tiny_graph.items.ids, "gar9"],
                    user_ids=[*tiny_graph.users.ids, "u9"])
    f = build_node_features(g2, texts, encoder)
    ue2, ie2 = embed_inductive(trained, g2, user_features(g2, f.item_x), f.item_x, device="cpu")
    assert ue2.shape == (7, 16) and ie2.shape == (8, 16)
    u9 = g2.users.index("u9")
    gar = [g2.items.index(i) for i in ("gar1", "gar2", "gar3")]
    tea = [g2.items.index(i) for i in ("tea1", "tea2", "tea3")]
    s = ue2[u9] @ ie2.T
    assert s[gar].mean() > s[tea].mean()
    with pytest.raises(ValueError, match="width"):
        embed_inductive(trained, g2, np.zeros((7, 5), np.float32), np.zeros((8, 5), np.float32))
