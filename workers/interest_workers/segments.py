"""The full refresh's segment stage: from the pulled edges to segment, brief and member rows.

The maths is in ``pipelines/`` (:func:`~.pipelines.segmentation.segment_interests`, the same
function ``benchmarks/segments.py`` measures, and :mod:`~.pipelines.segment_briefs`); this module
turns its result into the rows :class:`~interest_graph.graph.refresh.RefreshRepository` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from interest_graph.graph.segments import DRIFT_LIMIT
from interest_graph.recipe import EdgeArrays

from .pipelines.segments.segment_briefs import SegmentBrief, describe_segments, members_from
from .pipelines.segments.segmentation import (
    FIT_SAMPLE,
    SavedSegments,
    SegmentModel,
    map_coordinates,
    segment_interests,
)
from .pipelines.value.churn import ChurnBasis


def segment_id(version: str, index: int) -> str:
    return f"{version}:{index}"


@dataclass(frozen=True)
class SegmentStage:
    """A refresh's segments: the model, one brief per segment and the churn basis."""

    model: SegmentModel
    briefs: list[SegmentBrief]
    churn: ChurnBasis

    @property
    def labels(self) -> dict[int, str]:
        return {b.index: b.label for b in self.briefs}

    def segment_rows(self, version: str) -> list[dict[str, Any]]:
        """Rows for ``write_segments`` and ``write_segment_briefs``."""
        seg = self.model.segmentation
        rows = []
        for b in self.briefs:
            h, base = b.behaviour, b.base_behaviour
            rows.append({
                "id": segment_id(version, b.index), "index": b.index, "label": b.label,
                "size": b.size, "top_categories": b.top_categories, "tiers": list(b.tiers),
                "tier_counts": list(b.tiers.values()), "avg_expected_value": b.expected_value,
                "avg_churn_risk": b.churn_risk,
                "centroid": [float(x) for x in seg.centroids[b.index]],
                "share": b.share, "category_shares": [c.share for c in b.categories],
                "category_lifts": [c.lift for c in b.categories], "brief": b.text,
                "base_expected_value": b.base_expected_value,
                "base_churn_risk": b.base_churn_risk, "churn_basis": b.churn_basis,
                "churn_method": self.churn.method,
                "recency_days": h.recency_days, "base_recency_days": base.recency_days,
                "frequency": h.frequency, "base_frequency": base.frequency,
                "order_value": h.order_value, "base_order_value": base.order_value,
                "items_per_order": h.items_per_order,
                "base_items_per_order": base.items_per_order,
                "distance_limit": float(seg.distance_limit[b.index]),
                "warm_start": seg.warm_start,
            })
        return rows

    def member_rows(self, version: str, user_ids: Sequence[str]) -> list[dict[str, Any]]:
        seg = self.model.segmentation
        return [{"user": uid, "segment": segment_id(version, int(seg.labels[u])),
                 "distance": float(seg.distances[u])} for u, uid in enumerate(user_ids)]

    def user_fields(self, version: str) -> list[dict[str, Any]]:
        """Per user row: map position, segment and label (what ``activate`` writes)."""
        seg = self.model.segmentation
        coords = map_coordinates(self.model.points)
        labels = self.labels
        return [{"x": float(coords[u, 0]), "y": float(coords[u, 1]),
                 "segment": segment_id(version, int(s)), "segment_label": labels[int(s)]}
                for u, s in enumerate(seg.labels)]

    def saved(self) -> SavedSegments:
        return self.model.saved()

    def report(self) -> dict[str, Any]:
        """What the refresh report says about segments."""
        seg = self.model.segmentation
        return {"k": seg.k, "silhouette": round(seg.silhouette, 4),
                "warm_start": seg.warm_start, "drift_limit": DRIFT_LIMIT,
                "stability_by_k": {str(k): round(v, 4) for k, v in seg.stability_by_k.items()},
                "churn": self.churn.as_dict()}


def items_bought(edges: EdgeArrays, num_users: int) -> np.ndarray:
    """Distinct items each user consumed and still holds (net weight > 0)."""
    kept = edges.consumed & (edges.weight > 0)
    return np.bincount(edges.user[kept], minlength=num_users).astype(np.float64)


def run_segment_stage(
    edges: EdgeArrays,
    num_users: int,
    item_categories: Sequence[Sequence[str]],
    values: Sequence[dict[str, Any]],
    churn: ChurnBasis,
    *,
    seed: int,
    previous: SavedSegments | None,
    fit_sample: int | None = FIT_SAMPLE,
) -> SegmentStage:
    """Segment every user and describe every segment.

    Args:
        edges: The pulled ``INTERACTED`` edges (weights as stored).
        num_users: Users (``edges.user`` indexes them).
        item_categories: Categories per item index of ``edges``.
        values: Per user, the value fields written on the user (churn risk on ``churn``'s basis).
        churn: How churn risk was computed.
        seed: The refresh's seed.
        previous: The previous refresh's saved segments, if any.
        fit_sample: Users k-means is fitted on at most (see :func:`segment_users`).
    """
    model = segment_interests(edges, num_users, item_categories, seed=seed, previous=previous,
                              fit_sample=fit_sample)
    members = members_from(values, items_bought(edges, num_users).tolist(), churn.description)
    briefs = describe_segments(model.segmentation.labels, model.shares, model.space.categories,
                               members)
    return SegmentStage(model, briefs, churn)
