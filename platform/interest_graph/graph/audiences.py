"""Reads and writes of audiences: leaf selections, versioned memberships, exports and outcomes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .driver import GraphStore, Row
from .refresh import WRITE_CHUNK, _chunks


@dataclass(frozen=True)
class AudienceRecord:
    """An audience node as stored (definition fields are JSON text)."""

    id: str
    name: str
    rule: str
    arms: str
    target: str
    experiment_key: str
    status: str
    created_at: float
    started_at: float | None
    evaluated_at: float | None
    size: int
    arm_sizes: tuple[int, ...]
    version: str | None
    start_version: str | None
    refresh_version: str | None
    history: tuple[tuple[str, int, float], ...]  # (version, size, evaluated at), oldest first


@dataclass(frozen=True)
class ExportRow:
    """One current member: graph id, arm, and top interests as (item, reason), best first."""

    user: str
    arm: str
    interests: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CohortRow:
    """One member of an experiment's starting cohort, with the baselines taken at the start."""

    user: str
    arm: str
    base_purchases: int
    base_revenue: float
    base_target: int
    served: tuple[str, ...]
    served_base: tuple[int, ...]


@dataclass(frozen=True)
class Activity:
    """A user's purchase activity now: events, net revenue, targeted purchases, listed items."""

    user: str
    purchases: int
    revenue: float
    target_purchases: int
    items: Mapping[str, int]


@dataclass(frozen=True)
class KnownNames:
    categories: frozenset[str]
    items: frozenset[str]
    segments: frozenset[str]
    labels: frozenset[str]


def _record(row: Row) -> AudienceRecord:
    versions = list(row["versions"] or ())
    sizes = list(row["sizes"] or ())
    evaluated = list(row["evaluated"] or ())
    return AudienceRecord(
        id=str(row["id"]), name=str(row["name"]), rule=str(row["rule"]), arms=str(row["arms"]),
        target=str(row["target"]), experiment_key=str(row["experiment_key"]),
        status=str(row["status"]), created_at=float(row["created_at"]),
        started_at=row["started_at"], evaluated_at=row["evaluated_at"],
        size=int(row["size"] or 0), arm_sizes=tuple(int(n) for n in row["arm_sizes"] or ()),
        version=row["version"], start_version=row["start_version"],
        refresh_version=row["refresh_version"],
        history=tuple((str(v), int(n), float(t)) for v, n, t in zip(versions, sizes, evaluated)),
    )


class AudienceRepository:
    """Everything audiences read from and write to the graph."""

    QUERIES = (
        "audiences/select_all_users", "audiences/select_by_number", "audiences/select_by_text",
        "audiences/select_by_category_interest", "audiences/select_by_item_interest",
        "audiences/select_by_recommended_category",
        "audiences/find_names", "audiences/read_category_items", "audiences/create_audience",
        "audiences/write_members", "audiences/activate_audience", "audiences/prune_members",
        "audiences/read_audiences", "audiences/delete_audience", "audiences/read_members",
        "audiences/read_cohort", "audiences/read_activity", "audiences/read_model_recommendations",
        "audiences/read_popular_items",
    )

    def __init__(self, store: GraphStore, page_size: int = 20000) -> None:
        store.catalog.require(*self.QUERIES)
        self.store = store
        self.page_size = page_size

    def _pages(self, query: str, key: str, page_size: int, **params: Any) -> Iterator[list[Row]]:
        """Non-empty pages of a query ordered by ``key`` and read with ``after``/``limit``."""
        after = ""
        while True:
            rows = self.store.read(query, **params, after=after, limit=page_size)
            if rows:
                yield rows
            if len(rows) < page_size:
                return
            after = str(rows[-1][key])

    # -- evaluation ----------------------------------------------------------------------

    def select(self, query: str, params: Mapping[str, Any]) -> frozenset[str]:
        """The user ids a leaf query selects, read a page at a time."""
        if not query.startswith("audiences/select_"):
            raise ValueError(f"{query!r} is not an audience selection query")
        found: set[str] = set()
        for rows in self._pages(query, "id", self.page_size, **params):
            found.update(str(r["id"]) for r in rows)
        return frozenset(found)

    def everyone(self) -> frozenset[str]:
        return self.select("audiences/select_all_users", {})

    def known_names(self, categories: Sequence[str], items: Sequence[str],
                    segments: Sequence[str], labels: Sequence[str]) -> KnownNames:
        row = self.store.read("audiences/find_names", categories=list(categories),
                              items=list(items), segments=list(segments), labels=list(labels))[0]
        return KnownNames(*(frozenset(str(v) for v in row[k] or () if v is not None)
                            for k in ("categories", "items", "segments", "labels")))

    def category_items(self, categories: Sequence[str]) -> list[str]:
        if not categories:
            return []
        rows = self.store.read("audiences/read_category_items", categories=list(categories))
        return [str(r["item"]) for r in rows]

    # -- audiences -----------------------------------------------------------------------

    def create(self, id: str, name: str, rule: str, arms: str, target: str, experiment_key: str,
               now: float) -> None:
        self.store.write("audiences/create_audience", id=id, audience_name=name, rule=rule, arms=arms,
                         target=target, experiment_key=experiment_key, now=now)

    def all(self) -> list[AudienceRecord]:
        return [_record(r) for r in self.store.read("audiences/read_audiences", id=None)]

    def get(self, audience: str) -> AudienceRecord | None:
        rows = self.store.read("audiences/read_audiences", id=audience)
        return _record(rows[0]) if rows else None

    def delete(self, audience: str) -> int | None:
        """Delete the audience and its memberships; the number of edges removed, None if unknown."""
        rows = self.store.write("audiences/delete_audience", audience=audience)
        return int(rows[0]["memberships"]) if rows else None

    def write_members(self, audience: str, version: str, rows: Sequence[dict[str, Any]],
                      now: float) -> None:
        for chunk in _chunks(list(rows), WRITE_CHUNK):
            self.store.write("audiences/write_members", audience=audience, version=version,
                             rows=list(chunk), now=now)

    def activate(self, audience: str, version: str, refresh: str | None, size: int,
                 arm_sizes: Sequence[int], history: Sequence[tuple[str, int, float]],
                 now: float) -> None:
        self.store.write("audiences/activate_audience", audience=audience, version=version,
                         refresh=refresh, size=size, arm_sizes=list(arm_sizes),
                         versions=[h[0] for h in history], sizes=[h[1] for h in history],
                         evaluated=[h[2] for h in history], now=now)

    def prune(self, audience: str, keep: Sequence[str], limit: int = 20000) -> int:
        total = 0
        while True:
            rows = self.store.write("audiences/prune_members", audience=audience, keep=list(keep),
                                    limit=limit)
            deleted = int(rows[0]["deleted"]) if rows else 0
            total += deleted
            if deleted < limit:
                return total

    # -- members, cohort, activity -------------------------------------------------------

    def members(self, audience: str, page_size: int, top: int) -> Iterator[list[ExportRow]]:
        """Pages of current members in id order, each with up to ``top`` interests."""
        for rows in self._pages("audiences/read_members", "user", page_size, audience=audience,
                                top=top):
            yield [ExportRow(str(r["user"]), str(r["arm"]),
                             tuple(zip(map(str, r["items"] or ()), map(str, r["reasons"] or ()))))
                   for r in rows]

    def cohort(self, audience: str, page_size: int = 2000) -> Iterator[list[CohortRow]]:
        """Pages of the experiment's starting cohort, in id order."""
        for rows in self._pages("audiences/read_cohort", "user", page_size, audience=audience):
            yield [CohortRow(str(r["user"]), str(r["arm"]), int(r["base_purchases"] or 0),
                             float(r["base_revenue"] or 0.0), int(r["base_target"] or 0),
                             tuple(r["served"] or ()), tuple(int(n) for n in r["served_base"] or ()))
                   for r in rows]

    def activity(self, users: Sequence[str], targets: Sequence[str],
                 items: Sequence[str] = ()) -> dict[str, Activity]:
        if not users:
            return {}
        rows = self.store.read("audiences/read_activity", users=list(users), targets=list(targets),
                               items=list(items))
        return {str(r["user"]): Activity(
            str(r["user"]), int(r["purchases"] or 0), float(r["revenue"] or 0.0),
            int(r["target_purchases"] or 0),
            {str(p[0]): int(p[1] or 0) for p in r["items"] or () if p is not None})
            for r in rows}

    def model_recommendations(self, users: Sequence[str], k: int) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.store.read("audiences/read_model_recommendations", users=list(users), k=k):
            out.setdefault(str(r["user"]), []).append(str(r["item"]))
        return out

    def popular_items(self, limit: int) -> list[str]:
        return [str(r["item"]) for r in self.store.read("audiences/read_popular_items", limit=limit)]
