"""``/v1/users/<id>/…``: recommendations, interests, segment, value, neighbourhood, erasure.

URLs carry the application's *original* user id; it is pseudonymised here with the same keyed
hash as ingestion before anything touches the graph, and never logged.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint

from . import extensions as ext
from .validation import DEFAULT_K, MAX_K, path_id, query_int

bp = Blueprint("users", __name__, url_prefix="/v1/users")

MAX_GRAPH_NODES = 500
DEFAULT_GRAPH_NODES = 100


def _graph_id(user_id: str) -> str:
    return ext.pseudonymiser().user(path_id("id", user_id))


@bp.get("/<user_id>/recommendations")
def recommendations(user_id: str) -> dict[str, Any]:
    """Top-k recommended items; popular items with ``fallback: true`` for users without scores."""
    k = query_int("k", DEFAULT_K, 1, MAX_K)
    recs = ext.users().recommendations(_graph_id(user_id), k)
    return {
        "user": user_id, "version": recs.version, "fallback": recs.fallback,
        "items": [asdict(r) for r in recs.items],
    }


@bp.get("/<user_id>/interests")
def interests(user_id: str) -> dict[str, Any]:
    """Category interests with scores under the active refresh."""
    k = query_int("k", DEFAULT_K, 1, MAX_K)
    found = ext.users().interests(_graph_id(user_id), k)
    return {"user": user_id, "version": found.version,
            "categories": [asdict(c) for c in found.categories]}


@bp.get("/<user_id>/segment")
def segment(user_id: str) -> dict[str, Any]:
    """The active segment (null before the user is segmented), why, distance and history."""
    seg = ext.users().segment(_graph_id(user_id))
    return {
        "user": user_id, "version": seg.version,
        "segment": None if seg.segment is None else {
            "id": seg.segment.id, "label": seg.segment.label, "size": seg.segment.size,
            "top_categories": list(seg.segment.top_categories),
        },
        "distance": seg.distance, "previous": seg.previous,
        "why": None if seg.why is None else asdict(seg.why),
        "history": [asdict(h) for h in seg.history],
    }


@bp.get("/<user_id>/value")
def value(user_id: str) -> dict[str, Any]:
    """Customer value (RFM, tier, expected purchases and value, churn risk)."""
    out = asdict(ext.users().value(_graph_id(user_id)))
    out["user"] = user_id
    return out


@bp.get("/<user_id>/graph")
def neighbourhood(user_id: str) -> dict[str, Any]:
    """A bounded neighbourhood for visualisation (depth 1 or 2, at most ``limit`` nodes)."""
    depth = query_int("depth", 1, 1, 2)
    limit = query_int("limit", DEFAULT_GRAPH_NODES, 1, MAX_GRAPH_NODES)
    hood = ext.users().neighbourhood(_graph_id(user_id), depth, limit)
    return {"user": user_id, "depth": depth, "nodes": [asdict(n) for n in hood.nodes],
            "edges": [asdict(e) for e in hood.edges]}


@bp.delete("/<user_id>")
def erase(user_id: str) -> dict[str, Any]:
    """Erase a user and everything derived from them. Idempotent: always 200, and a repeated call
    reports ``existed: false`` with zero counts."""
    done = ext.users().erase(_graph_id(user_id))
    return {
        "user": user_id, "existed": done.existed,
        "removed": {"user_node": 1 if done.existed else 0, "interactions": done.interactions,
                    "interests": done.interests, "category_interests": done.category_interests,
                    "segment_memberships": done.memberships},
        "note": "event markers are keyed hashes of event ids with no link to the user; "
                "new events for this id would create the user again",
    }
