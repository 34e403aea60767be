"""Reads and writes of the refresh: subgraph pages in, versioned results out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .driver import GraphStore, Row

WRITE_CHUNK = 2000


@dataclass(frozen=True)
class RefreshState:
    """The active refresh (None before the first one) and the incremental watermark."""

    version: str | None
    model_version: str | None
    model_path: str | None
    completed_at: float | None
    watermark: float | None


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
        "refresh/activate_refresh", "refresh/update_users", "refresh/cleanup_refresh",
        "refresh/prune_segment_history", "refresh/finish_refresh", "refresh/set_watermark",
        "refresh/refresh_history",
    )

    def __init__(self, store: GraphStore, page_size: int = 20000) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store
        self.page_size = page_size

    # -- reads ---------------------------------------------------------------------------

    def _pages(self, name: str) -> Iterator[Row]:
        after = ""
        while True:
            rows = self.store.read(name, after=after, limit=self.page_size)
            yield from rows
            if len(rows) < self.page_size:
                return
            after = rows[-1]["id"]

    def users(self) -> Iterator[Row]:
        """Every user with text, cached text embedding, purchases and edges, in pages."""
        return self._pages("refresh/read_user_page")

    def items(self) -> Iterator[Row]:
        """Every item with text, cached text embedding and categories, in pages."""
        return self._pages("refresh/read_item_page")

    def users_by_id(self, ids: Sequence[str]) -> list[Row]:
        out: list[Row] = []
        for chunk in _chunks(list(ids), self.page_size):
            out.extend(self.store.read("refresh/read_users", ids=list(chunk)))
        return out

    def changed_since(self, since: float) -> tuple[list[str], list[str]]:
        row = self.store.read("refresh/read_changed", since=since)[0]
        return [u for u in row["users"] if u], [i for i in row["items"] if i]

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

    def history(self, limit: int = 20) -> list[Row]:
        return self.store.read("refresh/refresh_history", limit=limit)

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

    def activate(self, version: str, model_version: str, model_path: str,
                 users: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]], now: float) -> None:
        """Switch readers to ``version`` and write node-level results, in one atomic query."""
        self.store.write("refresh/activate_refresh", version=version, model_version=model_version,
                         model_path=model_path, users=list(users), items=list(items), now=now)

    def update_users(self, version: str, model_version: str, rows: Sequence[dict[str, Any]],
                     now: float, chunk: int = 500) -> None:
        """Incremental: replace some users' results under the active version (atomic per chunk)."""
        for part in _chunks(list(rows), chunk):
            self.store.write("refresh/update_users", version=version, model_version=model_version,
                             rows=list(part), now=now)

    def cleanup(self, active: str, limit: int = 20000) -> int:
        """Delete score edges of inactive versions; returns how many."""
        total = 0
        while True:
            rows = self.store.write("refresh/cleanup_refresh", active=active, limit=limit)
            deleted = int(rows[0]["deleted"]) if rows else 0
            total += deleted
            if deleted < limit:
                return total

    def prune_segment_history(self, keep: Sequence[str]) -> None:
        self.store.write("refresh/prune_segment_history", keep=list(keep))

    def finish(self, version: str, status: str, stages: dict[str, float], now: float) -> None:
        self.store.write("refresh/finish_refresh", version=version, status=status, now=now,
                         stages=list(stages), seconds=[round(v, 3) for v in stages.values()])

    def set_watermark(self, ts: float) -> None:
        self.store.write("refresh/set_watermark", ts=ts)
