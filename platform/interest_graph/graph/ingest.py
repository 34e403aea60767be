"""Writes of ingestion: items, and batches of events applied exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Conflict
from .driver import GraphStore, Prepared


@dataclass(frozen=True)
class GraphCounts:
    """Totals in the graph, for load summaries."""

    users: int
    items: int
    categories: int
    edges: int
    edge_events: int
    events: int
    revenue: float
    weight: float


class IngestRepository:
    """Exactly-once application of event batches and idempotent item upserts."""

    QUERIES = ("ingest/find_known_events", "ingest/upsert_items", "ingest/apply_events",
               "stats/count_graph")

    def __init__(self, store: GraphStore) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store

    def known_events(self, ids: Sequence[str]) -> set[str]:
        """The subset of ``ids`` (hashed) already applied."""
        if not ids:
            return set()
        return {row["id"] for row in self.store.read("ingest/find_known_events", ids=list(ids))}

    def upsert_items(self, rows: Sequence[dict[str, Any]], now: float) -> None:
        if rows:
            self.store.write("ingest/upsert_items", rows=list(rows), now=now)

    def apply_events(self, ids: Sequence[str], users: Sequence[dict[str, Any]], *, now: float,
                     half_life: float) -> bool:
        """Apply one batch atomically (``users`` carry their ``pairs``). False if some id was
        already applied, in which case nothing changed."""
        return self.apply_prepared(self.prepare_events(ids, users, now=now, half_life=half_life),
                                   ids, users)

    def prepare_events(self, ids: Sequence[str], users: Sequence[dict[str, Any]], *, now: float,
                       half_life: float) -> Prepared:
        """Encode an ``apply_events`` write (CPU work the caller may do on another thread)."""
        return self.store.prepare("ingest/apply_events", ids=list(ids), users=list(users),
                                  now=now, half_life=half_life)

    def apply_prepared(self, prepared: Prepared, ids: Sequence[str],
                       users: Sequence[dict[str, Any]]) -> bool:
        try:
            rows = self.store.execute(prepared)
        except Conflict:
            # Neo4j's variant is guarded by the event-id constraint: a known id fails the whole
            # batch, which changed nothing.
            return False
        if rows:
            return True
        if any(u["pairs"] for u in users):
            return False
        # Without pairs the query returns no row either way: the markers tell what happened.
        return len(self.known_events(ids)) == len(ids)

    def counts(self) -> GraphCounts:
        rows = self.store.read("stats/count_graph")
        if not rows:
            return GraphCounts(0, 0, 0, 0, 0, 0, 0.0, 0.0)
        row = rows[0]
        return GraphCounts(
            users=int(row["users"]), items=int(row["items"]), categories=int(row["categories"]),
            edges=int(row["edges"]), edge_events=int(row["edge_events"] or 0),
            events=int(row["events"]), revenue=float(row["revenue"] or 0.0),
            weight=float(row["weight"] or 0.0),
        )
