from __future__ import annotations

import numpy as np
import pytest

from interest_workers.pipelines.segmentation import (
    assign_segments,
    describe_segments,
    project,
    segment_users,
)


def blobs(k: int, per: int, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k] * 5
    x = np.concatenate([c + rng.normal(scale=0.3, size=(per, dim)) for c in centres])
    return x, np.repeat(np.arange(k), per)


def test_finds_the_true_number_of_segments() -> None:
    x, truth = blobs(5, 40)
    seg = segment_users(x, k_values=(3, 4, 5, 6, 7), seed=1)
    assert seg.k == 5 and seg.silhouette > 0.5
    # Every true blob maps to one segment (a permutation of labels).
    mapping = {int(t): int(seg.labels[truth == t][0]) for t in range(5)}
    assert all((seg.labels[truth == t] == mapping[t]).all() for t in range(5))
    assert len(set(mapping.values())) == 5


def test_assignment_of_new_users_uses_saved_centroids() -> None:
    x, _ = blobs(4, 30)
    seg = segment_users(x, k_values=(4,), seed=0)
    labels, distances = assign_segments(x[:10], seg.centroids)
    assert (labels == seg.labels[:10]).all()
    assert np.allclose(distances, seg.distances[:10])
    assert project(x, seg.projection, seg.mean).shape == (120, 2)


def test_same_seed_same_segments() -> None:
    x, _ = blobs(4, 30, seed=3)
    a, b = segment_users(x, seed=7), segment_users(x, seed=7)
    assert (a.labels == b.labels).all() and a.scores_by_k == b.scores_by_k


def test_too_few_users_is_an_error() -> None:
    with pytest.raises(ValueError, match="need more users"):
        segment_users(np.ones((1, 4)))


def test_labels_name_overrepresented_categories_and_tier() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    cats = [["BAG", "MUG"], ["BAG"], ["BAG", "MUG"], ["CANDLE", "MUG"], ["CANDLE"], ["CANDLE"]]
    tiers = ["loyal", "loyal", "at risk", "champions", "champions", None]
    profiles = describe_segments(labels, cats, tiers, expected_value=[1, 2, 3, 10, 20, None])
    assert [p.size for p in profiles] == [3, 3]
    assert profiles[0].label == "Bag · Mug — loyal" and profiles[0].top_categories[0] == "BAG"
    assert profiles[1].label.startswith("Candle") and profiles[1].label.endswith("champions")
    assert profiles[1].avg_expected_value == pytest.approx(15.0)
