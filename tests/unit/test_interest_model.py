"""The served model: the validation carve, one fit, one score function, saved artefacts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from interest_graph.recipe import EdgeArrays, EdgeRecipe
from interest_graph.settings import Settings
from interest_workers.pipelines.artefacts import (
    ARTEFACT_FORMAT,
    ArtefactFormatError,
    Artefacts,
    load_artefacts,
    load_segments,
    prune_models,
    save_artefacts,
)
from interest_workers.pipelines.model import baselines
from interest_workers.pipelines.model.features import build_node_features
from interest_workers.pipelines.model.graph_build import build_graph, consumed_matrix
from interest_workers.pipelines.model.interest_model import (
    FALLBACK_SPARSE_WEIGHTS,
    FALLBACK_WEIGHTS,
    FitConfig,
    fit,
    serve,
)
from interest_workers.pipelines.model.splits import carve_validation
from interest_workers.pipelines.segments.segment_space import InterestSpace
from interest_workers.pipelines.segments.segmentation import SavedSegments

from .conftest import ITEM_TEXTS, PAIRS, make_graph

CONFIG = FitConfig(max_epochs=6, embedding_dim=8, l2_grid=(1.0, 10.0), rp3_alphas=(1.0,),
                   rp3_betas=(0.0, 0.5), sequence_decays=(0.7,), blend_grid=(0.0, 0.5, 1.0),
                   blend_resamples=3, min_items=2, holdout=0.5, lr=0.05, min_batch_size=4)


def test_carve_holds_out_each_users_latest_first_touched_edges() -> None:
    pairs = [("a", "i1"), ("a", "i2"), ("a", "i3"), ("a", "i4"), ("b", "i1"), ("b", "i2"),
             ("c", "i3")]
    # a touched i3 last, then i4.
    first = [1.0, 5.0, 9.0, 6.0, 2.0, 1.0, 7.0]
    g = make_graph(pairs, ["i1", "i2", "i3", "i4", "cold"], first_ts=first)
    sub, targets = carve_validation(g, holdout=0.5, min_items=2)
    assert targets.users.tolist() == [0, 1]
    assert [t.tolist() for t in targets.items] == [[2, 3], [0]]
    assert targets.sizes.tolist() == [2, 1]
    assert sub.num_edges == 4 and sub.users == g.users and sub.items == g.items
    kept = {(g.users.ids[u], g.items.ids[i]) for u, i in sub.edge_index.t().tolist()}
    assert kept == {("a", "i1"), ("a", "i2"), ("b", "i2"), ("c", "i3")}
    assert targets.cold_items.tolist() == [False, False, False, True, True]
    with pytest.raises(ValueError, match="holdout"):
        carve_validation(g, holdout=1.0)


def _fit(graph, encoder, config=CONFIG, exclude=None):
    feats = build_node_features(graph, ITEM_TEXTS, encoder)
    if exclude is None:
        exclude = graph.to_csr(binary=True)
    return fit(graph, feats.item_x, feats.user_text_x, exclude, config, version="v1",
               encoder_name=encoder.name)


def test_fit_chooses_on_its_own_edges_and_is_deterministic(tiny_graph, encoder) -> None:
    one = _fit(tiny_graph, encoder)
    two = _fit(tiny_graph, encoder)
    sel = one.selection
    assert 1 <= sel.epochs <= CONFIG.max_epochs and sel.val_recall is not None
    assert set(sel.singles) == set(CONFIG.terms) and sel.val_score is not None
    assert sum(sel.weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(0.0 <= w <= 1.0 for w in sel.weights.values())
    # Every term of non-zero weight is refitted with the variant chosen for it.
    assert {t for t, w in sel.weights.items() if w and t != "gcn"} == set(sel.variants) == set(
        one.terms)
    if "ease" in sel.variants:
        assert sel.variants["ease"].as_dict()["l2"] in CONFIG.l2_grid
    assert sel == two.selection
    assert torch.equal(one.user_emb, two.user_emb) and torch.equal(one.item_emb, two.item_emb)
    users = np.arange(tiny_graph.num_users)
    assert np.array_equal(one.scorer().score(users), two.scorer().score(users))
    # Too few edges per user to carve a validation split: the fallback choices.
    small = _fit(tiny_graph, encoder, FitConfig(max_epochs=2, embedding_dim=8, min_items=10))
    assert small.selection.val_recall is None and small.selection.epochs == 2
    assert {t: w for t, w in small.selection.weights.items() if w} == FALLBACK_WEIGHTS


def test_the_quick_search_weighs_every_term_from_the_grids_middle_values(tiny_graph,
                                                                          encoder) -> None:
    settings = Settings.from_env({"INTERESTGRAPH_MODEL_SEARCH": "quick"})
    quick = FitConfig.from_settings(settings)
    assert FitConfig.from_settings(Settings.from_env({})) == FitConfig(
        max_epochs=settings.train_epochs, device=settings.device, sampled_edges=None)
    assert (quick.l2_grid, quick.rp3_alphas, quick.rp3_betas, quick.sequence_decays) == (
        (300.0,), (0.75,), (0.3,), (0.7,))
    assert (quick.blend_rounds, quick.blend_resamples) == (1, 0)
    config = replace(CONFIG.quick(), rp3_betas=(0.5,))
    assert config.l2_grid == (10.0,) and config.blend_resamples == 0
    sel = _fit(tiny_graph, encoder, config).selection
    assert set(sel.singles) == set(CONFIG.terms)
    assert sum(sel.weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(v.as_dict() == {"l2": 10.0, "history": v.as_dict()["history"]}
               for t, v in sel.variants.items() if t == "ease")


def test_above_the_dense_item_limit_no_term_is_items_by_items_dense(tiny_graph, encoder) -> None:
    """A catalogue over ``dense_item_limit`` leaves EASE out: the blend is still chosen on the
    validation carve, among the other terms (RP3β is the item-item one, sparse top-k)."""
    n = tiny_graph.num_items
    assert CONFIG.terms_for(n) == CONFIG.terms and "ease" in CONFIG.terms
    limited = replace(CONFIG, dense_item_limit=n - 1)
    assert limited.terms_for(n) == tuple(t for t in CONFIG.terms if t != "ease")
    model = _fit(tiny_graph, encoder, limited)
    sel = model.selection
    assert sel.val_score is not None and "ease" not in sel.singles
    assert set(sel.singles) == set(CONFIG.terms) - {"ease"}
    assert "ease" not in sel.weights and "ease" not in model.terms
    assert all(not isinstance(t, baselines.EASE) for t in model.terms.values())
    assert sum(sel.weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert model.scorer().score(np.arange(tiny_graph.num_users)).shape == (
        tiny_graph.num_users, n)
    # Too few edges to carve: the fallback blends RP3β, not EASE.
    small = _fit(tiny_graph, encoder, FitConfig(max_epochs=2, embedding_dim=8, min_items=10,
                                                dense_item_limit=n - 1))
    assert {t: w for t, w in small.selection.weights.items() if w} == FALLBACK_SPARSE_WEIGHTS
    assert isinstance(small.terms["rp3beta"], baselines.RP3Beta)


def test_user_subgraph_keeps_the_users_edges_over_the_items_they_touched() -> None:
    pairs = [("a", "i1"), ("a", "i2"), ("b", "i2"), ("b", "i3"), ("c", "i4")]
    g = make_graph(pairs, ["i1", "i2", "i3", "i4", "cold"], weights=[1.0, 2.0, 3.0, 4.0, 5.0],
                   first_ts=[1.0, 2.0, 3.0, 4.0, 5.0])
    sub, items = g.user_subgraph(np.array([0, 2]))
    assert sub.users.ids == ("a", "c") and sub.items.ids == ("i1", "i2", "i4")
    assert items.tolist() == [0, 1, 3]
    got = {(sub.users.ids[u], sub.items.ids[i], float(w), float(t)) for (u, i), w, t in zip(
        sub.edge_index.t().tolist(), sub.edge_weight, sub.edge_first_ts, strict=True)}
    assert got == {("a", "i1", 1.0, 1.0), ("a", "i2", 2.0, 2.0), ("c", "i4", 5.0, 5.0)}
    with pytest.raises(ValueError, match="ascending"):
        g.user_subgraph(np.array([2, 0]))


def test_above_select_users_the_choices_are_made_on_a_sample(tiny_graph, encoder,
                                                             monkeypatch) -> None:
    """Choosing (carve, GCN with early stopping, every variant, the blend) runs on a seeded
    sample of ``select_users`` users and the items they touched; the model is then fitted on
    every user and item, and EASE's ridge strength is scaled to the whole graph."""
    from interest_workers.pipelines.model import interest_model

    seen = []
    real = interest_model._select

    def spy(sub, targets, exclude, item_x, user_text_x, config, batch_size, catalogue):
        seen.append((sub.num_users, sub.num_items, item_x.shape[0], exclude.shape, catalogue))
        return real(sub, targets, exclude, item_x, user_text_x, config, batch_size, catalogue)

    monkeypatch.setattr(interest_model, "_select", spy)
    n_users, n_items = tiny_graph.num_users, tiny_graph.num_items
    half = n_users // 2
    config = replace(CONFIG, select_users=half, terms=("gcn", "ease"), l2_grid=(10.0,))
    model = _fit(tiny_graph, encoder, config)
    (users, items, x_rows, shape, catalogue), = seen
    assert users == half and items == x_rows and shape == (half, items) and items <= n_items
    assert catalogue == n_items  # the terms allowed are the whole catalogue's
    sel = model.selection
    assert sel.selected_on == half and sel.as_dict()["selected_on_users"] == half
    assert model.user_emb.shape[0] == n_users and model.item_emb.shape[0] == n_items
    # EASE, chosen on the sample, is served with λ scaled to every user.
    assert sel.variants["ease"].as_dict()["l2"] == pytest.approx(10.0 * n_users / half)
    assert model.terms["ease"].l2 == pytest.approx(10.0 * n_users / half)
    assert config.selection_users(tiny_graph).tolist() == \
        config.selection_users(tiny_graph).tolist()  # seeded
    # At or under the limit every user is used, as before.
    seen.clear()
    whole = _fit(tiny_graph, encoder, replace(config, select_users=n_users))
    assert seen[0][0] == n_users and whole.selection.selected_on is None


def test_serve_excludes_what_was_consumed_not_what_was_viewed(tiny_graph, encoder) -> None:
    model = _fit(tiny_graph, encoder)
    u1 = tiny_graph.users.index("u1")
    tea1, tea2, tea3 = (tiny_graph.items.index(i) for i in ("tea1", "tea2", "tea3"))
    # u1 bought tea1 and returned tea3 in full (no edge, consumed), and only viewed tea2.
    exclude = sp.lil_matrix((tiny_graph.num_users, tiny_graph.num_items), dtype=np.float32)
    exclude[u1, tea1] = exclude[u1, tea3] = 1
    top = serve(model.scorer(), exclude.tocsr(), k=tiny_graph.num_items)
    row = top.items[u1].tolist()
    assert tea1 not in row and tea3 not in row and tea2 in row
    assert row.count(-1) == 2  # padded: two items excluded
    everyone = serve(model.scorer(), sp.csr_matrix(exclude.shape, dtype=np.float32), k=3)
    assert serve(model.scorer(), exclude.tocsr(), 3, users=np.array([u1])).items.tolist() == [
        [i for i in top.items[u1].tolist()[:3]]]
    assert everyone.items.shape == (tiny_graph.num_users, 3)


def test_a_fully_returned_purchase_is_not_served_back(encoder) -> None:
    # u1 bought and returned gar1 in full: the pair nets to 0, carries no edge, is consumed.
    pairs = [*PAIRS, ("u1", "gar1")]
    users = list(dict.fromkeys(u for u, _ in pairs))
    items = list(ITEM_TEXTS)
    n = len(pairs)
    edges = EdgeArrays.from_lists([users.index(u) for u, _ in pairs],
                                  [items.index(i) for _, i in pairs],
                                  [1.0] * (n - 1) + [0.0], [1000.0 + k for k in range(n)],
                                  [5000.0] * n, [True] * n)
    graph = build_graph(users, items, edges, EdgeRecipe(), 5000.0)
    assert graph.num_edges == n - 1
    model = _fit(graph, encoder, exclude=consumed_matrix(edges, len(users), len(items)))
    served = serve(model.scorer(), consumed_matrix(edges, len(users), len(items)), k=7)
    assert items.index("gar1") not in served.items[users.index("u1")].tolist()


def test_artefacts_round_trip_and_refuse_other_formats(tiny_graph, encoder, tmp_path: Path) -> None:
    model = _fit(tiny_graph, encoder)
    space = InterestSpace(("Garden", "Tea"), np.array([1.0, 2.0]), np.array([0.5, 0.5]),
                          np.array([[1.0, 0.0], [0.0, 1.0]]))
    seg = SavedSegments(space, np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([0.5, 0.6]))
    churn = {"method": "recency", "table": [{"up_to_days": 30, "churn_rate": 0.2,
                                             "customers": 50}]}
    art = Artefacts(model, 123.0, seg, {0: "tea", 1: "garden"},
                    {"r": np.float64(0.2), "n_customers": np.int64(5)}, churn,
                    [("Tea",)] * tiny_graph.num_items, ["T"] * tiny_graph.num_items)
    path = tmp_path / "models" / "v1.pt"
    save_artefacts(path, art)
    back = load_artefacts(path)
    assert back.as_of == 123.0 and back.value_fit == {"r": 0.2, "n_customers": 5}
    assert back.segment_labels == {0: "tea", 1: "garden"} and back.churn == churn
    for saved in (back.segments, load_segments(path)):
        assert saved is not None and saved.space.categories == ("Garden", "Tea")
        assert np.array_equal(saved.centroids, seg.centroids)
        assert np.array_equal(saved.limits, seg.limits)
        assert np.array_equal(saved.space.basis, space.basis)
        assert np.array_equal(saved.space.idf, space.idf)
    assert back.item_categories[0] == ("Tea",) and back.titles[0] == "T"
    assert back.model.selection == model.selection
    assert back.model.trained.graph.users == tiny_graph.users
    assert torch.equal(back.model.trained.graph.edge_first_ts, tiny_graph.edge_first_ts)
    users = np.arange(tiny_graph.num_users)
    assert np.array_equal(back.model.scorer().score(users), model.scorer().score(users))
    # The reloaded GCN embeds the training graph as the fitted one did.
    ue, _ = back.model.trained.embeddings("cpu")
    assert torch.allclose(ue, model.user_emb, atol=1e-6)
    # Cold scoring as the carve chose it: served, saved and reloaded so.
    on = replace(model, selection=replace(model.selection, cold_items=True))
    off = replace(model, selection=replace(model.selection, cold_items=False))
    assert on.scorer().cold is not None and off.scorer().cold is None
    save_artefacts(tmp_path / "off" / "v2.pt", replace(art, model=off))
    reloaded = load_artefacts(tmp_path / "off" / "v2.pt").model
    assert reloaded.selection.cold_items is False and reloaded.scorer().cold is None
    torch.save({"format": ARTEFACT_FORMAT - 1}, tmp_path / "models" / "old.pt")
    (tmp_path / "models" / "junk.pt").write_bytes(b"not a model")
    for name in ("old", "junk"):
        with pytest.raises(ArtefactFormatError):
            load_artefacts(tmp_path / "models" / f"{name}.pt")
        assert load_segments(tmp_path / "models" / f"{name}.pt") is None
    assert prune_models(tmp_path / "models", {"v1"}) == ["junk", "old"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["v1.pt"]
