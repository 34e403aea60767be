"""How good a segmentation is: stability across seeds and periods, and predictive lift.

Pure; used by ``benchmarks/segments.py``.

* **Stability**: the adjusted Rand index (ARI) between two segmentations, on the users both hold.
* **Predictive lift**: on a temporal split, the categories each segment over-indexes on in
  training (:func:`~.segment_briefs.over_indexed_categories`: the top
  :data:`~.segment_briefs.OVER_INDEXED` by lift, each shared by at least a tenth of members, the
  ones the segment's brief says its members buy more often); among users who
  buy anything in the test period, the share of the segment's members who buy one of those
  categories, divided by the same share among all of them. 1.0 means the segment says nothing
  about what its members will buy. Conditioning on buying at all keeps the figure about *what*
  members buy, so a segmentation does not score by separating active from lapsed customers
  (that is what churn risk is for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from ...typing import IndexArray
from .segment_briefs import OVER_INDEXED, distinctive_categories, over_indexed_categories


def ari_on_common(ids_a: Sequence[str], labels_a: IndexArray, ids_b: Sequence[str],
                  labels_b: IndexArray) -> float:
    """Adjusted Rand index of two segmentations on the users present in both."""
    where_b = {u: i for i, u in enumerate(ids_b)}
    pairs = [(i, where_b[u]) for i, u in enumerate(ids_a) if u in where_b]
    if len(pairs) < 2:
        return float("nan")
    a = np.asarray(labels_a)[[i for i, _ in pairs]]
    b = np.asarray(labels_b)[[j for _, j in pairs]]
    return float(adjusted_rand_score(a, b))


@dataclass(frozen=True)
class Lift:
    """Predictive lift: ``mean`` weighted by segment size, and per segment (``None`` where no
    member bought anything in the test period)."""

    mean: float
    per_segment: list[float | None]
    categories: list[list[str]]


def predictive_lift(
    labels: IndexArray,
    presence: sp.csr_matrix,
    names: Sequence[str],
    test_purchases: Mapping[int, set[str]],
    *,
    by: str = "lift",
) -> Lift:
    """Lift of each segment's training categories in the test period.

    Args:
        labels: ``[U]`` segment of each training user.
        presence: ``(U, C)`` training interactions per category (non-zero = interacted).
        names: ``C`` category names.
        test_purchases: training-user row → categories bought in the test period (users who
            bought nothing are absent).
        by: which categories: ``"lift"``, the brief's over-indexed ones
            (:func:`~.segment_briefs.over_indexed_categories`); ``"score"``, the top
            :data:`~.segment_briefs.OVER_INDEXED` of those that name the segment.
    """
    labels = np.asarray(labels)
    distinctive = (over_indexed_categories(labels, presence, names) if by == "lift" else
                   distinctive_categories(labels, presence, names, top=OVER_INDEXED, by=by))
    buyers = np.array(sorted(test_purchases), dtype=np.int64)
    per_segment: list[float | None] = []
    weights, values = [], []
    for s, cats in enumerate(distinctive):
        wanted = {c.name for c in cats}
        hit = np.array([bool(test_purchases[u] & wanted) for u in buyers], dtype=bool)
        members = labels[buyers] == s if len(buyers) else np.zeros(0, bool)
        base = hit.mean() if len(hit) else 0.0
        if not members.any() or base == 0:
            per_segment.append(None)
            continue
        lift = float(hit[members].mean() / base)
        per_segment.append(lift)
        weights.append(int((labels == s).sum()))
        values.append(lift)
    mean = float(np.average(values, weights=weights)) if values else float("nan")
    return Lift(mean, per_segment, [[c.name for c in cats] for cats in distinctive])
