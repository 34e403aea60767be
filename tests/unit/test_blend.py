"""The served model's candidate terms and the blend chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from interest_workers.pipelines.model import baselines
from interest_workers.pipelines.model.blend import (
    BlendScorer,
    ColdItems,
    ValidationScores,
    choose_weights,
    compare_cold,
    fit_variant,
    prefer_default,
    standardise,
    variants,
)
from interest_workers.pipelines.model.metrics import Targets, ranking_metrics
from interest_workers.pipelines.model.scores import EmbeddingScorer, top_k_items
from interest_workers.pipelines.model.sequence import SequentialItemItem, transition_weights

from .conftest import make_graph


def test_ease_matches_cornac_ease() -> None:
    from cornac.data import Dataset
    from cornac.models import EASE as CornacEASE

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float64))
    coo = x.tocoo()
    data = Dataset(40, 12, {u: u for u in range(40)}, {i: i for i in range(12)},
                   (coo.row, coo.col, coo.data))
    theirs = CornacEASE(lamb=5.0, posB=False, verbose=False).fit(data).B
    assert np.allclose(baselines.ease_weights(x, 5.0), theirs, atol=1e-5)


def test_rp3beta_walks_and_penalises_popular_targets() -> None:
    # a: i1 i2; b: i1 i3; c: i3.  P_ui rows 1/2; P_iu: i1 -> a, b (1/2 each), i3 -> b, c.
    g = make_graph([("a", "i1"), ("a", "i2"), ("b", "i1"), ("b", "i3"), ("c", "i3")],
                   ["i1", "i2", "i3"])
    w = baselines.rp3beta_weights(g.to_csr(binary=True), alpha=1.0, beta=0.0, k=None).toarray()
    # i1 -> a -> i2: 1/2 * 1/2; i1 -> b -> i3: 1/2 * 1/2.
    assert w[0, 1] == pytest.approx(0.25) and w[0, 2] == pytest.approx(0.25)
    assert np.diag(w).sum() == 0
    penalised = baselines.rp3beta_weights(g.to_csr(binary=True), 1.0, 1.0, None).toarray()
    # i3 has 2 users, i2 has 1: the popular target is divided by its popularity.
    assert penalised[0, 2] == pytest.approx(0.125) and penalised[0, 1] == pytest.approx(0.25)
    top1 = baselines.rp3beta_weights(g.to_csr(binary=True), 1.0, 1.0, k=1)
    assert top1.getnnz(axis=1).max() == 1


def test_rp3beta_variants_of_one_alpha_share_one_walk(monkeypatch) -> None:
    """Histories and popularity penalties (β) only rescale rows and columns of the walk: one
    product per α serves every β and both histories, with the scores of separate fits."""
    g = make_graph([("a", "i1"), ("a", "i2"), ("b", "i1"), ("b", "i3"), ("c", "i3"), ("c", "i2")],
                   ["i1", "i2", "i3"])
    grid = variants("rp3beta", l2_grid=(), rp3_alphas=(0.5, 1.0), rp3_betas=(0.0, 0.5),
                    sequence_decays=())
    item_x = np.zeros((3, 2), np.float32)
    user_x = np.zeros((3, 2), np.float32)
    alone = [fit_variant(v, g, item_x, user_x).score(np.arange(3)) for v in grid]
    walks = []
    real = baselines.rp3beta_weights
    monkeypatch.setattr(baselines, "rp3beta_weights",
                        lambda *a, **k: walks.append(a[1:3]) or real(*a, **k))
    shared: dict = {"rp3beta_betas": (0.0, 0.5)}
    together = [fit_variant(v, g, item_x, user_x, shared).score(np.arange(3)) for v in grid]
    assert all(np.array_equal(x, y) for x, y in zip(alone, together, strict=True))
    # 8 variants (2 α × 2 β × 2 histories), 2 walks, each for both β.
    assert len(grid) == 8 and walks == [(0.5, [0.0, 0.5]), (1.0, [0.0, 0.5])]


def test_next_items_follow_the_order_and_baskets_count_both_ways() -> None:
    g = make_graph([("a", "i1"), ("a", "i2"), ("a", "i3"), ("b", "i3"), ("b", "i4")],
                   ["i1", "i2", "i3", "i4"], first_ts=[1.0, 2.0, 3.0, 5.0, 5.0])
    w = transition_weights(g, lags=2, decay=0.5).toarray()
    assert w[0, 1] == 1.0 and w[1, 2] == 1.0 and w[0, 2] == 0.5
    assert w[1, 0] == 0.0 and w[2, 1] == 0.0  # order kept
    assert w[2, 3] == 1.0 and w[3, 2] == 1.0  # same moment: both ways
    term = SequentialItemItem(decay=0.5, lags=2, recent=1).fit(g)
    # a's latest item is i3, followed (same basket) by i4 for b.
    s = term.score(np.array([g.users.index("a")]))[0]
    assert s.argmax() == g.items.index("i4")
    grown = term.with_history(make_graph([("a", "i1")], ["i1", "i2", "i3", "i4", "i5"]))
    assert grown.score(np.array([0])).shape == (1, 5)


def test_cold_items_take_their_text_neighbours_scores() -> None:
    item_x = np.array([[1, 0], [0, 1], [0.8, 0.6], [0, 0]], np.float32)
    warm = np.array([True, True, False, False])
    cold = ColdItems(item_x, warm, k=2)
    s = cold.fill(np.array([[10.0, 0.0, 0.0, 0.0]], np.float32))
    # item 2 is 0.8 like item 0 and 0.6 like item 1: the similarity-weighted mean of their
    # scores. Item 3 has no text, hence no neighbours.
    assert s[0, 2] == pytest.approx(10.0 * 0.8 / 1.4) and s[0, 3] == 0.0 and s[0, 0] == 10.0


def test_standardise_into_a_buffer_or_in_place_is_the_zscore() -> None:
    rng = np.random.default_rng(2)
    s = (rng.normal(size=(7, 500)) * rng.uniform(0.1, 30, (7, 1)) + 50).astype(np.float32)
    s[3] = 1.0  # a constant row: all zeros, not NaN
    ref = (s - s.astype(np.float64).mean(1, keepdims=True)) / (
        s.astype(np.float64).std(1, keepdims=True) + 1e-8)
    buffer = np.full_like(s, np.nan)
    assert np.allclose(standardise(s), ref, atol=1e-4)
    assert standardise(s, out=buffer) is buffer and np.allclose(buffer, ref, atol=1e-4)
    copy = s.copy()
    assert standardise(copy, out=copy) is copy and np.allclose(copy, ref, atol=1e-4)
    assert np.all(s[3] == 1.0) and np.all(standardise(s)[3] == 0.0)


def test_the_blend_leaves_its_terms_scores_alone() -> None:
    # The blend standardises every term into one buffer: a term's own arrays (here the same
    # array on every call) must come back unchanged, cold fill included.
    class Cached:
        num_items = 6

        def __init__(self, scores: np.ndarray) -> None:
            self.scores = scores

        def score(self, users: np.ndarray) -> np.ndarray:
            return self.scores[users]

    rng = np.random.default_rng(4)
    raw = {t: rng.normal(size=(3, 6)).astype(np.float32) for t in ("gcn", "ease", "rp3beta")}
    kept = {t: Cached(np.ascontiguousarray(m)) for t, m in raw.items()}
    item_x = rng.normal(size=(6, 4)).astype(np.float32)
    item_x /= np.linalg.norm(item_x, axis=1, keepdims=True)
    cold = ColdItems(item_x, np.array([True, True, False, True, True, True]), k=2)
    weights = {"gcn": 0.5, "ease": 0.3, "rp3beta": 0.2}
    s = BlendScorer(kept, weights, cold).score(np.arange(3))
    for t in raw:
        assert np.array_equal(kept[t].scores, raw[t]), t
    expected = sum(w * standardise(raw[t] if t == "gcn" else cold.fill(raw[t].copy()))
                   for t, w in weights.items())
    warm = [0, 1, 3, 4, 5]  # the cold item 2 is scored by the text term alone
    assert np.allclose(s[:, warm], expected[:, warm], atol=1e-5)


def test_cold_items_are_scored_by_the_text_terms_alone_in_serving_and_validation() -> None:
    rng = np.random.default_rng(3)
    users, n = 20, 60
    # Two correlated terms, so that the blend's top 20 lies within their top 25s (the shortlist).
    a = rng.normal(size=(users, n)).astype(np.float32)
    b = (a + 0.3 * rng.normal(size=(users, n))).astype(np.float32)
    item_x = rng.normal(size=(n, 8)).astype(np.float32)
    item_x /= np.linalg.norm(item_x, axis=1, keepdims=True)
    warm = np.ones(n, bool)
    warm[[5, 17, 40]] = False
    cold = ColdItems(item_x, warm, k=4)
    weights = {"gcn": 0.25, "ease": 0.75}
    blend = BlendScorer({"gcn": EmbeddingScorer(a, np.eye(n)), "ease": EmbeddingScorer(b, np.eye(n))},
                        weights, cold)
    s = blend.score(np.arange(users))
    gcn_z, ease_z = standardise(a), standardise(cold.fill(b.copy()))
    # A cold item: the text term's score on the blend's whole weight; a warm one: the blend.
    assert np.allclose(s[:, cold.cold], 0.25 * gcn_z[:, cold.cold] * 1.0 / 0.25, atol=1e-5)
    assert np.allclose(s[:, warm], (0.25 * gcn_z + 0.75 * ease_z)[:, warm], atol=1e-5)
    # Validation ranks the blend exactly as served, on the whole catalogue and on a shortlist.
    exclude = sp.csr_matrix((rng.random((users, n)) < 0.1).astype(np.float32))
    items = [np.setdiff1d(np.r_[rng.choice(n, 3, replace=False), 5], exclude[u].indices)
             for u in range(users)]
    targets = Targets(np.arange(users), items, np.array([len(t) for t in items]), ~warm)
    m = ranking_metrics(top_k_items(blend, 20, users=np.arange(users), exclude=exclude).items,
                        targets, n)
    for pooled in (False, True):
        vs = ValidationScores({"gcn": gcn_z, "ease": ease_z}, exclude, targets, cold=cold.cold)
        if pooled:
            vs.restrict(25)
            assert vs._pool is not None
        assert vs.evaluate(weights) == pytest.approx(m["recall@20"] + m["ndcg@20"])


def _cold_case(target: int) -> tuple[ValidationScores, dict[str, np.ndarray]]:
    """One user, items 0..3 warm (scores 4, 3, 2, 1), item 4 cold and like item 0 by text;
    the user's held-out item is ``target``; a top-20 of five items ranks every item, so the
    case is the rank of the target (NDCG)."""
    item_x = np.array([[1, 0], [0.6, 0.8], [0, 1], [-0.6, 0.8], [1, 0]], np.float32)
    cold = ColdItems(item_x, np.array([True, True, True, True, False]), k=1)
    raw = np.array([[4.0, 3.0, 2.0, 1.0, 0.0]], np.float32)
    targets = Targets(np.array([0]), [np.array([target])], np.array([1]),
                      np.array([False] * 4 + [True]))
    exclude = sp.csr_matrix((1, 5), dtype=np.float32)
    filled = standardise(cold.fill(raw.copy()))
    return (ValidationScores({"rp3beta": filled}, exclude, targets, cold=cold.cold),
            {"rp3beta": standardise(raw)})


def test_cold_items_are_scored_only_where_the_carve_shows_it_pays() -> None:
    # The filled cold item (its neighbour's score, 4) ranks second, ahead of item 1.
    scores, plain = _cold_case(target=1)
    gain = compare_cold(scores, plain, {"rp3beta": 1.0})
    assert gain is not None and gain.gain < 0 and not gain.kept
    # The user takes the new item: the fill lifts it from last to second (one user: the standard
    # error is undefined, so two users who both take it).
    scores, plain = _cold_case(target=4)
    two = ValidationScores({"rp3beta": np.repeat(scores.matrices["rp3beta"], 2, 0)},
                           sp.csr_matrix((2, 5), dtype=np.float32),
                           Targets(np.arange(2), [np.array([4])] * 2, np.array([1, 1]),
                                   scores.targets.cold_items), cold=scores.cold)
    gain = compare_cold(two, {"rp3beta": np.repeat(plain["rp3beta"], 2, 0)}, {"rp3beta": 1.0})
    assert gain is not None and gain.gain > gain.se and gain.kept
    # The target ranks first either way: a tie does not earn the fill its place.
    scores, plain = _cold_case(target=0)
    gain = compare_cold(scores, plain, {"rp3beta": 1.0})
    assert gain is not None and gain.gain == 0 and not gain.kept
    # No cold items in the carve: nothing to compare.
    none = ValidationScores(dict(plain), scores.exclude, scores.targets, cold=np.zeros(0, int))
    assert compare_cold(none, plain, {"rp3beta": 1.0}) is None


def test_validation_per_user_scores_match_the_metrics() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(30, 25)).astype(np.float32), rng.normal(size=(30, 25)).astype(np.float32)
    exclude = sp.csr_matrix((rng.random((30, 25)) < 0.2).astype(np.float32))
    items = [np.setdiff1d(rng.choice(25, 3, replace=False), exclude[u].indices) for u in range(30)]
    targets = Targets(np.arange(30), items, np.array([len(t) + u % 2 for u, t in enumerate(items)]),
                      np.zeros(25, bool))
    vs = ValidationScores({"gcn": standardise(a), "ease": standardise(b)}, exclude, targets)
    blend = BlendScorer({"gcn": EmbeddingScorer(a, np.eye(25)), "ease": EmbeddingScorer(b, np.eye(25))},
                        {"gcn": 0.3, "ease": 0.7})
    top = top_k_items(blend, 20, users=np.arange(30), exclude=exclude).items
    m = ranking_metrics(top, targets, 25)
    assert vs.evaluate({"gcn": 0.3, "ease": 0.7}) == pytest.approx(m["recall@20"] + m["ndcg@20"])
    weights, value = choose_weights(vs, (0.0, 0.5, 1.0), 2, resamples=3, seed=0)
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert value == pytest.approx(vs.evaluate(weights))
    assert choose_weights(vs, (0.0, 0.5, 1.0), 2, resamples=3, seed=0) == (weights, value)
    # A term that is the targets themselves takes all the weight.
    oracle = np.full((30, 25), -1.0, np.float32)
    for u, t in enumerate(items):
        oracle[u, t] = 1.0
    vs.matrices["sequence"] = standardise(oracle)
    assert choose_weights(vs, (0.0, 0.5, 1.0), 2, resamples=3)[0]["sequence"] >= 0.5


def _found_by(users: int, items: int, found: set[int]) -> np.ndarray:
    """Scores ranking user ``u``'s one target (item ``u % items``) first if ``u`` is in ``found``,
    last otherwise."""
    s = np.tile(np.linspace(0.5, -0.5, items, dtype=np.float32), (users, 1))
    for u in range(users):
        s[u, u % items] = 10.0 if u in found else -10.0
    return s


def test_a_blend_is_served_only_if_it_beats_the_default_by_a_standard_error() -> None:
    users, n = 40, 30
    targets = Targets(np.arange(users), [np.array([u % n]) for u in range(users)],
                      np.ones(users, np.int64), np.zeros(n, bool))
    exclude = sp.csr_matrix((users, n), dtype=np.float32)
    rp3 = _found_by(users, n, set(range(35)))
    # Finds 3 targets the default misses and misses 2 it finds: a net gain of one user in 40,
    # below its standard error (0.05 against 0.11 in Recall@20 + NDCG@20).
    noisy = _found_by(users, n, set(range(33)) | {35, 36, 37})
    vs = ValidationScores({"rp3beta": rp3, "ease": noisy}, exclude, targets)
    weights, gain = prefer_default(vs, {"ease": 1.0, "rp3beta": 0.0})
    assert weights == {"ease": 0.0, "rp3beta": 1.0}
    assert gain is not None and not gain.kept
    assert gain.gain == pytest.approx(0.05) and gain.se > gain.gain
    # Finds the 5 the default misses and loses none: served.
    better = _found_by(users, n, set(range(users)))
    vs = ValidationScores({"rp3beta": rp3, "ease": better}, exclude, targets)
    weights, gain = prefer_default(vs, {"ease": 0.5, "rp3beta": 0.5})
    assert weights == {"ease": 0.5, "rp3beta": 0.5} and gain is not None and gain.kept
    # Nothing to compare: the default is the blend, or not a candidate.
    assert prefer_default(vs, {"ease": 0.0, "rp3beta": 1.0}) == ({"ease": 0.0, "rp3beta": 1.0}, None)
    only = ValidationScores({"ease": noisy}, exclude, targets)
    assert prefer_default(only, {"ease": 1.0}) == ({"ease": 1.0}, None)


def test_the_shortlist_keeps_what_each_term_ranks_in_its_top() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 60)).astype(np.float32), rng.normal(size=(20, 60)).astype(np.float32)
    exclude = sp.csr_matrix((rng.random((20, 60)) < 0.1).astype(np.float32))
    items = [np.setdiff1d(rng.choice(60, 4, replace=False), exclude[u].indices) for u in range(20)]
    targets = Targets(np.arange(20), items, np.array([len(t) for t in items]), np.zeros(60, bool))
    full = ValidationScores({"gcn": standardise(a), "ease": standardise(b)}, exclude, targets)
    short = ValidationScores({"gcn": standardise(a), "ease": standardise(b)}, exclude, targets)
    short.restrict(20)
    assert short._pool is not None and short._pool.shape == (20, 40)
    for weights in ({"gcn": 1.0}, {"ease": 1.0}):
        assert np.array_equal(short.per_user(weights), full.per_user(weights))


def _rp3_dense(x: sp.csr_matrix, alpha: float, beta: float) -> np.ndarray:
    """The textbook RP3β with the whole items × items matrix dense (the reference, no top-k)."""
    x = sp.csr_matrix(x, dtype=np.float64)
    x.data[:] = 1.0
    p_ui = (sp.diags(1.0 / np.maximum(np.asarray(x.sum(1)).ravel(), 1)) @ x).toarray() ** alpha
    xt = x.T.tocsr()
    p_iu = (sp.diags(1.0 / np.maximum(np.asarray(xt.sum(1)).ravel(), 1)) @ xt).toarray() ** alpha
    pop = np.asarray(x.sum(0)).ravel()
    w = (p_iu @ p_ui) * np.where(pop > 0, np.maximum(pop, 1) ** -beta, 0.0)[None, :]
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32)


def test_rp3beta_in_item_blocks_equals_the_dense_walk() -> None:
    rng = np.random.default_rng(3)
    x = sp.csr_matrix((rng.random((300, 157)) < 0.05).astype(np.float32))
    want = _rp3_dense(x, 0.8, 0.4)
    whole = baselines.rp3beta_weights(x, 0.8, 0.4, 7, block=157)  # one block: the dense product
    for block in (1, 10, 64):
        assert np.allclose(baselines.rp3beta_weights(x, 0.8, 0.4, None, block=block).toarray(),
                           want, atol=1e-7)
        got = baselines.rp3beta_weights(x, 0.8, 0.4, 7, block=block)
        assert got.shape == (157, 157) and got.dtype == np.float32
        assert (got != whole).nnz == 0, block  # the same neighbours, whatever the block
        for threads in (1, 3):  # blocks on threads: the same matrix, rows in item order
            same = baselines.rp3beta_weights(x, 0.8, 0.4, 7, block=block, threads=threads)
            assert (same != whole).nnz == 0 and (same.indptr == whole.indptr).all()
    # One product for several betas, on threads: each matrix is its own beta's.
    several = baselines.rp3beta_weights(x, 0.8, [0.0, 0.4], 7, block=10, threads=4)
    assert (several[1] != whole).nnz == 0
    assert (several[0] != baselines.rp3beta_weights(x, 0.8, 0.0, 7, block=157)).nnz == 0
    # Each row keeps its 7 largest weights; of tied weights, the lower items.
    assert (np.diff(whole.indptr) <= 7).all()
    want32 = want.astype(np.float32)
    for i in range(157):
        order = np.lexsort((np.arange(157), -want32[i]))
        expected = np.sort([j for j in order[:7] if want32[i, j] > 0])
        assert np.array_equal(whole[i].indices, expected), i
    # Several β from one product equal separate walks.
    pair = baselines.rp3beta_weights(x, 0.8, [0.0, 0.4], 7, block=10)
    assert (pair[1] != whole).nnz == 0
    assert (pair[0] != baselines.rp3beta_weights(x, 0.8, 0.0, 7)).nnz == 0
    for i in range(157):
        kept = np.sort(whole[i].data)[::-1]
        assert np.allclose(kept, np.sort(want[i])[::-1][: len(kept)], atol=1e-7)
