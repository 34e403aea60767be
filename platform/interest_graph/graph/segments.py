"""Reads about segments: the active refresh's list, one profile and brief, members, the 2-D map,
the movements between refreshes and the drift check."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NotFound
from ..ingest.product_types import plain_name
from .driver import GraphStore, Row

#: A full re-segmentation is due when more than this share of users lies beyond their segment's
#: training distance (its members' 95th percentile): twice the 5% a fresh segmentation has by
#: construction. The refresh's segmentation reads the same limit.
DRIFT_LIMIT = 0.10


@dataclass(frozen=True)
class CategoryLift:
    """A category a segment over-indexes on: ``share`` of members with it, ``lift`` over the
    share of all users with it, ``label`` the name in plain words."""

    name: str
    share: float | None
    lift: float | None
    label: str


@dataclass(frozen=True)
class Behaviour:
    """Medians of a group: days since the last purchase, purchase days, spend and items per
    purchase day (``None`` without purchases)."""

    recency_days: float | None
    frequency: float | None
    order_value: float | None
    items_per_order: float | None


@dataclass(frozen=True)
class Segment:
    """A segment's profile and brief; ``tiers`` maps value tier → member count, ``base_*`` are
    the same figures for the whole base."""

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
    share: float | None = None
    categories: tuple[CategoryLift, ...] = ()
    brief: str | None = None
    base_expected_value: float | None = None
    base_churn_risk: float | None = None
    churn_basis: str | None = None
    churn_method: str | None = None
    behaviour: Behaviour | None = None
    base_behaviour: Behaviour | None = None
    distance_limit: float | None = None
    warm_start: bool | None = None


@dataclass(frozen=True)
class Move:
    """How many users went from a segment of the previous refresh to one of the active one."""

    from_id: str
    from_label: str | None
    from_index: int | None
    to_id: str
    to_label: str | None
    to_index: int | None
    users: int


@dataclass(frozen=True)
class Moves:
    """The transition table into the active refresh (``previous`` None: no earlier refresh)."""

    version: str | None
    previous: str | None
    moves: tuple[Move, ...]

    @property
    def moved(self) -> int:
        """Users in a segment of another index than before."""
        return sum(m.users for m in self.moves if m.from_index != m.to_index)

    @property
    def total(self) -> int:
        """Users segmented in both refreshes."""
        return sum(m.users for m in self.moves)


@dataclass(frozen=True)
class Drift:
    """The drift check: ``drifted`` of ``users`` lie beyond their segment's training distance;
    a full re-segmentation is ``due`` above ``limit``."""

    version: str | None
    users: int
    drifted: int
    share: float
    limit: float
    due: bool


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


def _behaviour(row: Row, prefix: str) -> Behaviour | None:
    values = [row.get(f"{prefix}{k}") for k in
              ("recency_days", "frequency", "order_value", "items_per_order")]
    return None if all(v is None for v in values) else Behaviour(*values)


def _segment(row: Row, active: bool) -> Segment:
    tiers = [str(t) for t in row["tiers"] or ()]
    counts = [int(c) for c in row["tier_counts"] or ()]
    names = tuple(str(c) for c in row["top_categories"] or ())
    shares = list(row.get("category_shares") or ())
    lifts = list(row.get("category_lifts") or ())

    def at(values: list[float], i: int) -> float | None:
        return float(values[i]) if i < len(values) and values[i] is not None else None

    return Segment(
        id=str(row["id"]), version=row["version"], label=row["label"], size=int(row["size"] or 0),
        top_categories=names, tiers=dict(zip(tiers, counts)),
        avg_expected_value=row["avg_expected_value"], avg_churn_risk=row["avg_churn_risk"],
        silhouette=row["silhouette"], created_at=row["created_at"], active=active,
        share=row.get("share"),
        categories=tuple(CategoryLift(c, at(shares, i), at(lifts, i), plain_name(c))
                         for i, c in enumerate(names)),
        brief=row.get("brief"), base_expected_value=row.get("base_expected_value"),
        base_churn_risk=row.get("base_churn_risk"), churn_basis=row.get("churn_basis"),
        churn_method=row.get("churn_method"), behaviour=_behaviour(row, ""),
        base_behaviour=_behaviour(row, "base_"), distance_limit=row.get("distance_limit"),
        warm_start=row.get("warm_start"),
    )


class SegmentRepository:
    """Segment reads for the API and the dashboard."""

    QUERIES = ("api/list_segments", "api/get_segment", "api/list_segment_members",
               "api/segment_map", "api/list_segment_moves", "api/segment_drift")

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

    def moves(self) -> Moves:
        """The transition table written by the active refresh (empty after the first one)."""
        rows = self.store.read("api/list_segment_moves")
        moves = tuple(Move(str(r["from_id"]), r["from_label"], r["from_index"], str(r["to_id"]),
                           r["to_label"], r["to_index"], int(r["users"] or 0)) for r in rows)
        version = rows[0]["version"] if rows else self._active_version()
        return Moves(version, rows[0]["previous"] if rows else None, moves)

    def _active_version(self) -> str | None:
        found = self.active()
        return found[0].version if found else None

    def drift(self) -> Drift:
        """The drift check over the users segmented under the active refresh."""
        rows = self.store.read("api/segment_drift")
        if not rows or not rows[0]["users"]:
            return Drift(rows[0]["version"] if rows else None, 0, 0, 0.0, DRIFT_LIMIT, False)
        users, drifted = int(rows[0]["users"]), int(rows[0]["drifted"] or 0)
        share = drifted / users
        return Drift(rows[0]["version"], users, drifted, share, DRIFT_LIMIT, share > DRIFT_LIMIT)
