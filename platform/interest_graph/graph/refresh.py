"""Reads and writes of the refresh: the graph paged into arrays, versioned results out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..ingest.records import item_text
from ..recipe import EdgeArrays
from .driver import GraphStore, Row
from .vectors import VectorIndexes

WRITE_CHUNK = 2000


@dataclass(frozen=True)
class RefreshState:
    """The active refresh (None before the first one) and the incremental watermark."""

    version: str | None
    model_version: str | None
    model_path: str | None
    completed_at: float | None
    watermark: float | None


@dataclass(frozen=True)
class CachedText:
    """A text embedding cached on a node, and the content hash it was computed from."""

    hash: str
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class ItemTable:
    """Every item, in id order: title, the text the model encodes, categories, cached embedding."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    text: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    cached: dict[str, CachedText]


@dataclass(frozen=True)
class UserTable:
    """Users in id order with their own text, cached text embedding and purchase occasions.

    Attributes:
        ids: User ids.
        text: Review and search text by user id (users with some).
        cached: Cached text embedding by user id.
        purchases: ``(distinct purchase days, net revenue)`` by user id (buyers only).
    """

    ids: tuple[str, ...]
    text: dict[str, str]
    cached: dict[str, CachedText]
    purchases: dict[str, tuple[tuple[int, ...], float]]


@dataclass(frozen=True)
class UserEdges:
    """Users and their ``INTERACTED`` edges as arrays.

    Attributes:
        users: The users (``edges.user`` indexes ``users.ids``).
        item_ids: The item ids ``edges.item`` indexes: the catalogue passed in, then items first
            seen in these edges.
        edges: One row per edge (weights as stored: as of each edge's ``last_ts``).
        seen: Each user's ``updated_at`` as read: a refresh that scores these edges scores the
            user through that change (``scored_through``, see ``refresh/read_changed``).
    """

    users: UserTable
    item_ids: tuple[str, ...]
    edges: EdgeArrays
    seen: dict[str, float] = field(default_factory=dict)


def _cached(row: Row, hash_key: str) -> CachedText | None:
    if row.get(hash_key) and row.get("text_embedding") is not None:
        return CachedText(row[hash_key], np.asarray(row["text_embedding"], np.float32))
    return None


#: Edges held as Python values before they move into numpy chunks (bounds the reader's own
#: per-edge objects; a page of driver rows is transient either way).
FLUSH_EDGES = 1 << 16


class _Columns:
    """Parallel edge columns: appended row by row as Python lists, kept as numpy chunks."""

    DTYPES = {"user": np.int64, "item": np.int64, "weight": np.float64, "first_ts": np.float64,
              "last_ts": np.float64, "consumed": np.bool_}

    def __init__(self, flush_edges: int) -> None:
        self.flush_edges = flush_edges
        self.pending: dict[str, list[Any]] = {k: [] for k in self.DTYPES}
        self.chunks: dict[str, list[npt.NDArray[Any]]] = {k: [] for k in self.DTYPES}

    def extend(self, **values: Sequence[Any]) -> None:
        for key, column in values.items():
            self.pending[key].extend(column)
        if len(self.pending["user"]) >= self.flush_edges:
            self.flush()

    def flush(self) -> None:
        for key, dtype in self.DTYPES.items():
            self.chunks[key].append(np.asarray(self.pending[key], dtype))
            self.pending[key] = []

    def arrays(self) -> EdgeArrays:
        self.flush()
        cols = {k: np.concatenate(v) for k, v in self.chunks.items()}
        self.chunks = {k: [] for k in self.DTYPES}
        return EdgeArrays(**cols)


class _EdgeReader:
    """Fills user tables and edge arrays from user rows, page by page."""

    def __init__(self, item_ids: Sequence[str], flush_edges: int = FLUSH_EDGES) -> None:
        self.item_ids = list(item_ids)
        self.item_index = {iid: k for k, iid in enumerate(self.item_ids)}
        self.ids: list[str] = []
        self.text: dict[str, str] = {}
        self.cached: dict[str, CachedText] = {}
        self.purchases: dict[str, tuple[tuple[int, ...], float]] = {}
        self.seen: dict[str, float] = {}
        self.columns = _Columns(flush_edges)

    def _index(self, iid: str) -> int:
        k = self.item_index.get(iid)
        if k is None:  # an item created after the item pages were read
            k = self.item_index[iid] = len(self.item_ids)
            self.item_ids.append(iid)
        return k

    def add(self, row: Row) -> None:
        uid = row["id"]
        u = len(self.ids)
        self.ids.append(uid)
        if row.get("text"):
            self.text[uid] = row["text"]
        if row.get("updated_at") is not None:
            self.seen[uid] = float(row["updated_at"])
        if (cached := _cached(row, "text_hash")) is not None:
            self.cached[uid] = cached
        if days := row.get("purchase_days"):
            self.purchases[uid] = (tuple(int(d) for d in days), float(row.get("revenue") or 0.0))
        items = row["items"]
        self.columns.extend(user=[u] * len(items), item=[self._index(i) for i in items],
                            weight=row["weights"], first_ts=row["first_ts"],
                            last_ts=row["last_ts"], consumed=row["consumed"])

    def result(self) -> UserEdges:
        users = UserTable(tuple(self.ids), self.text, self.cached, self.purchases)
        return UserEdges(users, tuple(self.item_ids), self.columns.arrays(), self.seen)


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class RefreshRepository:
    """Everything the refresh reads from and writes to the graph."""

    QUERIES = (
        "refresh/read_user_page", "refresh/read_item_page", "refresh/read_changed",
        "refresh/read_neighbourhood", "refresh/read_users", "refresh/read_state",
        "refresh/write_item_text_embeddings", "refresh/write_user_text_embeddings",
        "refresh/begin_refresh", "refresh/write_interests", "refresh/write_category_interests",
        "refresh/write_similar_items", "refresh/write_segments", "refresh/write_segment_members",
        "refresh/write_segment_briefs", "refresh/write_segment_moves",
        "refresh/write_user_results", "refresh/write_item_results",
        "refresh/activate_refresh", "refresh/update_users", "refresh/cleanup_user_scores",
        "refresh/cleanup_item_scores", "stats/user_ids", "refresh/read_item_ids",
        "refresh/prune_segment_history", "refresh/finish_refresh", "refresh/set_watermark",
        "refresh/refresh_history", "refresh/recount_segments",
    )

    def __init__(self, store: GraphStore, page_size: int = 20000) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store
        self.page_size = page_size
        self.vectors = VectorIndexes(store)

    # -- reads ---------------------------------------------------------------------------

    def _pages(self, name: str) -> Iterator[Row]:
        after = ""
        while True:
            rows = self.store.read(name, after=after, limit=self.page_size)
            yield from rows
            if len(rows) < self.page_size:
                return
            after = rows[-1]["id"]

    def items(self) -> ItemTable:
        """Every item with the text the model encodes, categories and cached text embedding."""
        ids: list[str] = []
        titles: list[str] = []
        text: list[str] = []
        categories: list[tuple[str, ...]] = []
        cached: dict[str, CachedText] = {}
        for row in self._pages("refresh/read_item_page"):
            cats = tuple(sorted(c for c in row.get("categories") or () if c))
            ids.append(row["id"])
            titles.append((row.get("title") or "").strip())
            categories.append(cats)
            text.append(item_text(row.get("title") or "", row.get("description") or "", cats))
            if (hit := _cached(row, "cached_hash")) is not None:
                cached[row["id"]] = hit
        return ItemTable(tuple(ids), tuple(titles), tuple(text), tuple(categories), cached)

    def users(self, item_ids: Sequence[str]) -> UserEdges:
        """Every user with text, cached text embedding, purchases and edges, read in pages.

        Args:
            item_ids: The catalogue the edges index (items seen only in edges are appended).
        """
        reader = _EdgeReader(item_ids)
        for row in self._pages("refresh/read_user_page"):
            reader.add(row)
        return reader.result()

    def users_by_id(self, ids: Sequence[str], item_ids: Sequence[str]) -> UserEdges:
        """Named users (unknown ids are skipped), like :meth:`users`."""
        reader = _EdgeReader(item_ids)
        for chunk in _chunks(sorted(set(ids)), self.page_size):
            for row in self.store.read("refresh/read_users", ids=list(chunk)):
                reader.add(row)
        return reader.result()

    def changed_since(self, since: float, items_since: float | None = None
                      ) -> tuple[dict[str, float], list[str]]:
        """Users changed after ``since`` and not yet scored through their change (id → the
        ``updated_at`` read), and items whose text changed after ``items_since`` (default
        ``since``)."""
        row = self.store.read("refresh/read_changed", since=since,
                              items_since=since if items_since is None else items_since)[0]
        users = {u: float(t) for u, t in zip(row["users"], row["seen"]) if u}
        return users, [i for i in row["items"] if i]

    def neighbourhood(self, users: Sequence[str], items: Sequence[str]) -> list[str]:
        """Changed users plus every user who interacted with a changed item."""
        rows = self.store.read("refresh/read_neighbourhood", users=list(users), items=list(items))
        if not rows:  # no changed item: UNWIND of an empty list returns no row
            return list(users)
        return list(rows[0]["users"])

    def state(self) -> RefreshState:
        rows = self.store.read("refresh/read_state")
        row = rows[0] if rows else {}
        return RefreshState(row.get("version"), row.get("model_version"), row.get("model_path"),
                            row.get("completed_at"), row.get("watermark"))

    def recent_versions(self, limit: int = 20) -> list[str]:
        """Versions of the latest refreshes, newest first."""
        return [row["version"] for row in self.store.read("refresh/refresh_history", limit=limit)]

    # -- writes --------------------------------------------------------------------------

    def _write_rows(self, name: str, rows: Sequence[dict[str, Any]], **params: Any) -> None:
        for chunk in _chunks(list(rows), WRITE_CHUNK):
            self.store.write(name, rows=list(chunk), **params)

    def write_text_embeddings(self, kind: str, rows: Sequence[dict[str, Any]]) -> None:
        if kind not in ("item", "user"):
            raise ValueError(f"kind must be 'item' or 'user', got {kind!r}")
        self._write_rows(f"refresh/write_{kind}_text_embeddings", rows)

    def begin(self, version: str, kind: str, now: float) -> None:
        self.store.write("refresh/begin_refresh", version=version, kind=kind, now=now)

    def write_interests(self, version: str, model_version: str, rows: Sequence[dict[str, Any]]) -> None:
        self._write_rows("refresh/write_interests", rows, version=version, model_version=model_version)

    def write_category_interests(self, version: str, rows: Sequence[dict[str, Any]]) -> None:
        self._write_rows("refresh/write_category_interests", rows, version=version)

    def write_similar_items(self, version: str, rows: Sequence[dict[str, Any]]) -> None:
        self._write_rows("refresh/write_similar_items", rows, version=version)

    def write_segments(self, version: str, rows: Sequence[dict[str, Any]], silhouette: float,
                       now: float) -> None:
        self._write_rows("refresh/write_segments", rows, version=version, silhouette=silhouette,
                         now=now)

    def write_segment_members(self, version: str, rows: Sequence[dict[str, Any]], now: float) -> None:
        self._write_rows("refresh/write_segment_members", rows, version=version, now=now)

    def write_segment_briefs(self, version: str, rows: Sequence[dict[str, Any]]) -> None:
        """Brief, value and behaviour profile of segments already written by
        :meth:`write_segments`."""
        self._write_rows("refresh/write_segment_briefs", rows, version=version)

    def write_segment_moves(self, version: str, previous: str) -> int:
        """Count users per (previous segment → segment) pair as ``MOVED_TO`` edges, after the
        members are written; returns the number of pairs."""
        rows = self.store.write("refresh/write_segment_moves", version=version, previous=previous)
        return int(rows[0]["pairs"]) if rows else 0

    def activate(self, version: str, model_version: str, model_path: str,
                 users: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]], now: float,
                 chunk: int = WRITE_CHUNK) -> None:
        """Write node-level results, then switch readers to ``version``.

        The node-level results (embeddings, map position, segment, customer value) go in
        batches of ``chunk`` rows, so no transaction grows with the graph (Neo4j bounds a
        transaction's memory: 70k users and 59k items in one query went past it on a 2 GB heap).
        The switch itself is one small atomic query. Readers see versioned results (scores,
        segment membership, segments) of the old refresh or the new one, never a mix; while the
        batches are written, a user's unversioned figures (value, map position, embedding) may
        already be the new refresh's, as in an incremental refresh. The embeddings are replaced,
        so the vector indexes are rebuilt around the batches.
        """
        with self.vectors.rebuilding("User", "Item"):
            for query, rows in (("refresh/write_user_results", users),
                                ("refresh/write_item_results", items)):
                for part in _chunks(list(rows), chunk):
                    self.store.write(query, rows=list(part), now=now)
            self.store.write("refresh/activate_refresh", version=version,
                             model_version=model_version, model_path=model_path, now=now)

    def update_users(self, version: str, model_version: str, rows: Sequence[dict[str, Any]],
                     now: float, chunk: int = 500) -> None:
        """Incremental: replace some users' results under the active version (atomic per chunk).

        Then the segments' sizes are counted again: users may have moved between them. The
        embeddings are overwritten in place; on FalkorDB the User vector index is rebuilt around
        the writes once they add up to a share of the users (:meth:`VectorIndexes.in_place`).
        """
        if not rows:
            return
        with self.vectors.in_place("User", len(rows)):
            for part in _chunks(list(rows), chunk):
                self.store.write("refresh/update_users", version=version,
                                 model_version=model_version, rows=list(part), now=now)
        self.store.write("refresh/recount_segments", version=version)

    def cleanup(self, active: str, page: int = 2000) -> int:
        """Delete score edges of inactive versions; returns how many.

        Works through the users and then the items ``page`` ids at a time, so each query costs
        the edges of its page, and the whole cleanup the score edges once (a query that matched
        every score edge of the graph per batch grew with old × all edges).
        """
        total = 0
        for ids_query, query in (("stats/user_ids", "refresh/cleanup_user_scores"),
                                 ("refresh/read_item_ids", "refresh/cleanup_item_scores")):
            ids = [r["id"] for r in self.store.read(ids_query)]
            for chunk in _chunks(ids, page):
                rows = self.store.write(query, active=active, ids=list(chunk))
                total += int(rows[0]["deleted"]) if rows else 0
        return total

    def prune_segment_history(self, keep: Sequence[str]) -> None:
        self.store.write("refresh/prune_segment_history", keep=list(keep))

    def finish(self, version: str, status: str, stages: dict[str, float], now: float) -> None:
        self.store.write("refresh/finish_refresh", version=version, status=status, now=now,
                         stages=list(stages), seconds=[round(v, 3) for v in stages.values()])

    def set_watermark(self, ts: float) -> None:
        self.store.write("refresh/set_watermark", ts=ts)
