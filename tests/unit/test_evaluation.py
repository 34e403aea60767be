from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from interest_graph.recipe import EdgeRecipe
from interest_workers.pipelines.evaluation import lightgcn, peers
from interest_workers.pipelines.evaluation.evaluation import run_benchmark
from interest_workers.pipelines.model import baselines
from interest_workers.pipelines.model.features import HashingEncoder
from interest_workers.pipelines.model.interest_model import FitConfig
from interest_workers.pipelines.model.metrics import Targets, evaluate_scorer, index_targets
from interest_workers.pipelines.model.propagation import bipartite_edges
from interest_workers.pipelines.model.scores import EmbeddingScorer
from interest_workers.pipelines.model.splits import temporal_split

from .conftest import DAY, ITEM_TEXTS, PAIRS, Ev, make_graph


def test_temporal_split_holds_out_latest_items_per_user() -> None:
    events = [Ev("u", f"i{k}", "purchase", k * DAY) for k in range(10)]
    events += [Ev("u", "i0", "purchase", 20 * DAY), Ev("short", "i1", "view", 0.0)]
    train, held = temporal_split(events, holdout=0.2, min_items=5)
    assert held == {"u": ["i8", "i9"]}
    assert {e.item_id for e in train if e.user_id == "u"} == {f"i{k}" for k in range(8)}
    assert any(e.user_id == "short" for e in train)
    with pytest.raises(ValueError, match="holdout"):
        temporal_split(events, holdout=1.5)


def test_metrics_on_a_hand_computed_ranking() -> None:
    items = np.eye(4, dtype=np.float32)
    users = np.array([[4.0, 3.0, 2.0, 1.0]], np.float32)
    train = sp.csr_matrix(np.array([[1, 0, 0, 0]], np.float32))
    # Ranking after excluding item 0: 1, 2, 3. Targets 2 (rank 2) and 3 (rank 3, cold).
    targets = Targets(np.array([0]), [np.array([2, 3])], np.array([2]),
                      np.array([False, False, False, True]))
    m = evaluate_scorer(EmbeddingScorer(users, items), train, targets, k=2, hit_k=1)
    assert m["recall@2"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert m["hit@1"] == 0.0
    assert m["coverage"] == pytest.approx(0.5)
    assert m["cold_recall@2"] == 0.0
    none_cold = Targets(np.array([0]), [np.array([1])], np.array([1]), np.zeros(4, bool))
    m2 = evaluate_scorer(EmbeddingScorer(users, items), train, none_cold, k=2, hit_k=1)
    assert m2["recall@2"] == 1.0 and m2["hit@1"] == 1.0 and m2["cold_recall@2"] is None
    # A held-out item outside the catalogue is a miss nothing can avoid.
    outside = Targets(np.array([0]), [np.array([1])], np.array([2]), np.zeros(4, bool))
    m3 = evaluate_scorer(EmbeddingScorer(users, items), train, outside, k=2, hit_k=1)
    assert m3["recall@2"] == 0.5
    assert m3["ndcg@2"] == pytest.approx(1 / (1 + 1 / np.log2(3)))


def test_baselines_rank_cluster_items_first(tiny_graph, encoder) -> None:
    u1 = np.array([tiny_graph.users.index("u1")])
    tea3, gar1 = tiny_graph.items.index("tea3"), tiny_graph.items.index("gar1")
    item_x = encoder.encode([ITEM_TEXTS[i] for i in tiny_graph.items.ids])
    for model in (baselines.ItemKNN(k=3), baselines.EASE(l2=1.0), baselines.RP3Beta(k=3),
                  baselines.RP3Beta(beta=0.0, history="weighted"), baselines.Content(item_x),
                  peers.ImplicitALS(factors=2, regularization=0.1, alpha=10.0)):
        s = model.fit(tiny_graph).score(u1)[0]
        assert s[tea3] > s[gar1], type(model).__name__
    pop = baselines.Popularity().fit(tiny_graph).score(u1)[0]
    assert pop[tiny_graph.items.index("new")] == 0 and pop[tea3] == 2
    for model in (peers.ImplicitBPR(factors=4, iterations=3), peers.MultVAE(epochs=3),
                  lightgcn.LightGCN(epochs=3, min_batch_size=4)):
        assert model.fit(tiny_graph).score(u1).shape == (1, 7)
    g = make_graph(PAIRS, list(ITEM_TEXTS))
    t = index_targets(g, {"u1": ["tea3", "unknown"], "nobody": ["tea1"]})
    assert t.users.tolist() == [0] and t.items[0].tolist() == [g.items.index("tea3")]
    assert t.sizes.tolist() == [2]


class _Item:
    def __init__(self, text: str) -> None:
        self.text = text


def _synthetic_events(seed: int = 0) -> list[Ev]:
    rng = np.random.default_rng(seed)
    events = []
    for u in range(30):
        cluster = ["tea1", "tea2", "tea3"] if u % 2 == 0 else ["gar1", "gar2", "gar3"]
        pool = cluster + ["tea1", "gar1"]
        for k, item in enumerate(rng.permutation(pool)[:5]):
            events.append(Ev(f"u{u}", str(item), "purchase", (u + k * 40) * DAY))
        if u % 2 == 0 and u < 10:
            events.append(Ev(f"u{u}", "new", "purchase", 400 * DAY))
    return events


def test_benchmark_runs_all_methods_and_is_deterministic() -> None:
    items = {i: _Item(t) for i, t in ITEM_TEXTS.items()}
    config = FitConfig(max_epochs=4, embedding_dim=8, l2_grid=(10.0,), blend_grid=(0.5, 1.0),
                       blend_resamples=2, min_items=3, seed=1)
    kwargs = dict(recipe=EdgeRecipe(half_life_s=90 * DAY), config=config, holdout=0.3,
                  min_items=3)
    first = run_benchmark(_synthetic_events(), items, HashingEncoder(16), **kwargs)
    second = run_benchmark(_synthetic_events(), items, HashingEncoder(16), **kwargs)
    assert set(first["methods"]) == {"ours", "popularity", "content", "itemknn", "ease", "rp3beta",
                                     "implicit_als", "implicit_bpr", "multvae", "lightgcn"}
    assert first["info"]["cold_test_pairs"] > 0
    for name, m in first["methods"].items():
        for key in ("recall@20", "ndcg@20", "hit@10", "coverage"):
            assert 0.0 <= m[key] <= 1.0
            assert m[key] == pytest.approx(second["methods"][name][key], abs=1e-6)
    # Only 7 items, so every list holds every item: all cold targets are "found".
    assert all(m["cold_recall@20"] == 1.0 for m in first["methods"].values())
    assert set(first["methods"]["ours"]["chosen"]["weights"]) <= set(config.terms)
    with pytest.raises(ValueError, match="valid: ours"):
        run_benchmark(_synthetic_events(), items, HashingEncoder(16), methods=["nope"], **kwargs)



def test_lightgcn_propagates_as_pyg_does(tiny_graph) -> None:
    model = lightgcn.LightGCN(epochs=2, min_batch_size=4).fit(tiny_graph)
    U = tiny_graph.num_users
    with torch.no_grad():
        z = model.module.get_embedding(bipartite_edges(tiny_graph.edge_index, U))
    assert np.allclose(model.user_emb, z[:U].numpy(), atol=1e-6)
    assert np.allclose(model.item_emb, z[U:].numpy(), atol=1e-6)
    # The propagation's gradient (A symmetric: A @ grad) is the true one.
    a = torch.rand(6, 6, dtype=torch.float64)
    adj = ((a + a.T) * (a + a.T > 1.0)).to_sparse_csr()
    x = torch.rand(6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: lightgcn._SymmetricPropagation.apply(adj, v), (x,))
