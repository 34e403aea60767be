"""User segments: k-means in the interest space, k chosen for stability, kept stable over time.

Pure: arrays in, arrays and small dataclasses out. The refresh places users in the
:class:`~.segment_space.InterestSpace`, calls :func:`segment_users` and writes the result as
``(:Segment)`` nodes and ``IN_SEGMENT`` edges; the incremental refresh places changed users with
:func:`assign_segments` against the saved centroids, without re-clustering, and
:func:`drift_share` says when a full re-segmentation is due.

How k is chosen (:func:`choose_k`): on a fixed, evenly spaced sample of users, every candidate k
is clustered from several fixed seeds, and the agreement of those runs (mean pairwise adjusted
Rand index) is its *stability*. The largest k that is stable and whose smallest segment is not
tiny wins: more segments say more precisely what their members buy (``benchmarks/segments.py``
measures the lift), as long as a re-run would draw the same lines. Everything is linear in
users; only the sample is scored. Above :data:`FIT_SAMPLE` users the final k-means is also fitted
on an evenly spaced sample of that size and every user assigned to its nearest centroid, so the
k-means restarts cost the same for a million users as for fifty thousand.

Who shapes the segments (:func:`_shaping`): customers seen buying at least
:data:`SHAPING_CATEGORIES` kinds of product. The others (one-off buyers, users without a profile)
are assigned to the nearest segment like any new user.

Over time: a full refresh keeps the previous refresh's space and starts k-means from its
centroids, so segment ``i`` stays the same group of interests from one night to the next, unless
the previous segments no longer fit the data (:func:`drift_share` above :data:`DRIFT_LIMIT`),
when the space is refitted and k chosen afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from interest_graph.graph.segments import DRIFT_LIMIT
from interest_graph.recipe import EdgeArrays

from ...typing import DoubleArray, IndexArray
from .segment_space import DEFAULT_DIMS, InterestSpace, category_shares, fit_space

log = logging.getLogger(__name__)

#: Candidate numbers of segments.
K_VALUES: tuple[int, ...] = (4, 5, 6, 7, 8, 9, 10, 11, 12)
#: A k is stable when re-runs from different seeds agree at least this much (adjusted Rand).
STABLE_ARI = 0.9
#: The smallest segment must hold at least this share of users.
MIN_SEGMENT_SHARE = 0.02
#: Users with at least this many distinct categories shape the segments (:func:`_shaping`).
#: Chosen with ``benchmarks/segments.py`` on Online Retail, where a fifth of the customers have
#: fewer (1, 3, 6, 10 tried, squared idf, 16 axes, k-means with 60 restarts): predictive lift
#: 1.98-2.10 at k = 10-12 with 1 (everyone with a profile), 1.99-2.11 with 3, 2.17-2.30 with 6,
#: while with 10 k = 10-12 were no longer stable.
SHAPING_CATEGORIES = 6
#: Users scored when choosing k and for the silhouette (both are at least quadratic in them).
SAMPLE_SIZE = 4000
#: Users the final k-means is fitted on (evenly spaced) when more have a profile; the rest are
#: assigned to the nearest centroid. ``None`` fits on everyone.
FIT_SAMPLE = 50000
#: Seeds per k when measuring stability, and k-means restarts per seed.
STABILITY_RUNS = 3
RESTARTS = 20
#: A segment's members beyond its training distance percentile count as drifted; a full
#: re-segmentation is due when more than ``DRIFT_LIMIT`` of users have (the API's drift check
#: reads the same limit).
DRIFT_PERCENTILE = 95.0


@dataclass(frozen=True)
class Segmentation:
    """A clustering of users in the interest space.

    Attributes:
        labels: ``[num_users]`` segment index of each user.
        centroids: ``[k, d]`` centroids in the interest space.
        distances: ``[num_users]`` Euclidean distance of each user to its centroid.
        distance_limit: ``[k]`` each segment's :data:`DRIFT_PERCENTILE` member distance: beyond it
            a user no longer fits the segment well (the drift check).
        silhouette: mean silhouette on a sample, in ``[-1, 1]``.
        stability_by_k: stability (mean pairwise ARI over seeds) of every k tried; empty when
            the previous centroids were kept.
        warm_start: whether k-means started from the previous refresh's centroids.
    """

    labels: IndexArray
    centroids: DoubleArray
    distances: DoubleArray
    distance_limit: DoubleArray
    silhouette: float
    stability_by_k: dict[int, float] = field(default_factory=dict)
    warm_start: bool = False

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def map_coordinates(points: DoubleArray) -> DoubleArray:
    """``[n, 2]`` positions on the segment map: the interest space's first two principal axes
    (the strongest contrasts between interests), so the map shows the space segments live in."""
    x = np.asarray(points, dtype=np.float64)
    out = np.zeros((len(x), 2))
    width = min(2, x.shape[1]) if x.ndim == 2 else 0
    out[:, :width] = x[:, :width]
    return out


def stable_sample(n: int, size: int = SAMPLE_SIZE) -> IndexArray:
    """Evenly spaced row indices: the same users for any seed (rows are in id order, and ids are
    keyed hashes, so the sample is well mixed)."""
    if n <= size:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, size).round().astype(np.int64))


def assign_segments(points: DoubleArray, centroids: DoubleArray) -> tuple[IndexArray, DoubleArray]:
    """Nearest centroid of each row: ``(labels [n], Euclidean distances [n])``."""
    x = np.asarray(points, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]
    labels = d2.argmin(axis=1)
    return labels, np.sqrt(np.maximum(d2[np.arange(len(labels)), labels], 0.0))


def distance_limits(labels: IndexArray, distances: DoubleArray, k: int) -> DoubleArray:
    """Each segment's :data:`DRIFT_PERCENTILE` member distance (0 for an empty segment)."""
    return np.array([float(np.percentile(distances[labels == s], DRIFT_PERCENTILE))
                     if (labels == s).any() else 0.0 for s in range(k)])


def drift_share(labels: IndexArray, distances: DoubleArray, limits: DoubleArray) -> float:
    """Share of users farther from their centroid than their segment's training limit.

    About ``1 − DRIFT_PERCENTILE/100`` right after a segmentation; a full re-segmentation is due
    above :data:`DRIFT_LIMIT`.
    """
    if len(labels) == 0:
        return 0.0
    return float((np.asarray(distances) > np.asarray(limits)[np.asarray(labels)]).mean())


def _kmeans(points: DoubleArray, k: int, seed: int, init: DoubleArray | None = None) -> KMeans:
    # One thread: the problem is small and dense, and OpenMP threads spin when the worker shares
    # its cores (k=12 on 4,000 × 8 points: 0.16 s on one thread, 4.8 s on two busy cores).
    with threadpool_limits(1):
        if init is not None:
            return KMeans(n_clusters=k, init=init, n_init=1, random_state=seed).fit(points)
        return KMeans(n_clusters=k, n_init=RESTARTS, random_state=seed).fit(points)


@dataclass(frozen=True)
class KScore:
    """How a candidate k fares on the sample: ``stability`` (mean pairwise ARI of re-runs) and
    ``smallest`` (the smallest segment's share of users)."""

    stability: float
    smallest: float

    @property
    def eligible(self) -> bool:
        return self.stability >= STABLE_ARI and self.smallest >= MIN_SEGMENT_SHARE


def score_k(points: DoubleArray, k: int) -> KScore:
    """Score k on ``points`` with k-means fits from seeds ``0..STABILITY_RUNS-1``.

    The probe seeds are fixed, not the refresh's seed: how many segments the data holds is a
    property of the data, and a different training seed must not change it."""
    runs = [_kmeans(points, k, r).labels_ for r in range(STABILITY_RUNS)]
    pairs = [adjusted_rand_score(runs[a], runs[b])
             for a in range(len(runs)) for b in range(a + 1, len(runs))]
    smallest = float(np.bincount(runs[0], minlength=k).min()) / len(points)
    return KScore(float(np.mean(pairs)), smallest)


def choose_k(points: DoubleArray, k_values: Sequence[int]) -> tuple[int, dict[int, float]]:
    """The largest stable k whose smallest segment holds :data:`MIN_SEGMENT_SHARE` of users,
    scored on :func:`stable_sample`; the most stable k when none is. Returns ``(k, stability by
    k)``.

    Largest, because more segments say more precisely what their members buy: on Online Retail,
    segmenting the data up to 30 days before its end and checking the last 30 days, the
    predictive lift rose from 1.3 at k=4 to 2.0 at k=11, the largest stable k (k=12 was not
    stable). Stable, because a re-run must draw the same lines; with many restarts, halving a
    clear group is reproducible too, so on data with k clean groups a larger stable k may split
    one of them in two."""
    sample = np.asarray(points)[stable_sample(len(points))]
    scores = {k: score_k(sample, k) for k in k_values}
    eligible = [k for k, s in scores.items() if s.eligible]
    best = max(eligible) if eligible else max(scores, key=lambda k: (scores[k].stability, -k))
    return best, {k: s.stability for k, s in scores.items()}


def sample_silhouette(points: DoubleArray, labels: IndexArray) -> float:
    """Silhouette (Euclidean) on :func:`stable_sample`; 0 when the sample has one segment."""
    rows = stable_sample(len(points))
    if len(set(np.asarray(labels)[rows].tolist())) < 2:
        return 0.0
    return float(silhouette_score(np.asarray(points)[rows], np.asarray(labels)[rows]))


def segment_users(
    points: DoubleArray,
    *,
    seed: int = 0,
    k_values: Sequence[int] = K_VALUES,
    previous: DoubleArray | None = None,
    fit_on: IndexArray | None = None,
    profiled: IndexArray | None = None,
    fit_sample: int | None = FIT_SAMPLE,
) -> Segmentation:
    """Segment users placed in the interest space.

    Args:
        points: ``[num_users, d]`` coordinates (:meth:`InterestSpace.transform`).
        seed: seeds the final k-means (k itself is chosen the same way for every seed).
        k_values: candidate numbers of segments; those ≥ the users fitted on are skipped.
        previous: ``[k, d]`` centroids to start k-means from (the previous refresh's); k is then
            kept. ``None``: k is chosen by :func:`choose_k`.
        fit_on: rows that shape the segments (users whose interests are known well enough);
            the others are only assigned to the nearest centroid. ``None``: every row.
        profiled: rows whose distances set each segment's drift limit (users with an interest
            profile); ``None``: ``fit_on``.
        fit_sample: with more ``fit_on`` rows than this, k-means is fitted on an evenly spaced
            sample of this many of them (:func:`stable_sample`); ``None``: on all of them.

    Raises:
        ValueError: fewer than 2 users, or no candidate k below the number of users.
    """
    x = np.asarray(points, dtype=np.float64)
    rows = np.arange(len(x)) if fit_on is None else np.asarray(fit_on)
    profiled = rows if profiled is None else np.asarray(profiled)
    if fit_sample is not None and len(rows) > fit_sample:
        rows = rows[stable_sample(len(rows), fit_sample)]
    fit_x = x[rows]
    n = len(fit_x)
    # k-means cannot find more groups than distinct points (tiny or repetitive graphs).
    distinct = len(np.unique(fit_x.round(9), axis=0)) if n else 0
    candidates = [k for k in k_values if 2 <= k < n and k <= distinct]
    if n < 2 or not candidates:
        raise ValueError(f"need more users than segments: {n} users ({distinct} distinct), "
                         f"k in {list(k_values)}")
    start = None if previous is None else np.asarray(previous, dtype=np.float64)
    warm = start is not None and 2 <= len(start) < n and len(start) <= distinct
    if start is not None and warm:
        model = _kmeans(fit_x, len(start), seed, init=start)
        scores: dict[int, float] = {}
    else:
        k, scores = choose_k(fit_x, candidates)
        model = _kmeans(fit_x, k, seed)
    labels, distances = assign_segments(x, model.cluster_centers_)
    limits = distance_limits(labels[profiled], distances[profiled], model.n_clusters)
    seg = Segmentation(labels, model.cluster_centers_, distances, limits,
                       sample_silhouette(fit_x, labels[rows]), scores, warm)
    log.info("segmentation: k=%d silhouette=%.3f warm=%s stability=%s", seg.k, seg.silhouette,
             warm, {k: round(v, 3) for k, v in scores.items()})
    return seg


@dataclass(frozen=True)
class SavedSegments:
    """What is kept beside the model: the space and the centroids with their drift limits.

    The incremental refresh places changed users with it; the next full refresh starts from it.
    """

    space: InterestSpace
    centroids: DoubleArray
    limits: DoubleArray

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (what the model file keeps)."""
        return {"categories": np.asarray(self.space.categories, dtype=str),
                "idf": self.space.idf, "mean": self.space.mean, "basis": self.space.basis,
                "centroids": self.centroids, "limits": self.limits}

    def place(self, shares_by_name: sp.csr_matrix) -> DoubleArray:
        """Coordinates in the saved space of users whose shares have the saved columns."""
        return self.space.transform(shares_by_name)

    def fits(self, points: DoubleArray) -> bool:
        """Whether users placed in the saved space still fit the saved segments: at most
        :data:`DRIFT_LIMIT` of them lie beyond their segment's training distance."""
        labels, distances = assign_segments(points, self.centroids)
        return drift_share(labels, distances, self.limits) <= DRIFT_LIMIT


@dataclass(frozen=True)
class SegmentModel:
    """The result of :func:`segment_interests`.

    Attributes:
        space: the fitted interest space.
        segmentation: the clustering of every user.
        points: ``[U, d]`` users in the space.
        shares: ``[U, C]`` category shares (columns ``space.categories``), for the briefs.
    """

    space: InterestSpace
    segmentation: Segmentation
    points: DoubleArray
    shares: sp.csr_matrix

    def saved(self) -> SavedSegments:
        seg = self.segmentation
        return SavedSegments(self.space, seg.centroids, seg.distance_limit)


def interest_shares(
    edges: EdgeArrays,
    num_users: int,
    item_categories: Sequence[Sequence[str]],
    *,
    categories: Sequence[str] | None = None,
) -> tuple[sp.csr_matrix, tuple[str, ...]]:
    """Users' category shares from their interaction edges.

    Each edge counts with its weight as stored (as of the user's last event on that item), not
    decayed to the graph's clock: a segment describes lasting interests, and recency is the value
    profile's job. Measured with ``benchmarks/segments.py`` on Online Retail, decaying with the
    30-day half-life lowered next-period stability from 0.85 to 0.69 at the same lift.

    Args:
        edges: The recipe's edges (``edges.user`` < ``num_users``; ``edges.item`` indexes
            ``item_categories``); pairs of weight ≤ 0 (returned) count for nothing.
        num_users: Rows of the result.
        item_categories: Categories per item index.
        categories: Fix the columns (a saved space's).
    """
    keep = edges.weight > 0
    weights = sp.csr_matrix((edges.weight[keep], (edges.user[keep], edges.item[keep])),
                            shape=(num_users, len(item_categories)))
    return category_shares(weights, item_categories, categories)


def segment_interests(
    edges: EdgeArrays,
    num_users: int,
    item_categories: Sequence[Sequence[str]],
    *,
    seed: int = 0,
    previous: SavedSegments | None = None,
    dims: int = DEFAULT_DIMS,
    k_values: Sequence[int] = K_VALUES,
    fit_sample: int | None = FIT_SAMPLE,
) -> SegmentModel:
    """The full refresh's segmentation step: shares → space → k-means (arguments as
    :func:`interest_shares`).

    With ``previous`` (the last refresh's :class:`SavedSegments`) that still fits the users, its
    space is kept and k-means starts from its centroids, so segments keep their index and
    meaning across refreshes (categories new since then count once the space is refitted);
    otherwise the space is refitted and k chosen afresh.
    """
    if previous is not None:
        shares, _ = interest_shares(edges, num_users, item_categories,
                                    categories=previous.space.categories)
        points = previous.place(shares)
        active = _with_profile(shares)
        if previous.fits(points[active]):
            seg = segment_users(points, seed=seed, k_values=k_values, previous=previous.centroids,
                                fit_on=_shaping(shares), profiled=active, fit_sample=fit_sample)
            return SegmentModel(previous.space, seg, points, shares)
        log.info("segmentation: more than %.0f%% of users drifted from the saved segments; "
                 "choosing k afresh", 100 * DRIFT_LIMIT)
    shares, names = interest_shares(edges, num_users, item_categories)
    active, shaping = _with_profile(shares), _shaping(shares)
    space = fit_space(shares[shaping], names, dims=dims)
    points = space.transform(shares)
    seg = segment_users(points, seed=seed, k_values=k_values, fit_on=shaping, profiled=active,
                        fit_sample=fit_sample)
    return SegmentModel(space, seg, points, shares)


def _category_counts(shares: sp.csr_matrix) -> IndexArray:
    """Distinct categories per row (positive shares)."""
    counts: IndexArray = np.asarray((sp.csr_matrix(shares) > 0).sum(1)).ravel().astype(np.int64)
    return counts


def _shaping(shares: sp.csr_matrix) -> IndexArray:
    """Rows whose interests are known well enough to shape the segments: users with at least
    :data:`SHAPING_CATEGORIES` distinct categories, or with the median number among users with a
    profile where that is fewer (a shop with few categories). The others are assigned to the
    nearest segment: a customer seen buying two kinds of product sits at the edge of the space
    and would pull centroids towards one-product "segments" that say little about anyone."""
    counts = _category_counts(shares)
    known = counts[counts > 0]
    if not len(known):
        return np.arange(shares.shape[0])
    return np.flatnonzero(counts >= max(1, min(SHAPING_CATEGORIES, int(np.median(known)))))


def _with_profile(shares: sp.csr_matrix) -> IndexArray:
    """Rows with some category share: users whose every item is uncategorised or returned have
    no interest profile; they are assigned to a segment but neither shape one nor set its drift
    limit."""
    found = np.flatnonzero(_category_counts(shares) > 0)
    return found if len(found) else np.arange(shares.shape[0])
