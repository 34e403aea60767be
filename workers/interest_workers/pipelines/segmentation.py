"""User segments from embeddings: k chosen automatically, labelled from what members buy.

Pure: arrays in, arrays and small dataclasses out. The refresh writes the result as
``(:Segment)`` nodes and ``IN_SEGMENT`` edges; the incremental refresh re-assigns changed users to
the nearest saved centroid without re-clustering.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segmentation:
    """A clustering of users.

    Attributes:
        labels: ``[num_users]`` segment index of each user.
        centroids: ``[k, dim]`` unit-norm centroids (cosine k-means).
        distances: ``[num_users]`` cosine distance of each user to its centroid.
        silhouette: mean silhouette (cosine) of the chosen k, in ``[-1, 1]``.
        scores_by_k: silhouette of every k tried.
        projection: ``[dim, 2]`` PCA axes for the 2-D segment map; ``mean`` ``[dim]`` its centre.
    """

    labels: np.ndarray
    centroids: np.ndarray
    distances: np.ndarray
    silhouette: float
    scores_by_k: dict[int, float]
    projection: np.ndarray
    mean: np.ndarray

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


@dataclass(frozen=True)
class SegmentProfile:
    """What a segment is, in words and numbers."""

    index: int
    label: str
    size: int
    top_categories: list[str]
    tiers: dict[str, int]
    avg_expected_value: float | None
    avg_churn_risk: float | None
    extra: dict[str, float] = field(default_factory=dict)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(np.divide(x, norms, out=np.zeros_like(x), where=norms > 0))


def segment_users(
    embeddings: np.ndarray,
    *,
    k_values: Sequence[int] = (4, 5, 6, 7, 8, 9, 10),
    seed: int = 0,
    sample_size: int = 4000,
) -> Segmentation:
    """Cluster users (cosine k-means) and pick k by the silhouette on a fixed sample.

    Args:
        embeddings: ``[num_users, dim]`` user embeddings.
        k_values: candidate numbers of segments; those ≥ num_users are skipped.
        seed: seeds k-means and the silhouette sample.
        sample_size: users used to score each k (the silhouette is quadratic).

    Raises:
        ValueError: fewer than 2 users, or no candidate k below the number of users.
    """
    x = _unit(np.asarray(embeddings, dtype=np.float64))
    n = x.shape[0]
    candidates = [k for k in k_values if 2 <= k < n]
    if n < 2 or not candidates:
        raise ValueError(f"need more users than segments: {n} users, k in {list(k_values)}")
    rng = np.random.default_rng(seed)
    sample = rng.choice(n, size=min(sample_size, n), replace=False)
    scores: dict[int, float] = {}
    fits: dict[int, KMeans] = {}
    for k in candidates:
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
        labels = model.labels_
        if len(set(labels[sample].tolist())) < 2:
            scores[k] = -1.0
        else:
            scores[k] = float(silhouette_score(x[sample], labels[sample], metric="cosine"))
        fits[k] = model
    best = max(scores, key=lambda k: (scores[k], -k))
    centroids = _unit(fits[best].cluster_centers_)
    labels, distances = assign_segments(x, centroids)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    projection = vt[:2].T if vt.shape[0] >= 2 else np.eye(x.shape[1], 2)
    log.info("segmentation: k=%d silhouette=%.3f (tried %s)", best, scores[best], sorted(scores))
    return Segmentation(labels, centroids, distances, scores[best], scores, projection, mean)


def assign_segments(embeddings: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid (cosine) for each row: ``(labels [n], distances [n])``."""
    x = _unit(np.asarray(embeddings, dtype=np.float64))
    sims = x @ np.asarray(centroids, dtype=np.float64).T
    labels = sims.argmax(axis=1)
    return labels, 1.0 - sims[np.arange(len(labels)), labels]


def project(embeddings: np.ndarray, projection: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``[n, 2]`` coordinates on the segment map."""
    return np.asarray((_unit(np.asarray(embeddings, dtype=np.float64)) - mean) @ projection)


def describe_segments(
    labels: np.ndarray,
    user_categories: Sequence[Sequence[str]],
    tiers: Sequence[str | None],
    expected_value: Sequence[float | None] | None = None,
    churn_risk: Sequence[float | None] | None = None,
    *,
    top: int = 3,
) -> list[SegmentProfile]:
    """Profiles with human-readable labels such as ``"Bag · Lunch box — loyal"``.

    A label names the categories that are most over-represented among the segment's members
    (lift over the whole population, among categories a tenth of members share) and the members'
    most common value tier. Labels are made unique.
    """
    n = len(labels)
    population: Counter[str] = Counter()
    for cats in user_categories:
        population.update(set(cats))
    profiles: list[SegmentProfile] = []
    used: Counter[str] = Counter()
    for index in sorted(set(int(v) for v in labels)):
        members = [i for i in range(n) if int(labels[i]) == index]
        counts: Counter[str] = Counter()
        for i in members:
            counts.update(set(user_categories[i]))
        floor = max(1, len(members) // 10)
        lift = {c: (k / len(members)) / (population[c] / n) for c, k in counts.items() if k >= floor}
        ranked = sorted(lift, key=lambda c: (-lift[c], -counts[c], c))[:top]
        if not ranked:
            ranked = [c for c, _ in counts.most_common(top)]
        tier_counts = Counter(t for t in (tiers[i] for i in members) if t)
        tier = tier_counts.most_common(1)[0][0] if tier_counts else None
        label = " · ".join(c.capitalize() if c.isupper() else c for c in ranked[:2]) or "Mixed"
        if tier:
            label = f"{label} — {tier}"
        used[label] += 1
        if used[label] > 1:
            label = f"{label} ({used[label]})"

        def mean_of(values: Sequence[float | None] | None, members: list[int] = members
                    ) -> float | None:
            if values is None:
                return None
            picked = [values[i] for i in members if values[i] is not None]
            return float(np.mean(np.asarray(picked, dtype=np.float64))) if picked else None

        profiles.append(SegmentProfile(
            index=index, label=label, size=len(members), top_categories=ranked,
            tiers=dict(tier_counts), avg_expected_value=mean_of(expected_value),
            avg_churn_risk=mean_of(churn_risk),
        ))
    return profiles
