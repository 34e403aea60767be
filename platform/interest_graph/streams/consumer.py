"""A Kafka consumer that applies behaviour to the graph exactly once.

Each poll returns up to ``batch_size`` messages. Their records go through the loader's
validation and the ingestor's atomic, keyed write (:class:`~interest_graph.ingest.ingestor.
Ingestor`); malformed messages go to the dead-letter topic (``<topic>.rejected``) with the reason
and the original bytes; only then are the batch's offsets committed. A consumer killed at any
point therefore re-reads at most the batch it was applying, and the event markers make the
re-read harmless: the graph ends with the counts of one clean pass. A dead letter may be written
twice after such a crash; its key (``topic/partition/offset``) tells the copies apart.

Several consumers started with the same group share the topic's partitions (Kafka's group
protocol); each batch is committed by the consumer that applied it, before its next poll, so a
rebalance never hands on a partition with applied but uncommitted work other than the batch in
hand, which the new owner re-applies as duplicates.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import GraphUnavailable
from ..graph.driver import GraphStore
from ..graph.ingest import IngestRepository
from ..graph.streams import PartitionProgress, StreamRepository
from ..ingest.ingestor import Ingestor, IngestSummary
from ..ingest.records import Event, ItemRecord
from .decode import decode

log = logging.getLogger(__name__)

DEFAULT_BATCH = 5000
POLL_S = 0.5
FLUSH_TIMEOUT_S = 30.0
RETRY_MAX_S = 30.0


class StreamError(RuntimeError):
    """The consumer cannot go on (the broker refused us, a dead letter could not be written)."""


@dataclass
class ConsumeSummary:
    """What a consumer did before it stopped."""

    messages: int = 0
    events_read: int = 0
    events_applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    elapsed_s: float = 0.0
    #: Seconds from the first message received to the last batch committed (throughput's clock:
    #: without start-up, the wait for an assignment and the idle tail of ``--until-idle``).
    busy_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "events_read": self.events_read,
                "events_applied": self.events_applied, "duplicates": self.duplicates,
                "rejected": self.rejected, "ignored": dict(self.ignored), "batches": self.batches,
                "elapsed_s": round(self.elapsed_s, 3), "busy_s": round(self.busy_s, 3),
                "events_per_s": round(self.events_read / self.busy_s, 1) if self.busy_s else 0.0}


@dataclass
class _Batch:
    """One poll's messages, decoded and planned, waiting for the writer."""

    messages: int
    offsets: dict[int, int] = field(default_factory=dict)
    tasks: list[tuple[str, Any]] = field(default_factory=list)
    planned: IngestSummary = field(default_factory=IngestSummary)
    rejected: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    partitions: list[PartitionProgress] = field(default_factory=list)


def dead_letter(message: Any, field_name: str, reason: str) -> tuple[bytes, bytes]:
    """The key and JSON value of a rejected message's dead letter."""
    where = f"{message.topic()}/{message.partition()}/{message.offset()}"
    raw = message.value()
    try:
        original: Any = raw.decode("utf-8") if raw is not None else None
        encoding = "utf-8"
    except UnicodeDecodeError:
        original, encoding = raw.hex(), "hex"
    body = {"topic": message.topic(), "partition": message.partition(),
            "offset": message.offset(), "field": field_name, "reason": reason,
            "payload": original, "payload_encoding": encoding, "rejected_at": time.time()}
    return where.encode(), json.dumps(body, ensure_ascii=False).encode("utf-8")


class StreamConsumer:
    """Reads one topic in a consumer group and applies it to the graph (see the module doc)."""

    def __init__(
        self,
        store: GraphStore,
        ingestor_for: Callable[[IngestRepository], Ingestor],
        *,
        bootstrap: str,
        topic: str,
        group: str,
        fmt: str = "generic",
        items: bool = True,
        batch_size: int = DEFAULT_BATCH,
        dead_letters: str | None = None,
        instance_id: str | None = None,
        session_timeout_s: float = 10.0,
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        from confluent_kafka import Consumer, Producer

        self.store = store
        self.repo = IngestRepository(store)
        self.progress = StreamRepository(store)
        self.ingestor = ingestor_for(self.repo)
        self.topic, self.group, self.fmt, self.items = topic, group, fmt, items
        self.batch_size = batch_size
        self.dead_letters = dead_letters or f"{topic}.rejected"
        extra = dict(client_config or {})
        if instance_id:
            # Static membership: a restarted consumer with the same id gets its partitions back at
            # once, instead of waiting for the group to expire the killed one.
            extra["group.instance.id"] = instance_id
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": int(session_timeout_s * 1000),
            "heartbeat.interval.ms": max(500, int(session_timeout_s * 1000 / 4)),
            "error_cb": self._client_error, **extra,
        })
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "linger.ms": 5, "error_cb": self._client_error})
        self._fatal: list[str] = []

    def _client_error(self, error: Any) -> None:
        if error.fatal():
            self._fatal.append(str(error))
        log.warning("kafka: %s", error)

    # -- one batch ---------------------------------------------------------------------------

    def _prepare(self, messages: list[Any]) -> _Batch:
        """Decode and validate a poll's messages and plan its writes (no graph access)."""
        records: list[Event | ItemRecord] = []
        batch = _Batch(len(messages))
        for message in messages:
            batch.offsets[message.partition()] = message.offset() + 1
            try:
                decoded = decode(message.value(), self.fmt, items=self.items)
            except ValueError as exc:
                name, reason = (exc.args + ("", ""))[:2]
                key, value = dead_letter(message, str(name), str(reason))
                self.producer.produce(self.dead_letters, value=value, key=key)
                batch.rejected += 1
                continue
            records.extend(decoded.records)
            batch.ignored.update(decoded.ignored)
        batch.tasks = list(self.ingestor.plan(records, batch.planned))
        batch.partitions = self.lag(batch.offsets)
        return batch

    def _write(self, batch: _Batch, summary: ConsumeSummary) -> None:
        """Apply a prepared batch and record the counters (writer thread: no Kafka consumer
        call; the polling thread commits the offsets once this returned)."""
        written = IngestSummary()
        for task in batch.tasks:
            self.ingestor.apply(task, written)
        duplicates = batch.planned.duplicates + written.duplicates
        # The counters next, so that a kill between the two loses as little as can be: the batch
        # is re-read as duplicates, while its events stay counted once in the graph either way.
        self.progress.record(self.group, self.topic, self.fmt, applied=written.events_applied,
                             duplicates=duplicates, rejected=batch.rejected,
                             ignored=sum(batch.ignored.values()),
                             partitions=batch.partitions)
        if batch.rejected and self.producer.flush(FLUSH_TIMEOUT_S) > 0:
            raise StreamError(f"could not write dead letters to {self.dead_letters!r} within "
                              f"{FLUSH_TIMEOUT_S:.0f}s; offsets not committed")
        summary.messages += batch.messages
        summary.events_read += batch.planned.events_read
        summary.events_applied += written.events_applied
        summary.duplicates += duplicates
        summary.rejected += batch.rejected
        summary.ignored.update(batch.ignored)
        summary.batches += 1

    def _commit(self, offsets: Mapping[int, int]) -> None:
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        try:
            self.consumer.commit(offsets=[TopicPartition(self.topic, p, o)
                                          for p, o in offsets.items()], asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() not in (KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                                    KafkaError.UNKNOWN_MEMBER_ID) and not error.retriable():
                raise StreamError(f"could not commit offsets: {error}") from None
            # The partitions moved to another consumer of the group, which re-reads this batch:
            # its events are already applied, so they count as duplicates there.
            log.warning("offsets not committed (%s); the new owner re-reads the batch", error)

    def lag(self, offsets: Mapping[int, int]) -> list[PartitionProgress]:
        """Where the given partitions stand after committing ``offsets`` (next offsets)."""
        from confluent_kafka import TopicPartition

        out = []
        for partition, offset in sorted(offsets.items()):
            # The high watermark the last fetch brought (no round trip).
            _low, high = self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), cached=True)
            high = max(high, offset)
            out.append(PartitionProgress(partition, offset, high, max(0, high - offset)))
        return out

    def _write_retrying(self, batch: _Batch, summary: ConsumeSummary,
                        stop: threading.Event) -> None:
        """Write a batch, waiting out an unavailable graph store (the batch stays uncommitted, and
        its writes are keyed, so retrying it is safe)."""
        delay = 1.0
        while True:
            try:
                self._write(batch, summary)
                return
            except GraphUnavailable as exc:
                if stop.is_set():
                    raise
                log.warning("graph store unavailable (%s); retrying the batch in %.0fs", exc, delay)
                stop.wait(delay)
                delay = min(RETRY_MAX_S, delay * 2)

    # -- the loop ------------------------------------------------------------------------------

    def run(self, *, stop: threading.Event | None = None, idle_exit_s: float | None = None,
            on_batch: Callable[[ConsumeSummary], None] | None = None) -> ConsumeSummary:
        """Consume until ``stop`` is set or, with ``idle_exit_s``, no message came for that long
        once the topic was assigned.

        Two stages, as in the loader: this thread polls, decodes and plans a batch while a writer
        thread applies the one before (at most one waits between them); this thread commits each
        batch's offsets once the writer applied it (every Kafka consumer call stays on this
        thread). A rebalance waits for the writer and commits, so a partition moves on with every
        applied batch committed."""
        stop = stop or threading.Event()
        summary = ConsumeSummary()
        started = time.perf_counter()
        last_message = time.monotonic()
        first: list[float] = []
        assigned = threading.Event()
        work: queue.Queue[_Batch | None] = queue.Queue(maxsize=1)
        written: queue.Queue[dict[int, int]] = queue.Queue()  # offsets to commit
        failure: list[BaseException] = []

        def commit_written() -> None:
            offsets: dict[int, int] = {}
            while True:
                try:
                    offsets.update(written.get_nowait())
                except queue.Empty:
                    break
            if offsets:
                self._commit(offsets)

        def writer() -> None:
            while (batch := work.get()) is not None:
                try:
                    if not failure:
                        self._write_retrying(batch, summary, stop)
                        written.put(batch.offsets)
                        summary.busy_s = time.perf_counter() - first[0]
                        if on_batch is not None:
                            on_batch(summary)
                except BaseException as exc:  # noqa: BLE001 - re-raised by the polling thread
                    failure.append(exc)
                finally:
                    work.task_done()
            work.task_done()

        def on_assign(_consumer: Any, _partitions: Any) -> None:
            nonlocal last_message
            last_message = time.monotonic()  # the idle clock starts again with each assignment
            assigned.set()

        def on_revoke(_consumer: Any, _partitions: Any) -> None:
            work.join()  # commit what was applied before the partitions move on
            commit_written()

        thread = threading.Thread(target=writer, name="stream-writer", daemon=True)
        thread.start()
        self.consumer.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke,
                                on_lost=on_revoke)
        try:
            while not stop.is_set():
                if failure:
                    raise failure[0]
                if self._fatal:
                    raise StreamError(f"the Kafka client failed: {self._fatal[0]}")
                commit_written()
                messages = self.consumer.consume(num_messages=self.batch_size, timeout=POLL_S)
                good = []
                for message in messages:
                    error = message.error()
                    if error is None:
                        good.append(message)
                    elif error.fatal():
                        raise StreamError(f"the Kafka client failed: {error}")
                    else:
                        log.warning("kafka: %s", error)
                if good:
                    if not first:
                        first.append(time.perf_counter())
                    work.put(self._prepare(good))
                    last_message = time.monotonic()
                elif (idle_exit_s is not None and assigned.is_set() and work.unfinished_tasks == 0
                      and written.empty() and time.monotonic() - last_message > idle_exit_s):
                    break
        finally:
            work.put(None)
            thread.join()
            if not failure:
                commit_written()
            summary.elapsed_s = time.perf_counter() - started
            self.producer.flush(FLUSH_TIMEOUT_S)
            self.consumer.close()  # leaves the group now, so partitions move on at once
        if failure:
            raise failure[0]
        return summary
