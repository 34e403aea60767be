"""Where stream consumers stand: per consumer group and topic, counts and per-partition lag."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .driver import GraphStore


@dataclass(frozen=True)
class PartitionProgress:
    """One partition as its consumer last saw it: next offset to read, high watermark, lag."""

    partition: int
    offset: int
    high: int
    lag: int


@dataclass(frozen=True)
class StreamProgress:
    """A consumer group's totals on one topic."""

    group: str
    topic: str
    format: str
    applied: int
    duplicates: int
    rejected: int
    ignored: int
    batches: int
    updated_at: float | None
    partitions: tuple[PartitionProgress, ...] = field(default_factory=tuple)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "topic": self.topic, "format": self.format,
                "applied": self.applied, "duplicates": self.duplicates, "rejected": self.rejected,
                "ignored": self.ignored, "batches": self.batches, "lag": self.lag,
                "updated_at": self.updated_at,
                "partitions": [p.__dict__ for p in self.partitions]}


def _key(group: str, topic: str) -> str:
    return f"{group}\x1f{topic}"


class StreamRepository:
    """Records and reads stream consumers' progress (monitoring only: exactly-once lives in the
    event markers of each batch's write)."""

    QUERIES = ("streams/record_progress", "streams/read_progress")

    def __init__(self, store: GraphStore) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store

    def record(self, group: str, topic: str, fmt: str, *, applied: int, duplicates: int,
               rejected: int, ignored: int, partitions: Sequence[PartitionProgress]) -> None:
        key = _key(group, topic)
        rows = [{"id": f"{key}\x1f{p.partition}", "partition": p.partition, "offset": p.offset,
                 "high": p.high, "lag": p.lag} for p in partitions]
        self.store.write("streams/record_progress", id=key, group=group, topic=topic, format=fmt,
                         now=time.time(), applied=applied, duplicates=duplicates,
                         rejected=rejected, ignored=ignored, partitions=rows)

    def read(self) -> list[StreamProgress]:
        out = []
        for row in self.store.read("streams/read_progress"):
            parts = tuple(PartitionProgress(int(p["partition"]), int(p["offset"]), int(p["high"]),
                                            int(p["lag"]))
                          for p in row["partitions"] or [] if p)
            out.append(StreamProgress(
                str(row["consumer_group"]), str(row["topic"]), str(row["format"] or ""),
                int(row["applied"] or 0), int(row["duplicates"] or 0), int(row["rejected"] or 0),
                int(row["ignored"] or 0), int(row["batches"] or 0),
                float(row["updated_at"]) if row["updated_at"] is not None else None, parts))
        return out
