"""Reads and erasure of one user: recommendations, interests, segment, value, neighbourhood.

Every method takes the user's *graph* id (already pseudonymised by the caller) and raises
:class:`~interest_graph.errors.NotFound` for an unknown user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NotFound
from ..ingest.product_types import join_names, plain_name
from .driver import GraphStore, Row

FALLBACK_SEGMENT_REASON = "popular in your segment"
FALLBACK_OVERALL_REASON = "popular with all shoppers"


@dataclass(frozen=True)
class Recommendation:
    """One recommended item."""

    item: str
    title: str | None
    score: float
    rank: int
    reason: str


@dataclass(frozen=True)
class Recommendations:
    """A user's recommendations; ``fallback`` when they come from popularity, not the model."""

    user: str
    version: str | None
    fallback: bool
    items: tuple[Recommendation, ...]


@dataclass(frozen=True)
class CategoryInterest:
    category: str
    score: float


@dataclass(frozen=True)
class Interests:
    user: str
    version: str | None
    categories: tuple[CategoryInterest, ...]


@dataclass(frozen=True)
class SegmentRef:
    """A segment as seen from a member."""

    id: str
    label: str | None
    size: int | None
    top_categories: tuple[str, ...]


@dataclass(frozen=True)
class SegmentAssignment:
    """One entry of a user's segment history."""

    version: str | None
    segment_id: str
    label: str | None
    assigned_at: float | None


@dataclass(frozen=True)
class CategoryShare:
    """One of a user's categories, its share of their interaction weight, in plain words."""

    category: str
    share: float
    label: str


@dataclass(frozen=True)
class SegmentWhy:
    """Why a user is in their segment: their top categories and value tier against the
    segment's distinctive categories and tier mix.

    Attributes:
        categories: The user's top categories with their share of the user's weight.
        segment_categories: The segment's distinctive categories (``segment_labels``: in plain
            words).
        shared: The user's top categories that are among the segment's distinctive ones.
        tier: The user's value tier (``None`` without purchases).
        tier_share: Share of the segment's members in the same tier.
        segment_tier: The segment's most common tier, and ``segment_tier_share`` its share.
        text: All of it in one sentence or three.
    """

    categories: tuple[CategoryShare, ...]
    segment_categories: tuple[str, ...]
    segment_labels: tuple[str, ...]
    shared: tuple[str, ...]
    tier: str | None
    tier_share: float | None
    segment_tier: str | None
    segment_tier_share: float | None
    text: str


@dataclass(frozen=True)
class UserSegment:
    """The user's active segment (None if not segmented yet), why, and the kept history."""

    user: str
    version: str | None
    segment: SegmentRef | None
    distance: float | None
    previous: str | None
    history: tuple[SegmentAssignment, ...]
    why: SegmentWhy | None = None


@dataclass(frozen=True)
class UserValue:
    """Customer value of the active refresh (all None before the first refresh)."""

    user: str
    version: str | None
    recency_days: float | None
    frequency: float | None
    monetary: float | None
    rfm_score: str | None
    tier: str | None
    expected_purchases: float | None
    expected_value: float | None
    p_alive: float | None
    churn_risk: float | None
    churn_basis: str | None = None


@dataclass(frozen=True)
class GraphNode:
    id: str
    type: str  # user | item | category | segment
    label: str | None


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    type: str
    weight: float | None


@dataclass(frozen=True)
class Neighbourhood:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Erasure:
    """What deleting a user removed (all zero and ``existed`` False on a repeated call)."""

    user: str
    existed: bool
    interactions: int
    interests: int
    category_interests: int
    memberships: int


def _node_id(kind: str, key: str) -> str:
    return f"{kind}:{key}"


#: Categories of the user compared with the segment's.
WHY_CATEGORIES = 3


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def explain_segment(categories: tuple[CategoryShare, ...], segment_categories: tuple[str, ...],
                    tier: str | None, tiers: dict[str, int]) -> SegmentWhy:
    """Compare a user's top categories and tier with their segment's (see :class:`SegmentWhy`)."""
    wanted = set(segment_categories)
    shared = tuple(c.category for c in categories if c.category in wanted)
    parts = []
    if categories:
        mix = join_names([f"{c.label.lower()} ({_pct(c.share)})" for c in categories])
        parts.append(f"Buys mostly {mix}.")
    seg_words = join_names([plain_name(c).lower() for c in segment_categories])
    if shared:
        names = join_names([plain_name(c) for c in shared])
        verb = "is" if len(shared) == 1 else "are"
        parts.append(f"{names} {verb} among this segment's distinctive categories ({seg_words}).")
    elif segment_categories:
        parts.append(f"None of these is among the segment's distinctive categories ({seg_words}):"
                     " the segment is the nearest fit for the customer's overall mix.")
    total = sum(tiers.values())
    top_tier = max(sorted(tiers), key=lambda t: tiers[t]) if tiers else None
    tier_share = tiers.get(tier, 0) / total if tier and total else None
    top_share = tiers[top_tier] / total if top_tier and total else None
    if tier and tier_share is not None and top_tier and top_share is not None:
        parts.append(f"Value tier: {tier}, like {_pct(tier_share)} of the segment "
                     f"(most common there: {top_tier}, {_pct(top_share)}).")
    elif tier:
        parts.append(f"Value tier: {tier}.")
    else:
        parts.append("No purchases with a price yet, so no value tier.")
    return SegmentWhy(categories, segment_categories,
                      tuple(plain_name(c) for c in segment_categories), shared, tier, tier_share,
                      top_tier, top_share, " ".join(parts))


class UserRepository:
    """Everything the API reads about one user, and the erasure of a user."""

    QUERIES = (
        "api/get_user", "api/get_recommendations", "api/popular_in_segment",
        "api/popular_items", "api/get_user_interests", "api/get_user_segments",
        "api/get_user_interactions", "api/get_item_categories", "api/delete_user",
        "api/get_user_categories", "api/get_segment",
    )

    def __init__(self, store: GraphStore) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store

    def _profile(self, user: str) -> Row:
        rows = self.store.read("api/get_user", user=user)
        if not rows:
            raise NotFound("unknown user")
        return rows[0]

    def exists(self, user: str) -> bool:
        return bool(self.store.read("api/get_user", user=user))

    def recommendations(self, user: str, k: int) -> Recommendations:
        """The active refresh's top-k, or popular items with ``fallback=True`` for a user who has
        no scores yet (popular in their segment; overall if they have no segment either)."""
        rows = self.store.read("api/get_recommendations", user=user, k=k)
        if rows:
            items = tuple(
                Recommendation(str(r["item"]), r["title"], float(r["score"]), int(r["rank"]),
                               str(r["reason"] or "")) for r in rows
            )
            return Recommendations(user, rows[0]["version"], False, items)
        profile = self._profile(user)
        if profile["segment"] is not None:
            rows = self.store.read("api/popular_in_segment", user=user, k=k)
            reason = FALLBACK_SEGMENT_REASON
        else:
            rows = []
        if not rows:
            rows = self.store.read("api/popular_items", user=user, k=k)
            reason = FALLBACK_OVERALL_REASON
        items = tuple(
            Recommendation(str(r["item"]), r["title"], float(r["score"]), n, reason)
            for n, r in enumerate(rows, 1)
        )
        return Recommendations(user, profile["version"], True, items)

    def interests(self, user: str, k: int) -> Interests:
        rows = self.store.read("api/get_user_interests", user=user, k=k)
        if not rows:
            raise NotFound("unknown user")
        cats = tuple(CategoryInterest(str(r["category"]), float(r["score"]))
                     for r in rows if r["category"] is not None)
        return Interests(user, rows[0]["version"], cats)

    def segment(self, user: str) -> UserSegment:
        rows = self.store.read("api/get_user_segments", user=user)
        if not rows:
            raise NotFound("unknown user")
        active = rows[0]["active"]
        current: Row | None = None
        history: list[SegmentAssignment] = []
        for r in rows:
            if r["segment_id"] is None:
                continue
            if current is None and active is not None and r["version"] == active:
                current = r
            history.append(SegmentAssignment(r["version"], str(r["segment_id"]), r["label"],
                                             r["assigned_at"]))
        ref = None
        why = None
        if current is not None:
            ref = SegmentRef(str(current["segment_id"]), current["label"],
                             None if current["size"] is None else int(current["size"]),
                             tuple(current["top_categories"] or ()))
            why = self._why(user, ref.id)
        return UserSegment(user, active, ref, None if current is None else current["distance"],
                           None if current is None else current["previous"], tuple(history), why)

    def _why(self, user: str, segment: str) -> SegmentWhy | None:
        found = self.store.read("api/get_segment", segment=segment)
        if not found:
            return None
        seg = found[0]
        rows = self.store.read("api/get_user_categories", user=user, limit=WHY_CATEGORIES)
        total = float(rows[0]["total"] or 0.0) if rows else 0.0
        cats = tuple(CategoryShare(str(c), float(w) / total, plain_name(str(c)))
                     for c, w in zip(rows[0]["categories"] or (), rows[0]["weights"] or ())
                     ) if rows and total > 0 else ()
        tiers = dict(zip([str(t) for t in seg["tiers"] or ()],
                         [int(n) for n in seg["tier_counts"] or ()]))
        tier = self._profile(user)["tier"]
        return explain_segment(cats, tuple(seg["top_categories"] or ()), tier, tiers)

    def value(self, user: str) -> UserValue:
        p = self._profile(user)
        return UserValue(user, p["version"], p["recency_days"], p["frequency"], p["monetary"],
                         p["rfm_score"], p["tier"], p["expected_purchases"], p["expected_value"],
                         p["p_alive"], p["churn_risk"], p["churn_basis"])

    def neighbourhood(self, user: str, depth: int, limit: int) -> Neighbourhood:
        """A bounded subgraph around a user for visualisation.

        Depth 1: the user, their segment, recommended and interacted items; depth 2 adds those
        items' categories. Nodes are added in that priority order until ``limit`` is reached, and
        only edges between kept nodes are returned.
        """
        if depth not in (1, 2):
            raise ValueError(f"depth must be 1 or 2, got {depth}")
        seg = self.segment(user)  # raises NotFound
        nodes: dict[str, GraphNode] = {}
        edges: list[GraphEdge] = []
        me = _node_id("user", user)

        def add(node: GraphNode) -> bool:
            if node.id in nodes:
                return True
            if len(nodes) >= limit:
                return False
            nodes[node.id] = node
            return True

        add(GraphNode(me, "user", user))
        if seg.segment is not None and add(GraphNode(_node_id("segment", seg.segment.id),
                                                     "segment", seg.segment.label)):
            edges.append(GraphEdge(me, _node_id("segment", seg.segment.id), "IN_SEGMENT",
                                   seg.distance))
        # At depth 2 items may take two thirds of the nodes, so that categories still show.
        item_budget = limit if depth == 1 else max(1, limit * 2 // 3)
        for r in self.store.read("api/get_recommendations", user=user, k=limit):
            if len(nodes) >= item_budget:
                break
            node = GraphNode(_node_id("item", str(r["item"])), "item", r["title"])
            if add(node):
                edges.append(GraphEdge(me, node.id, "INTERESTED_IN", float(r["score"])))
        for r in self.store.read("api/get_user_interactions", user=user, limit=limit):
            if len(nodes) >= item_budget:
                break
            node = GraphNode(_node_id("item", str(r["item"])), "item", r["title"])
            if add(node):
                weight = r["weight"]
                edges.append(GraphEdge(me, node.id, "INTERACTED",
                                       None if weight is None else float(weight)))
        if depth == 2:
            items = [n.id.removeprefix("item:") for n in nodes.values() if n.type == "item"]
            if items:
                for r in self.store.read("api/get_item_categories", items=items, limit=limit * 4):
                    node = GraphNode(_node_id("category", str(r["category"])), "category",
                                     str(r["category"]))
                    if add(node):
                        edges.append(GraphEdge(_node_id("item", str(r["item"])), node.id,
                                               "IN_CATEGORY", None))
        return Neighbourhood(tuple(nodes.values()), tuple(edges))

    def erase(self, user: str) -> Erasure:
        """Delete the user and everything about them (idempotent: a second call removes nothing)."""
        rows = self.store.write("api/delete_user", user=user)
        if not rows:
            return Erasure(user, False, 0, 0, 0, 0)
        r = rows[0]
        return Erasure(user, True, int(r["interactions"]), int(r["interests"]),
                       int(r["category_interests"]), int(r["memberships"]))
