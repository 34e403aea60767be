"""Streams: Online Retail replayed into Kafka and consumed into the embedded store, in one run.

    python benchmarks/stream.py [--dataset online-retail] [--kills 10] [--latency-s 60]
    KAFKA_BOOTSTRAP=127.0.0.1:9092 python benchmarks/stream.py     # a Kafka of your own

Without ``KAFKA_BOOTSTRAP`` the benchmark starts the project's Kafka 4
(``tools/kafka-test-server``) in a temporary folder. Phases, each on a fresh graph in a throw-away
embedded server:

1. ``load``: ``interestgraph load``'s path (:func:`load_source`) on the dataset: the reference
   counts and ``load_eps``.
2. ``consume``: every item (in envelopes of 500) and event (one message each, generic format)
   produced to a 2-partition topic, then ``interestgraph consume --until-idle`` (its own
   process): ``consume_eps`` over its busy time (first message to last commit), and the graph
   must equal the load's (events, edges, edge events, revenue, weight).
3. ``chaos``: the same topic read by a new group while the consumer is SIGKILLed ``--kills``
   times, spread over the replay, then restarted to the end: ``lost_events`` and
   ``double_counted`` (extra edge events) against the reference, both must be 0.
4. ``latency``: one full refresh by a real worker (hashing encoder, few epochs: the pipeline's
   latency is measured, not the model), the scheduler (``interestgraph beat``) running
   incremental refreshes every ``--incremental-every`` seconds and a live consumer; a producer
   sends ``--rate`` events/s of background behaviour, and every 2 s a probe: a user buys their
   top recommendation. Latency is from the probe's produce to that item leaving the user's
   ``INTERESTED_IN`` (the recommendations). ``latency_p95_s``.

Last line, JSON: ``events``, ``load_eps``, ``consume_eps``, ``consume_vs_load``,
``consume_equal``, ``chaos_kills``, ``lost_events``, ``double_counted``, ``chaos_equal``,
``latency_p50_s``, ``latency_p95_s``, ``latency_probes``, ``rate_eps``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import harness
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from harness import CLI, Process

from interest_graph.graph import open_store
from interest_graph.graph.driver import GraphStore
from interest_graph.graph.ingest import GraphCounts, IngestRepository
from interest_graph.ingest.datasets import read_dataset
from interest_graph.ingest.loading import load_source
from interest_graph.ingest.records import Event
from interest_graph.privacy import Pseudonymiser
from interest_graph.server import EmbeddedServer
from interest_graph.settings import REPO_ROOT, Settings

KAFKA = REPO_ROOT / "tools" / "kafka-test-server" / "kafka-server"
PARTITIONS = 2


def start_kafka(state: Path) -> str:
    out = subprocess.run([str(KAFKA), "start", "--state", str(state), "--watch-pid", str(os.getpid())],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"starting Kafka failed:\n{out.stderr[-3000:]}")
    return next(line.split("=", 1)[1] for line in out.stdout.splitlines()
                if line.startswith("KAFKA_BOOTSTRAP="))


def event_json(e: Event) -> bytes:
    body = {"event_id": e.event_id, "user_id": e.user_id, "item_id": e.item_id, "type": e.type,
            "timestamp": e.ts, "quantity": e.quantity, "price": e.price, "rating": e.rating,
            "text": e.text}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def create_topic(bootstrap: str, partitions: int) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions,
                                                replication_factor=1)]).values():
        future.result(30)
    return name


def replay(bootstrap: str, topic: str, data: Any) -> float:
    """Items then events of ``data`` into ``topic``; seconds it took."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "batch.num.messages": 10000, "queue.buffering.max.messages": 1_000_000})
    started = time.perf_counter()
    items = [{"item_id": i.item_id, "title": i.title, "description": i.description,
              "price": i.price, "categories": list(i.categories)} for i in data.items.values()]
    for start in range(0, len(items), 500):
        producer.produce(topic, json.dumps({"items": items[start:start + 500]}).encode(), partition=0)
    for n, event in enumerate(data.events):
        # Keyed by user: one user's events stay in order on one partition, as shops key them.
        while True:
            try:
                producer.produce(topic, event_json(event), key=event.user_id.encode())
                break
            except BufferError:
                producer.poll(0.05)
        if n % 10000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return time.perf_counter() - started


def fresh(store: GraphStore) -> IngestRepository:
    store.clear()
    store.init_schema()
    return IngestRepository(store)


def consume(env: dict[str, str], bootstrap: str, topic: str, group: str,
            instance: str | None = None) -> dict[str, Any]:
    extra = ["--instance-id", instance] if instance else []
    done = subprocess.run([*CLI, "consume", "--bootstrap", bootstrap, "--topic", topic,
                           "--group", group, "--until-idle", "3", "--json", *extra], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"consume failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def equal(a: GraphCounts, b: GraphCounts) -> bool:
    return (a.users, a.items, a.edges, a.edge_events, a.events) == \
        (b.users, b.items, b.edges, b.edge_events, b.events) \
        and abs(a.revenue - b.revenue) < 1e-6 * max(1.0, abs(b.revenue)) \
        and abs(a.weight - b.weight) < 1e-6 * max(1.0, abs(b.weight))


def chaos(env: dict[str, str], bootstrap: str, topic: str, repo: IngestRepository, total: int,
          kills: int, log_dir: Path) -> int:
    """SIGKILL the consumer ``kills`` times, evenly over the replay; then consume to the end."""
    done = 0
    for k in range(kills):
        target = total * (k + 1) // (kills + 1)
        # A stable instance id (static membership): the restarted consumer takes the killed one's
        # partitions at once instead of waiting out its session.
        proc = Process(f"chaos-{k}", ["consume", "--bootstrap", bootstrap, "--topic", topic,
                                      "--group", "chaos", "--instance-id", "chaos"], env, log_dir)
        deadline = time.monotonic() + 300
        while repo.counts().events < target and time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"the consumer exited:\n{proc.tail()}")
            time.sleep(0.1)
        proc.kill()
        done += 1
    consume(env, bootstrap, topic, "chaos", instance="chaos")
    return done


def latency(settings: Settings, env: dict[str, str], bootstrap: str, store: GraphStore,
            raw_users: list[str], seconds: float, rate: float, log_dir: Path,
            applied: list[float]) -> list[float]:
    """Produce → the bought item left the user's recommendations, under ``rate`` events/s;
    ``applied`` gets each probe's produce → its event in the graph."""
    from refresh import wait

    from interest_graph.tasks import REFRESH_FULL, TaskClient

    pseudonym = Pseudonymiser(settings.resolved_secret())
    items = [r["item"] for r in store.read("api/popular_items", user="", k=100)]
    worker = harness.worker(env, log_dir, pool="solo")
    client = TaskClient(settings)
    processes = [worker]
    latencies: list[float] = []
    stop = threading.Event()
    try:
        result, full_s = wait(client, client.send(REFRESH_FULL))
        if result.get("error"):
            raise RuntimeError(f"the full refresh failed: {result['error']}\n{worker.tail()}")
        print(f"full refresh {full_s:.0f}s", file=sys.stderr)
        topic = create_topic(bootstrap, PARTITIONS)
        processes.append(Process("beat", ["beat"], env, log_dir))
        processes.append(Process("live-consumer", ["consume", "--bootstrap", bootstrap, "--topic",
                                                   topic, "--group", "live"], env, log_dir))
        # The shop's own clock, a second per event: a wall-clock time on a 2011 history would
        # decay every other edge away at the next full refresh.
        clock = [float(store.read("stats/latest_event")[0]["ts"])]
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 2})
        lock = threading.Lock()

        def send(user: str, item: str, kind: str) -> None:
            with lock:
                clock[0] += 1.0
                body = {"event_id": f"live-{uuid.uuid4().hex}", "user_id": user, "item_id": item,
                        "type": kind, "timestamp": clock[0], "quantity": 1, "price": 1.0}
                producer.produce(topic, json.dumps(body).encode(), key=user.encode())
                producer.poll(0)

        def background() -> None:
            rng = random.Random(1)
            next_at = time.perf_counter()
            while not stop.is_set():
                send(rng.choice(raw_users), rng.choice(items), "view")
                next_at += 1.0 / rate
                time.sleep(max(0.0, next_at - time.perf_counter()))

        thread = threading.Thread(target=background, daemon=True)
        thread.start()
        rng = random.Random(2)
        time.sleep(3)  # the consumer joins its group
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            user = rng.choice(raw_users)
            recs = store.read("users/get_recommendations", user=pseudonym.user(user), k=5)
            if not recs:
                continue
            item = recs[0]["item"]
            gid = pseudonym.user(user)
            events_before = store.read("api/get_user", user=gid)[0]["events"]
            started = time.perf_counter()
            send(user, item, "purchase")
            producer.flush(5)
            applied_s = None
            while time.perf_counter() - started < 60:
                if applied_s is None and store.read("api/get_user", user=gid)[0]["events"] > \
                        events_before:
                    applied_s = time.perf_counter() - started
                if item not in {r["item"] for r in store.read(
                        "users/get_recommendations", user=gid, k=50)}:
                    break
                time.sleep(0.02)
            latencies.append(time.perf_counter() - started)
            applied.append(applied_s if applied_s is not None else latencies[-1])
            time.sleep(max(0.0, 2.0 - (time.perf_counter() - started)))
        stop.set()
        thread.join()
        producer.flush(30)
    finally:
        stop.set()
        for proc in reversed(processes):
            proc.stop()
        client.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="online-retail")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--latency-s", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="background events/s")
    parser.add_argument("--incremental-every", type=float, default=1.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-only", action="store_true",
                        help="load, then only the latency phase")
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ig-stream-") as tmp:
        root = Path(tmp)
        log_dir = args.log_dir or root
        log_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or start_kafka(root / "kafka")
        settings = Settings.from_env(data_dir=root / "data", graph_uri=None, broker_url=None,
                                     result_backend=None, secret="benchmark-secret",
                                     encoder="hashing", train_epochs=5)
        env = harness.platform_env(settings, INTERESTGRAPH_INCREMENTAL_EVERY=str(args.incremental_every))
        data = read_dataset(args.dataset, settings.datasets_dir)
        store = open_store(settings)
        result: dict[str, Any] = {"dataset": args.dataset, "events": len(data.events),
                                  "partitions": PARTITIONS,
                                  "bootstrap_given": "KAFKA_BOOTSTRAP" in os.environ}
        try:
            fresh(store)
            load = load_source(settings, args.dataset, show_progress=False)
            reference = load.summary, IngestRepository(store).counts()
            print(f"load: {load.events_per_s:,.0f} events/s", file=sys.stderr)
            result["load_eps"] = round(load.events_per_s, 1)
            if not args.latency_only:
                result.update(throughput(env, bootstrap, store, data, reference[1], args.kills,
                                         log_dir))
                result["consume_vs_load"] = round(result["consume_eps"] / load.events_per_s, 3)
            if not args.skip_latency:
                raw_users = list(dict.fromkeys(e.user_id for e in data.events))
                applied: list[float] = []
                lat = latency(settings, env, bootstrap, store, raw_users, args.latency_s, args.rate,
                              log_dir, applied)
                result.update({
                    "applied_p50_s": round(statistics.median(applied), 3) if applied else None,
                    "applied_p95_s": (round(sorted(applied)[int(0.95 * (len(applied) - 1))], 3)
                                      if applied else None),
                    "rate_eps": args.rate, "latency_probes": len(lat),
                    "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
                    "latency_p95_s": round(sorted(lat)[int(0.95 * (len(lat) - 1))], 3) if lat else None,
                    "incremental_every_s": args.incremental_every,
                })
        finally:
            store.close()
            EmbeddedServer(settings.data_dir).stop()
            if "KAFKA_BOOTSTRAP" not in os.environ:
                subprocess.run([str(KAFKA), "stop", "--state", str(root / "kafka")],
                               capture_output=True, timeout=120, check=False)
    print(json.dumps(result))
    sys.stdout.flush()


def throughput(env: dict[str, str], bootstrap: str, store: GraphStore, data: Any,
               ref: GraphCounts, kills: int, log_dir: Path) -> dict[str, Any]:
    """The consume and chaos phases (the graph is the load's when called, and after)."""
    topic = create_topic(bootstrap, PARTITIONS)
    produce_s = replay(bootstrap, topic, data)
    print(f"produced {len(data.events):,} events in {produce_s:.1f}s", file=sys.stderr)

    repo = fresh(store)
    summary = consume(env, bootstrap, topic, "throughput")
    consumed = repo.counts()
    print(f"consume: {summary['events_per_s']:,.0f} events/s", file=sys.stderr)

    repo = fresh(store)
    kills = chaos(env, bootstrap, topic, repo, len(data.events), kills, log_dir)
    after = repo.counts()
    out = {
        "produce_s": round(produce_s, 2),
        "consume_eps": summary["events_per_s"],
        "consume_busy_s": summary["busy_s"],
        "consume_equal": equal(consumed, ref),
        "chaos_kills": kills,
        "lost_events": ref.events - after.events,
        "double_counted": after.edge_events - ref.edge_events,
        "chaos_equal": equal(after, ref),
    }
    print(json.dumps(out), file=sys.stderr)
    return out


if __name__ == "__main__":
    random.seed(0)
    threading.current_thread().name = "stream-bench"
    main()
