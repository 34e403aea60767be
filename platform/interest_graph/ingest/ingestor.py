"""Batched, exactly-once ingestion of events and items into the graph.

The reading thread validates, pseudonymises and batches; a writer thread applies each batch in one
atomic guarded query (see ``cypher/ingest/apply_events.cypher``), so reading the next batch overlaps
the database's work. An event counts once: its keyed-hash id is stored with the batch that applied
it, in the same atomic write. A load killed at any point and run again therefore finishes the job
without double counting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..graph.driver import Prepared
from ..graph.ingest import IngestRepository
from ..privacy import Pseudonymiser, text_hash
from ..recipe import USER_TEXT_TYPES, EdgeRecipe, user_text
from .fixed_split import HeldOut
from .records import EVENT_TYPES, Event, ItemRecord, RecordError

log = logging.getLogger(__name__)

MAX_ERRORS_KEPT = 1000
_CLASH_RETRIES = 5


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event ready for the graph: hashed id, pseudonymised user."""

    hid: str
    user: str
    item: str | None
    type: str
    ts: float
    quantity: float
    price: float | None
    rating: float | None
    text: str | None


@dataclass
class IngestSummary:
    """What a load or an API batch did."""

    events_read: int = 0
    events_applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    items_upserted: int = 0
    batches: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[RecordError] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add_error(self, error: RecordError) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events_read": self.events_read,
            "events_applied": self.events_applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "items_upserted": self.items_upserted,
            "skipped": dict(self.skipped),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def aggregate_batch(events: Sequence[PreparedEvent], recipe: EdgeRecipe) -> list[dict[str, Any]]:
    """Fold a batch of new events into per-user rows, each with its per-item edge deltas
    (``pairs``).

    A user row carries the distinct purchase days (epoch day numbers) and net revenue of the batch:
    the customer-value model needs purchase occasions, which the per-pair edges do not keep.

    The pair weight is the recipe's fold (:meth:`~interest_graph.recipe.EdgeRecipe.fold`) as of the
    pair's newest event in the batch, the form ``apply_events`` merges into the stored edge. A
    pair's ``counts`` lists its events per type in :data:`EVENT_TYPES` order; keys whose value is
    None are left out (Cypher reads a missing key as null).
    """
    users: dict[str, dict[str, Any]] = {}
    user_texts: dict[str, list[tuple[float, str]]] = {}
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for ev in events:
        u = users.get(ev.user)
        if u is None:
            u = users[ev.user] = {"id": ev.user, "first_ts": ev.ts, "last_ts": ev.ts, "events": 0,
                                  "text": None, "days": set(), "revenue": 0.0}
        u["events"] += 1
        if ev.type == "purchase":
            u["days"].add(int(ev.ts // 86400))
            u["revenue"] += ev.quantity * (ev.price or 0.0)
        elif ev.type == "return":
            u["revenue"] -= ev.quantity * (ev.price or 0.0)
        u["first_ts"] = min(u["first_ts"], ev.ts)
        u["last_ts"] = max(u["last_ts"], ev.ts)
        if ev.text and ev.type in USER_TEXT_TYPES:
            user_texts.setdefault(ev.user, []).append((ev.ts, ev.text))
        if ev.item is None:
            continue
        key = (ev.user, ev.item)
        p = pairs.get(key)
        if p is None:
            p = pairs[key] = {
                "user": ev.user, "item": ev.item, "first_ts": ev.ts, "last_ts": ev.ts,
                "weight": 0.0, "quantity": 0.0, "revenue": 0.0, "rating": None,
                "rating_ts": None, "review": None, "_review_ts": None,
                **{f"n_{t}": 0 for t in EVENT_TYPES},
            }
        p["weight"], p["last_ts"] = recipe.fold(
            p["weight"], p["last_ts"], recipe.event_weight(ev.type, ev.quantity, ev.rating), ev.ts)
        p["first_ts"] = min(p["first_ts"], ev.ts)
        p[f"n_{ev.type}"] += 1
        amount = ev.quantity * (ev.price or 0.0)
        if ev.type == "purchase":
            p["quantity"] += ev.quantity
            p["revenue"] += amount
        elif ev.type == "return":
            p["quantity"] -= ev.quantity
            p["revenue"] -= amount
        if ev.rating is not None and (p["rating_ts"] is None or ev.ts >= p["rating_ts"]):
            p["rating"], p["rating_ts"] = ev.rating, ev.ts
        if ev.type == "review" and ev.text and (p["_review_ts"] is None or ev.ts >= p["_review_ts"]):
            p["review"], p["_review_ts"] = ev.text, ev.ts
    for user_id, texts in user_texts.items():
        users[user_id]["text"] = user_text(texts)
    for u in users.values():
        u["days"] = sorted(u["days"])
        u["pairs"] = []
        if u["text"] is None:
            del u["text"]
    for p in pairs.values():
        row = {k: v for k, v in p.items()
               if v is not None and k != "user" and not k.startswith(("n_", "_"))}
        # Counts travel as one list in EVENT_TYPES order: a quarter of the bytes of named keys.
        row["counts"] = [p[f"n_{t}"] for t in EVENT_TYPES]
        users[p["user"]]["pairs"].append(row)
    return list(users.values())


def prepare_event(pseudonymiser: Pseudonymiser, event: Event) -> PreparedEvent:
    """``event`` with its id hashed and its user pseudonymised, as the graph keeps them."""
    return PreparedEvent(
        pseudonymiser.event(event.event_id), pseudonymiser.user(event.user_id), event.item_id,
        event.type, event.ts, event.quantity, event.price, event.rating, event.text,
    )


@dataclass
class _EncodedBatch:
    unique: dict[str, PreparedEvent]
    ids: list[str]
    users: list[dict[str, Any]]
    query: Prepared


def item_row(item: ItemRecord) -> dict[str, Any]:
    return {
        "id": item.item_id, "title": item.title, "description": item.description,
        "price": item.price, "text_hash": text_hash(item.text), "categories": list(item.categories),
    }


class Ingestor:
    """Turns records into graph writes. One instance per load or per API request."""

    def __init__(
        self,
        repo: IngestRepository,
        pseudonymiser: Pseudonymiser,
        *,
        batch_size: int = 5000,
        recipe: EdgeRecipe,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.pseudonymiser = pseudonymiser
        self.batch_size = batch_size
        self.recipe = recipe
        self.clock = clock

    def prepare(self, event: Event) -> PreparedEvent:
        return prepare_event(self.pseudonymiser, event)

    # -- writing ---------------------------------------------------------------------------

    def _write_items(self, items: dict[str, ItemRecord], summary: IngestSummary) -> None:
        self.repo.upsert_items([item_row(i) for i in items.values()], self.clock())
        summary.items_upserted += len(items)

    def _encode_events(self, batch: list[PreparedEvent], summary: IngestSummary) -> _EncodedBatch:
        """De-duplicate, aggregate and encode a batch (reader thread: pure CPU)."""
        unique: dict[str, PreparedEvent] = {}
        for ev in batch:
            if ev.hid in unique:
                summary.duplicates += 1
            else:
                unique[ev.hid] = ev
        ids = list(unique)
        users = aggregate_batch(list(unique.values()), self.recipe)
        query = self.repo.prepare_events(ids, users, now=self.clock(),
                                         half_life=self.recipe.half_life_s)
        return _EncodedBatch(unique, ids, users, query)

    def _write_events(self, encoded: _EncodedBatch, summary: IngestSummary) -> None:
        """Apply an encoded batch (writer thread). Optimistic: the guard refuses the whole batch
        if any event is already applied, and only then do we ask which ones (replays, resumes)."""
        if self.repo.apply_prepared(encoded.query, encoded.ids, encoded.users):
            summary.events_applied += len(encoded.ids)
            summary.batches += 1
            return
        unique = encoded.unique
        for _ in range(_CLASH_RETRIES):
            known = self.repo.known_events(list(unique))
            fresh = [ev for hid, ev in unique.items() if hid not in known]
            if not fresh:
                summary.duplicates += len(unique)
                return
            users = aggregate_batch(fresh, self.recipe)
            if self.repo.apply_events([ev.hid for ev in fresh], users,
                                      now=self.clock(), half_life=self.recipe.half_life_s):
                summary.duplicates += len(unique) - len(fresh)
                summary.events_applied += len(fresh)
                summary.batches += 1
                return
            log.info("batch raced with another writer; re-checking which events are new")
        raise RuntimeError("could not apply a batch: it kept clashing with concurrent writers")

    # -- driving ---------------------------------------------------------------------------

    def plan(self, records: Iterable[Event | ItemRecord | RecordError | HeldOut],
             summary: IngestSummary) -> Iterator[tuple[str, Any]]:
        """The writes for ``records``, in order, prepared without touching the graph (pure CPU):
        ``("items", …)`` and ``("events", …)`` tasks for :meth:`apply`. Counts what it reads, and
        rejected records, into ``summary``."""
        items: dict[str, ItemRecord] = {}
        batch: list[PreparedEvent] = []
        for record in records:
            if isinstance(record, Event):
                summary.events_read += 1
                batch.append(self.prepare(record))
                if len(batch) >= self.batch_size:
                    if items:
                        yield "items", items
                        items = {}
                    yield "events", self._encode_events(batch, summary)
                    batch = []
            elif isinstance(record, ItemRecord):
                items[record.item_id] = record
                if len(items) >= self.batch_size:
                    yield "items", items
                    items = {}
            elif isinstance(record, RecordError):
                summary.add_error(record)
        if items:
            yield "items", items
        if batch:
            yield "events", self._encode_events(batch, summary)

    def apply(self, task: tuple[str, Any], summary: IngestSummary,
              progress: Callable[[int], None] | None = None) -> None:
        """Write one task of :meth:`plan` (each is one atomic write, exactly once)."""
        kind, payload = task
        if kind == "items":
            self._write_items(payload, summary)
        else:
            self._write_events(payload, summary)
            if progress is not None:
                progress(len(payload.unique))

    def run(
        self,
        records: Iterable[Event | ItemRecord | RecordError | HeldOut],
        *,
        progress: Callable[[int], None] | None = None,
        pipelined: bool = True,
    ) -> IngestSummary:
        """Ingest a stream of records; returns the summary (errors for rejected records).

        A fixed split's test events (:class:`~.fixed_split.HeldOut`) are never loaded: they are
        what an evaluation scores, not behaviour."""
        summary = IngestSummary()
        started = time.perf_counter()
        work: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def writer() -> None:
            while (task := work.get()) is not None:
                if failure:
                    continue  # drain: the reader stops at its next put
                try:
                    self.apply(task, summary, progress)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    failure.append(exc)

        thread = threading.Thread(target=writer, name="ingest-writer", daemon=True)
        if pipelined:
            thread.start()
        try:
            for task in self.plan(records, summary):
                if failure:
                    raise failure[0]
                if pipelined:
                    work.put(task)
                else:
                    self.apply(task, summary, progress)
        finally:
            if pipelined:
                work.put(None)
                thread.join()
        if failure:
            raise failure[0]
        summary.elapsed_s = time.perf_counter() - started
        return summary
