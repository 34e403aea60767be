"""Reads about segments: the active refresh's list, one profile, members and the 2-D map."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NotFound
from .driver import GraphStore, Row


@dataclass(frozen=True)
class Segment:
    """A segment's profile; ``tiers`` maps value tier → member count."""

    id: str
    version: str | None
    label: str | None
    size: int
    top_categories: tuple[str, ...]
    tiers: dict[str, int]
    avg_expected_value: float | None
    avg_churn_risk: float | None
    silhouette: float | None
    created_at: float | None
    active: bool


@dataclass(frozen=True)
class Member:
    user: str  # graph id: raw ids are never stored
    distance: float | None
    tier: str | None


@dataclass(frozen=True)
class MemberPage:
    segment: str
    members: tuple[Member, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class MapPoint:
    user: str
    x: float
    y: float
    segment: str


def _segment(row: Row, active: bool) -> Segment:
    tiers = [str(t) for t in row["tiers"] or ()]
    counts = [int(c) for c in row["tier_counts"] or ()]
    return Segment(
        id=str(row["id"]), version=row["version"], label=row["label"], size=int(row["size"] or 0),
        top_categories=tuple(row["top_categories"] or ()), tiers=dict(zip(tiers, counts)),
        avg_expected_value=row["avg_expected_value"], avg_churn_risk=row["avg_churn_risk"],
        silhouette=row["silhouette"], created_at=row["created_at"], active=active,
    )


class SegmentRepository:
    """Segment reads for the API and the dashboard."""

    QUERIES = ("api/list_segments", "api/get_segment", "api/list_segment_members",
               "api/segment_map")

    def __init__(self, store: GraphStore) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store

    def active(self) -> list[Segment]:
        """Segments of the active refresh, largest first (empty before the first refresh)."""
        return [_segment(r, True) for r in self.store.read("api/list_segments")]

    def get(self, segment: str) -> Segment:
        rows = self.store.read("api/get_segment", segment=segment)
        if not rows:
            raise NotFound("unknown segment")
        return _segment(rows[0], bool(rows[0]["active"]))

    def members(self, segment: str, limit: int, after: str = "") -> MemberPage:
        """One page of members ordered by graph id; pass ``next_cursor`` back as ``after``."""
        self.get(segment)  # 404 for an unknown segment, not an empty page
        rows = self.store.read("api/list_segment_members", segment=segment, after=after,
                               limit=limit)
        members = tuple(Member(str(r["user"]), r["distance"], r["tier"]) for r in rows)
        cursor = members[-1].user if len(members) == limit else None
        return MemberPage(segment, members, cursor)

    def map(self, limit: int) -> list[MapPoint]:
        return [MapPoint(str(r["user"]), float(r["x"]), float(r["y"]), str(r["segment"]))
                for r in self.store.read("api/segment_map", limit=limit)]
