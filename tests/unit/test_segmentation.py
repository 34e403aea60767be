"""Segmentation: the interest space, k chosen for stability, warm starts and the drift check."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from interest_graph.recipe import EdgeArrays
from interest_workers.pipelines.segments.segment_space import category_shares, fit_space
from interest_workers.pipelines.segments.segmentation import (
    DRIFT_LIMIT,
    assign_segments,
    choose_k,
    drift_share,
    interest_shares,
    map_coordinates,
    segment_interests,
    segment_users,
    stable_sample,
)


def blobs(k: int, per: int, dim: int = 6, seed: int = 0, spread: float = 0.3
          ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k] * 4
    x = np.concatenate([c + rng.normal(scale=spread, size=(per, dim)) for c in centres])
    return x, np.repeat(np.arange(k), per)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_finds_the_groups_and_skips_unstable_k() -> None:
    x, truth = blobs(5, 60)
    seg = segment_users(x, k_values=(2, 3, 4, 5), seed=1)
    # Merging five equidistant groups into fewer is arbitrary: re-runs disagree.
    assert seg.k == 5 and seg.silhouette > 0.5
    assert same_partition(seg.labels, truth)
    assert seg.stability_by_k[5] > 0.99 and min(seg.stability_by_k.values()) < 0.9
    assert not seg.warm_start


def test_without_a_stable_k_the_most_stable_is_chosen() -> None:
    x, _ = blobs(5, 60)
    k, scores = choose_k(x, (2, 3))
    assert max(scores.values()) < 0.9 and scores[k] == max(scores.values())


def test_k_and_segments_do_not_depend_on_the_seed() -> None:
    x, _ = blobs(4, 50, seed=3, spread=0.8)
    a, b = segment_users(x, seed=0, k_values=(3, 4)), segment_users(x, seed=7, k_values=(3, 4))
    assert a.k == b.k and a.stability_by_k == b.stability_by_k
    assert same_partition(a.labels, b.labels)


def test_a_k_that_isolates_a_tiny_group_is_not_chosen() -> None:
    x, _ = blobs(3, 100)
    outliers = np.full((2, x.shape[1]), 40.0)  # 0.7% of users, far away: k=4 is stable
    k, scores = choose_k(np.vstack([x, outliers]), (3, 4))
    assert scores[4] >= 0.9 and k == 3


def test_the_sample_is_evenly_spaced_and_seed_free() -> None:
    rows = stable_sample(10_000, 100)
    assert len(rows) == 100 and rows[0] == 0 and rows[-1] == 9_999
    assert np.array_equal(stable_sample(50, 100), np.arange(50))


def test_new_users_are_assigned_to_the_nearest_saved_centroid() -> None:
    x, _ = blobs(4, 40)
    seg = segment_users(x, k_values=(4,))
    labels, distances = assign_segments(x[:10], seg.centroids)
    assert np.array_equal(labels, seg.labels[:10])
    assert np.allclose(distances, seg.distances[:10])
    assert map_coordinates(x).shape == (160, 2)


def test_drift_is_five_percent_after_training_and_grows_when_users_move() -> None:
    x, _ = blobs(4, 100)
    seg = segment_users(x, k_values=(4,))
    fresh = drift_share(seg.labels, seg.distances, seg.distance_limit)
    assert 0.0 < fresh <= 0.06
    moved = x + np.random.default_rng(1).normal(scale=1.5, size=x.shape)
    labels, distances = assign_segments(moved, seg.centroids)
    assert drift_share(labels, distances, seg.distance_limit) > DRIFT_LIMIT


def test_a_warm_start_keeps_k_and_segment_indexes() -> None:
    x, _ = blobs(5, 50)
    first = segment_users(x, k_values=(5,), seed=0)
    shuffled = first.centroids[::-1] + 0.05  # the previous refresh's order, slightly off
    again = segment_users(x + 0.01, seed=3, previous=shuffled)
    assert again.warm_start and again.k == 5 and again.stability_by_k == {}
    assert np.array_equal(again.labels, 4 - first.labels)


def test_too_few_users_is_an_error() -> None:
    with pytest.raises(ValueError, match="need more users"):
        segment_users(np.ones((1, 4)))
    # Identical users form one group: no k of at least 2 can be found.
    with pytest.raises(ValueError, match="1 distinct"):
        segment_users(np.ones((30, 4)))
    assert segment_users(np.repeat(np.eye(3), 10, axis=0), k_values=(2, 3, 4)).k == 3


# -- the interest space ---------------------------------------------------------------------------

CATS = [("BAG",), ("BAG",), ("CANDLE",), ("HOLDER",), ("MUG",), ("MUG", "CANDLE")]


def test_category_shares_split_items_over_their_categories_and_sum_to_one() -> None:
    weights = sp.csr_matrix(np.array([[1.0, 1.0, 0, 0, 0, 2.0], [0, 0, 0, 0, 0, 0]]))
    shares, names = category_shares(weights, CATS)
    assert names == ("BAG", "CANDLE", "HOLDER", "MUG")
    assert np.allclose(shares.toarray(), [[0.5, 0.25, 0, 0.25], [0, 0, 0, 0]])
    fixed, cols = category_shares(weights, CATS, categories=("MUG", "BAG"))
    assert cols == ("MUG", "BAG") and np.allclose(fixed.toarray()[0], [1 / 3, 2 / 3])


def test_the_space_is_deterministic_and_downweights_what_everybody_buys() -> None:
    rng = np.random.default_rng(0)
    dense = rng.dirichlet(np.ones(4), size=200) * (rng.random((200, 4)) > 0.3)
    dense[:, 0] = 0.2  # everybody has some of category 0
    shares = sp.csr_matrix(dense)
    a, b = fit_space(shares, "ABCD", dims=3), fit_space(shares, "ABCD", dims=3)
    assert np.array_equal(a.basis, b.basis) and a.dims == 3
    assert a.idf[0] == a.idf.min()
    points = a.transform(shares)
    assert points.shape == (200, 3)
    assert np.allclose(np.linalg.norm(a.profile(shares).toarray(), axis=1), 1.0)


def edges_of(rows: list[tuple[int, int, float]]) -> EdgeArrays:
    u, i, w = zip(*rows)
    n = len(rows)
    return EdgeArrays.from_lists(list(u), list(i), list(w), [0.0] * n, [0.0] * n, [True] * n)


def shoppers(per: int = 40, seed: int = 0) -> tuple[EdgeArrays, int, list[tuple[str, ...]]]:
    """Three kinds of shoppers over six items of three categories; returned pairs weigh < 0."""
    rng = np.random.default_rng(seed)
    cats = [("BAG",), ("BAG",), ("CANDLE",), ("CANDLE",), ("MUG",), ("MUG",)]
    rows = []
    for u in range(3 * per):
        kind = u % 3
        for item in (2 * kind, 2 * kind + 1):
            rows.append((u, item, 1.0 + rng.random()))
        rows.append((u, int(rng.integers(6)), 0.3 * rng.random() + 0.01))
    rows.append((0, 5, -1.0))  # a return: no weight
    return edges_of(rows), 3 * per, cats


def test_segment_interests_groups_shoppers_by_what_they_buy() -> None:
    edges, n, cats = shoppers()
    model = segment_interests(edges, n, cats, k_values=(2, 3))
    seg = model.segmentation
    assert seg.k == 3 and same_partition(seg.labels, np.arange(n) % 3)
    assert model.shares.shape == (n, 3) and model.space.categories == ("BAG", "CANDLE", "MUG")
    shares, _ = interest_shares(edges, n, cats)
    assert shares[0, 2] < 0.2  # the returned mug counts for nothing


def test_the_next_refresh_starts_from_the_saved_segments_unless_they_drifted() -> None:
    edges, n, cats = shoppers()
    first = segment_interests(edges, n, cats, k_values=(2, 3))
    more, m, _ = shoppers(seed=1)
    warm = segment_interests(more, m, cats, previous=first.saved(), k_values=(2, 3))
    assert warm.segmentation.warm_start and warm.space is first.space
    # Same kind of shopper, same segment index as in the first refresh.
    assert np.array_equal(warm.segmentation.labels[:3], first.segmentation.labels[:3])
    # Everybody now buys bags and candles: the saved segments no longer fit.
    rng = np.random.default_rng(2)
    mixed = edges_of([(u, item, 1.0 + rng.random()) for u in range(m) for item in (0, 2)]
                     + [(u, 4, 0.2 * rng.random() + 0.01) for u in range(0, m, 2)])
    cold = segment_interests(mixed, m, cats, previous=first.saved(), k_values=(2, 3))
    assert not cold.segmentation.warm_start and cold.space is not first.space


def test_users_without_a_profile_are_assigned_but_do_not_shape_segments() -> None:
    edges, n, cats = shoppers()
    extra = edges_of([*zip(edges.user.tolist(), edges.item.tolist(), edges.weight.tolist()),
                      (n, 0, -2.0), (n + 1, 1, -1.0)])  # two users who returned everything
    model = segment_interests(extra, n + 2, cats, k_values=(2, 3))
    assert model.segmentation.k == 3 and len(model.segmentation.labels) == n + 2


def test_customers_seen_buying_one_kind_of_product_are_assigned_but_do_not_shape_segments(
) -> None:
    """Three kinds of regular customers (six categories each) and as many one-off buyers of a
    single category: fitted on everyone, the one-off buyers take a segment of their own and two
    kinds of regulars share one; only the regulars shape the segments, and the one-off buyers
    join the regulars whose interests they share."""
    rng = np.random.default_rng(0)
    cats = [(f"C{c}",) for c in range(18)]
    rows, regulars = [], 90
    for u in range(regulars):
        kind = u % 3
        rows += [(u, 4 * kind + j, 2.0 + rng.random()) for j in range(4)]
        rows += [(u, int(c), 0.3) for c in rng.choice(np.arange(12, 18), 2, replace=False)]
    rows += [(u, 0, 1.0) for u in range(regulars, 2 * regulars)]  # one-off buyers of C0
    model = segment_interests(edges_of(rows), 2 * regulars, cats, k_values=(3,))
    labels = model.segmentation.labels
    assert same_partition(labels[:regulars], np.arange(regulars) % 3)
    assert set(labels[regulars:].tolist()) == {labels[0]}


def test_segments_split_on_what_some_customers_buy_not_on_the_mix_of_what_everybody_buys(
) -> None:
    """Everybody buys A, B and Z, in two mixes of A and B; an eighth of customers also buy a
    little of R. Only a segment of R buyers over-indexes on anything, and the space's
    category weights (inverse user frequency, squared) make that the split."""
    rng = np.random.default_rng(0)
    n = 400
    a_heavy = rng.random(n) < 0.5
    rare = np.arange(n) % 8 == 0
    dense = np.zeros((n, 4))
    dense[:, 0] = np.where(a_heavy, 0.8, 0.2)
    dense[:, 1] = 1 - dense[:, 0]
    dense[rare, 2] = 0.1
    dense[:, 3] = 0.05
    shares = sp.csr_matrix(dense / dense.sum(1, keepdims=True))
    space = fit_space(shares, "ABRZ", dims=3)
    labels = segment_users(space.transform(shares), k_values=(2,)).labels
    assert same_partition(labels, rare) and not same_partition(labels, a_heavy)


def test_above_the_fit_sample_kmeans_fits_a_sample_and_assigns_everyone() -> None:
    x, truth = blobs(5, 2000, seed=4)  # 10,000 users
    full = segment_users(x, k_values=(4, 5), seed=0, fit_sample=None)
    sampled = segment_users(x, k_values=(4, 5), seed=0, fit_sample=400)
    assert sampled.k == full.k == 5
    assert len(sampled.labels) == len(x) and same_partition(sampled.labels, truth)
    # Fitted on 400 users: near the full fit's centroids, not on them.
    order = [int(np.argmin(((full.centroids - c) ** 2).sum(1))) for c in sampled.centroids]
    gap = np.abs(sampled.centroids - full.centroids[order]).max()
    assert 0 < gap < 0.1
    # Drift limits come from every profiled user, so about 5% lie beyond them as after a full fit.
    assert 0.04 <= drift_share(sampled.labels, sampled.distances, sampled.distance_limit) <= 0.06
    # Below the threshold nothing changes.
    same = segment_users(x, k_values=(4, 5), seed=0, fit_sample=len(x))
    assert np.array_equal(same.labels, full.labels)
    assert np.array_equal(same.centroids, full.centroids)
