"""``/v1/items/<id>/similar``: similar items of the active refresh or from the vector index."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint

from ..graph.items import SimilarSource
from . import extensions as ext
from .validation import DEFAULT_K, MAX_K, path_id, query_choice, query_int

bp = Blueprint("items", __name__, url_prefix="/v1/items")


@bp.get("/<item_id>/similar")
def similar(item_id: str) -> dict[str, Any]:
    """Top-k similar items; ``source=vector`` searches the embedding index instead."""
    k = query_int("k", DEFAULT_K, 1, MAX_K)
    source = SimilarSource(query_choice("source", "graph", ("graph", "vector")) or "graph")
    found = ext.items().similar(path_id("id", item_id), k, source)
    return {"item": found.item, "version": found.version, "source": found.source,
            "items": [asdict(i) for i in found.items]}
