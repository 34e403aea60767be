"""Reads about items: similar items from the active refresh or the vector index."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from ..errors import NotFound, QueryError
from .driver import GraphStore, Row

log = logging.getLogger(__name__)


class SimilarSource(StrEnum):
    """Where similar items come from: the refresh's SIMILAR_TO edges or the vector index."""

    GRAPH = "graph"
    VECTOR = "vector"


@dataclass(frozen=True)
class SimilarItem:
    item: str
    title: str | None
    score: float
    rank: int


@dataclass(frozen=True)
class SimilarItems:
    item: str
    version: str | None
    source: str
    items: tuple[SimilarItem, ...]


class ItemRepository:
    """Item reads for the API."""

    QUERIES = ("api/find_item", "api/get_similar_items", "api/similar_items_vector",
               "api/similar_items_exact")

    def __init__(self, store: GraphStore) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store

    def similar(self, item: str, k: int, source: SimilarSource = SimilarSource.GRAPH
                ) -> SimilarItems:
        """Top-k similar items of the active refresh (``GRAPH``) or by embedding (``VECTOR``).

        Raises:
            NotFound: unknown item.
        """
        if source is SimilarSource.VECTOR:
            found = self.store.read("api/find_item", item=item)
            if not found:
                raise NotFound("unknown item")
            rows = self._nearest(item, k)
            items = tuple(SimilarItem(str(r["item"]), r["title"], float(r["score"]), n)
                          for n, r in enumerate(rows, 1))
            return SimilarItems(item, None, source.value, items)
        rows = self.store.read("api/get_similar_items", item=item, k=k)
        if not rows:
            raise NotFound("unknown item")
        items = tuple(SimilarItem(str(r["item"]), r["title"], float(r["score"]), int(r["rank"]))
                      for r in rows if r["item"] is not None)
        return SimilarItems(item, rows[0]["version"], source.value, items)

    def _nearest(self, item: str, k: int) -> list[Row]:
        """Nearest items through the vector index, or by exact cosine while the index cannot
        answer (FalkorDB rebuilds it after each refresh: ``graph/vectors.py``)."""
        try:
            return self.store.read("api/similar_items_vector", item=item, k=k)
        except QueryError as exc:
            log.info("vector index unavailable (%s); exact cosine instead", exc)
            return self.store.read("api/similar_items_exact", item=item, k=k)
