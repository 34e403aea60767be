"""``/v1/segments``: the active refresh's segments with their briefs, one profile, members, the
2-D map, the movements since the previous refresh and the drift check."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint

from ..graph.segments import Segment
from . import extensions as ext
from .validation import path_id, query_int, query_text

bp = Blueprint("segments", __name__, url_prefix="/v1/segments")

DEFAULT_MAP_POINTS = 2000
MAX_MAP_POINTS = 10000
DEFAULT_MEMBERS = 100
MAX_MEMBERS = 1000


def _segment(seg: Segment) -> dict[str, Any]:
    out = asdict(seg)
    out["top_categories"] = list(seg.top_categories)
    out["categories"] = [asdict(c) for c in seg.categories]
    return out


@bp.get("")
def index() -> dict[str, Any]:
    """Segments of the active refresh with their briefs, largest first, and the drift check."""
    repo = ext.segments()
    found = repo.active()
    return {"version": found[0].version if found else None,
            "segments": [_segment(s) for s in found], "drift": asdict(repo.drift())}


@bp.get("/transitions")
def transitions() -> dict[str, Any]:
    """How many users moved from which segment of the previous refresh to which of the active
    one (written at refresh time), with the totals."""
    moves = ext.segments().moves()
    return {"version": moves.version, "previous": moves.previous,
            "moves": [asdict(m) for m in moves.moves], "moved": moves.moved,
            "total": moves.total}


@bp.get("/map")
def segment_map() -> dict[str, Any]:
    """Users' 2-D map positions with their segment (a stable sample of at most ``limit``)."""
    limit = query_int("limit", DEFAULT_MAP_POINTS, 1, MAX_MAP_POINTS)
    return {"points": [asdict(p) for p in ext.segments().map(limit)]}


@bp.get("/<segment_id>")
def profile(segment_id: str) -> dict[str, Any]:
    """One segment's profile (history versions too; ``active`` says which)."""
    return _segment(ext.segments().get(path_id("id", segment_id)))


@bp.get("/<segment_id>/members")
def members(segment_id: str) -> dict[str, Any]:
    """A page of members (graph ids); pass ``next_cursor`` back as ``cursor``."""
    limit = query_int("limit", DEFAULT_MEMBERS, 1, MAX_MEMBERS)
    cursor = query_text("cursor", "")
    page = ext.segments().members(path_id("id", segment_id), limit, cursor)
    return {"segment": page.segment, "members": [asdict(m) for m in page.members],
            "next_cursor": page.next_cursor}
