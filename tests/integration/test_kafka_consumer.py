"""``interestgraph consume`` against a real Kafka 4 (the session's) and each graph backend.

The consumer runs as the real command in its own process. Exactly-once is checked the hard way:
the consumer is SIGKILLed mid-stream and restarted, and the graph must hold exactly the counts the
produced events imply (computed here from the events themselves, not from another load).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interest_graph.graph import GraphStore
from interest_graph.graph.ingest import IngestRepository
from interest_graph.graph.streams import StreamRepository

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

confluent_kafka = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

BASE_TS = 1_700_000_000.0


def make_events(n: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` generic events over 60 users and 40 items (views, carts, purchases, returns)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choices(["view", "cart", "purchase", "return"], [5, 2, 2, 0.3])[0]
        event: dict[str, Any] = {
            "event_id": f"{prefix}-{i}", "user_id": f"{prefix}-u{rng.randrange(60)}",
            "item_id": f"{prefix}-i{rng.randrange(40)}", "type": kind,
            "timestamp": BASE_TS + i * 7.0}
        if kind in ("purchase", "return"):
            event.update(quantity=rng.randint(1, 3), price=round(rng.uniform(1, 20), 2))
        out.append(event)
    return out


def expected_counts(events: list[dict[str, Any]]) -> tuple[int, int, int, float]:
    """(events, edges, edge events, revenue) of one clean pass over ``events``."""
    pairs = {(e["user_id"], e["item_id"]) for e in events}
    revenue = sum(e["quantity"] * e["price"] * (1 if e["type"] == "purchase" else -1)
                  for e in events if e["type"] in ("purchase", "return"))
    return len(events), len(pairs), len(events), revenue


def create_topic(bootstrap: str, partitions: int) -> str:
    name = f"test-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions,
                                                replication_factor=1)]).values():
        future.result(30)
    return name


def produce(bootstrap: str, topic: str, values: list[bytes], partitions: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, value in enumerate(values):
        producer.produce(topic, value=value, partition=i % partitions)
    assert producer.flush(30) == 0


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30.0) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expect and time.monotonic() < deadline:
            out.extend(m for m in consumer.consume(100, timeout=0.5) if m.error() is None)
    finally:
        consumer.close()
    return out


def wait_for_members(bootstrap: str, group: str, procs: list[subprocess.Popen[str]],
                     timeout: float = 60.0) -> None:
    """Until ``group`` has a member holding partitions for each of ``procs``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    members = len(procs)
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a consumer exited: {proc.communicate()[1][-3000:]}")
        description = admin.describe_consumer_groups([group])[group].result(10)
        if len(description.members) == members and all(
                m.assignment.topic_partitions for m in description.members):
            return
        time.sleep(0.2)
    raise AssertionError(f"group {group} never had {members} members with partitions")


def consume_cmd(bootstrap: str, topic: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "interest_graph.cli", "consume", "--bootstrap", bootstrap,
            "--topic", topic, "--json", *extra]


def run_consumer(env: dict[str, str], bootstrap: str, topic: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(consume_cmd(bootstrap, topic, "--until-idle", "2", *extra), env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def kafka(kafka_bootstrap: str) -> Iterator[str]:
    yield kafka_bootstrap


def test_a_consumer_killed_mid_stream_ends_with_the_counts_of_one_clean_pass(
        kafka: str, store: GraphStore, backend_env: dict[str, str], tmp_path: Path) -> None:
    events = make_events(3000, seed=1, prefix="k")
    bad = {500: b"{not json", 1700: json.dumps({**events[0], "event_id": "bad-1",
                                               "quantity": -2}).encode(),
           2600: b"\xff\xfe"}
    values = [json.dumps(e).encode() for e in events]
    for position, value in sorted(bad.items()):
        values.insert(position, value)
    topic = create_topic(kafka, partitions=2)
    produce(kafka, topic, values, partitions=2)
    repo = IngestRepository(store)
    kills = 0
    me = ("--batch-size", "100", "--instance-id", "c1")  # restarts resume the partitions at once
    for threshold in (300, 1200, 2200):
        with (tmp_path / "consumer.log").open("ab") as log:
            proc = subprocess.Popen(consume_cmd(kafka, topic, *me), env=backend_env,
                                    stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 120
        while repo.counts().events < threshold and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "consumer.log").read_text()[-3000:]
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no chance to finish the batch or commit
        proc.wait()
        kills += 1
    assert kills == 3 and repo.counts().events < len(events)
    summary = run_consumer(backend_env, kafka, topic, *me)
    assert summary["events_applied"] > 0
    counts = repo.counts()
    n, edges, edge_events, revenue = expected_counts(events)
    assert (counts.events, counts.edges, counts.edge_events) == (n, edges, edge_events)
    assert counts.revenue == pytest.approx(revenue)
    # Every bad message is in the dead-letter topic (at least once: a kill may repeat one), with
    # its field, reason and original bytes.
    letters = read_topic(kafka, f"{topic}.rejected", expect=3)
    found = {json.loads(m.value())["field"] for m in letters}
    assert found == {"value", "quantity"}
    payloads = {json.loads(m.value())["payload"] for m in letters}
    assert "{not json" in payloads and "fffe" in payloads
    # Restarted after the end, it has nothing left to do.
    again = run_consumer(backend_env, kafka, topic, *me)
    assert (again["events_applied"], again["messages"]) == (0, 0)
    progress = {(s.group, s.topic): s for s in StreamRepository(store).read()}
    stream = progress[("interestgraph", topic)]
    assert stream.lag == 0 and sorted(p.partition for p in stream.partitions) == [0, 1]
    # The counters are monitoring: a kill between a batch's write and its counters loses those
    # (the re-read counts them as duplicates); the graph above is exact.
    assert stream.applied <= n <= stream.applied + stream.duplicates and stream.rejected >= 3


@pytest.mark.parametrize("backend", ["falkordb"], indirect=True)
def test_two_consumers_of_a_group_share_the_partitions_and_segment_messages_map(
        kafka: str, store: GraphStore, backend_env: dict[str, str]) -> None:
    events = make_events(2000, seed=2, prefix="g")
    topic = create_topic(kafka, partitions=4)
    group = f"pair-{uuid.uuid4().hex[:6]}"
    procs = [subprocess.Popen(consume_cmd(kafka, topic, "--group", group, "--batch-size", "50",
                                          "--until-idle", "6"),
                              env=backend_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    wait_for_members(kafka, group, procs)  # both share the partitions before the events come
    produce(kafka, topic, [json.dumps(e).encode() for e in events], partitions=4)
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    assert all(s["events_applied"] > 0 for s in summaries), summaries
    assert sum(s["events_applied"] for s in summaries) == len(events)
    counts = IngestRepository(store).counts()
    assert (counts.events, counts.edges) == expected_counts(events)[:2]

    # The Segment format through Kafka: a batch per message, ignored calls counted.
    segment = create_topic(kafka, partitions=1)
    ts = "2026-11-30T10:00:00Z"
    produce(kafka, segment, [json.dumps({"batch": [
        {"type": "track", "event": "Product Viewed", "messageId": "sv-1", "userId": "seg-u",
         "timestamp": ts, "properties": {"product_id": "seg-p", "name": "Seg mug"}},
        {"type": "track", "event": "Order Completed", "messageId": "so-1", "userId": "seg-u",
         "timestamp": ts, "properties": {"products": [{"product_id": "seg-p", "quantity": 1,
                                                      "price": 4.0}]}},
        {"type": "page", "userId": "seg-u"}]}).encode(),
        json.dumps({"type": "track", "event": "Order Completed", "messageId": "so-2",
                    "userId": "seg-u", "timestamp": ts, "properties": {}}).encode()],
        partitions=1)
    summary = run_consumer(backend_env, kafka, segment, "--format", "segment")
    assert (summary["events_applied"], summary["rejected"], summary["ignored"]) == (2, 1, {"page": 1})
    letter = json.loads(read_topic(kafka, f"{segment}.rejected", expect=1)[0].value())
    assert letter["field"] == "properties.products"
    stats = subprocess.run([sys.executable, "-m", "interest_graph.cli", "stats", "--json"],
                           env=backend_env, capture_output=True, text=True, timeout=60, check=True)
    streams = {s["topic"]: s for s in json.loads(stats.stdout)["streams"]}
    assert streams[segment]["applied"] == 2 and streams[segment]["ignored"] == 1
    assert streams[topic]["group"] == group and streams[topic]["lag"] == 0
    assert len(streams[topic]["partitions"]) == 4, streams[topic]
