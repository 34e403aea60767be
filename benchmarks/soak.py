"""Soak: the whole platform under steady load for a long time, on the embedded store or Neo4j.

    python benchmarks/soak.py [--minutes 30] [--preload 200000] [--data-dir DIR]
                              [--backend embedded|neo4j]

A throw-away data directory (or ``--data-dir``) gets the embedded server (with ``--backend
neo4j`` only the broker, the graph in Neo4j: see ``backends.py``), the first ``--preload``
records of Online Retail and one full refresh; then, for ``--minutes``:

* the API under gunicorn (``interestgraph serve``) and a real Celery worker (``interestgraph
  worker``);
* ``--writers`` clients posting the following Online Retail events (and their items) through
  ``POST /v1/events`` in batches, about ``--events-per-s`` in all, with ~2.5% re-sent events
  (duplicates) and ~2.5% bad records; a batch that fails is sent again until it is accepted;
* ``--readers`` clients asking for recommendations (60%), segments (20%) and neighbourhood graphs
  (20%) of preloaded users, ``--think-ms`` apart;
* an incremental refresh every ``--incremental-every`` seconds and one full refresh half-way,
  enqueued through ``POST /v1/refresh``.

The default preload is a shop with a history that the stream extends (by about half in 30
minutes at 100 events/s): the RSS comparison between the second and the last window then shows
what a long-lived process keeps, not only the model growing with a shop that grows tenfold (with
20,000 preloaded records the mid-run model is fitted on about six times the first one's data).

Time is cut into windows of ``--window-s`` (default: 5 minutes, or a sixth of a shorter run), each
with p50/p99 per endpoint and the median RSS of each API and worker process. At the end the graph
must hold every acknowledged event exactly once. The last line is one JSON object: ``backend``,
``requests``,
``errors_5xx``, ``events_accepted`` (distinct valid event ids acknowledged by a 202),
``events_in_graph`` (event markers added), ``windows``, ``p99_recommendations_ms_max`` (worst
window), ``rss_growth`` (last window / second window - 1, worst process), and more.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import backends
import harness
from harness import Client, Process

from interest_graph.graph import open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.ingest.loading import load_source
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings

READS = (("recommendations", 0.6, "/v1/users/{}/recommendations?k=10"),
         ("segment", 0.2, "/v1/users/{}/segment"),
         ("graph", 0.2, "/v1/users/{}/graph?depth=1&limit=50"))
BAD_RECORDS = ({"type": "teleport"}, {"user_id": None}, {"timestamp": "31/02/2011"},
               {"quantity": -3})


class Recorder:
    """Latencies and statuses per window and endpoint; RSS samples per window and process."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.latency: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.statuses: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.rss: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def window(self) -> int:
        return int((time.monotonic() - self.started) // self.window_s)

    def request(self, endpoint: str, status: int | str, seconds: float | None) -> None:
        with self.lock:
            w = self.window()
            self.statuses[w][f"{endpoint}:{status}"] += 1
            if seconds is not None:
                self.latency[w][endpoint].append(seconds)

    def memory(self, name: str, mb: float) -> None:
        with self.lock:
            self.rss[self.window()][name].append(mb)

    def windows(self, count: int) -> list[dict[str, Any]]:
        out = []
        for w in range(count):
            statuses = dict(self.statuses.get(w, {}))
            out.append({
                "window": w, "from_s": round(w * self.window_s), "to_s": round((w + 1) * self.window_s),
                "requests": sum(statuses.values()),
                "errors_5xx": sum(n for k, n in statuses.items() if k.split(":")[1].startswith("5")),
                "endpoints": {name: {"n": len(v), "p50_ms": round(harness.percentile(v, 0.5) * 1000, 2),
                                     "p99_ms": round(harness.percentile(v, 0.99) * 1000, 2)}
                              for name, v in sorted(self.latency.get(w, {}).items())},
                "rss_mb": {name: round(statistics.median(v), 1)
                           for name, v in sorted(self.rss.get(w, {}).items())},
                "statuses": statuses,
            })
        return out


class Stream:
    """Events to post, with duplicates and bad records mixed in; remembers what was acknowledged."""

    def __init__(self, events: list[dict[str, Any]], items: dict[str, dict[str, Any]],
                 seed: int) -> None:
        self.events, self.items = events, items
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.next = 0
        self.cycle = 0
        self.sent_items: set[str] = set()
        self.acked: set[str] = set()
        self.acked_list: list[dict[str, Any]] = []
        self.counts = defaultdict(int)

    def batch(self, size: int) -> tuple[dict[str, Any], list[dict[str, Any]], int, int]:
        """A request body, the new valid events in it, and how many duplicates and bad ones."""
        with self.lock:
            events, new, dups, bad, items = [], [], 0, 0, []
            for _ in range(size):
                roll = self.rng.random()
                if roll < 0.025 and self.acked_list:
                    events.append(self.rng.choice(self.acked_list))
                    dups += 1
                    continue
                if roll < 0.05:
                    base = self.events[self.rng.randrange(len(self.events))]
                    events.append({**base, **self.rng.choice(BAD_RECORDS),
                                   "event_id": f"bad-{self.counts['bad']}"})
                    bad += 1
                    self.counts["bad"] += 1
                    continue
                if self.next == len(self.events):  # the data ran out: replay it as new events
                    self.next, self.cycle = 0, self.cycle + 1
                event = dict(self.events[self.next])
                self.next += 1
                if self.cycle:
                    event["event_id"] = f"{event['event_id']}~{self.cycle}"
                if event["item_id"] not in self.sent_items and event["item_id"] in self.items:
                    self.sent_items.add(event["item_id"])
                    items.append(self.items[event["item_id"]])
                events.append(event)
                new.append(event)
            body: dict[str, Any] = {"events": events}
            if items:
                body["items"] = items
            return body, new, dups, bad

    def acknowledge(self, new: list[dict[str, Any]]) -> None:
        with self.lock:
            for event in new:
                if event["event_id"] not in self.acked:
                    self.acked.add(event["event_id"])
                    self.acked_list.append(event)


def writer(port: int, stream: Stream, rec: Recorder, stop: threading.Event, batch: int,
           every_s: float, totals: dict[str, int]) -> None:
    client = Client(port)
    while not stop.is_set():
        started = time.monotonic()
        body, new, dups, bad = stream.batch(batch)
        for _attempt in range(60):  # at-least-once client: resend until acknowledged
            try:
                status, answer, seconds = client.call("POST", "/v1/events", body)
            except (OSError, http.client.HTTPException):
                rec.request("events", "conn_error", None)
                time.sleep(0.5)
                continue
            rec.request("events", status, seconds)
            if status == 202:
                stream.acknowledge(new)
                with stream.lock:
                    totals["accepted"] += answer["accepted"]
                    totals["duplicates_answered"] += answer["duplicates"]
                    totals["rejected"] += answer["rejected"]
                    totals["duplicates_sent"] += dups
                    totals["bad_sent"] += bad
                break
            time.sleep(0.5)
        stop.wait(max(0.0, every_s - (time.monotonic() - started)))
    client.close()


def reader(port: int, users: list[str], rec: Recorder, stop: threading.Event, think_s: float,
           seed: int) -> None:
    client = Client(port)
    rng = random.Random(seed)
    names, weights, paths = zip(*READS)
    while not stop.is_set():
        (name, path), = rng.choices(list(zip(names, paths)), weights=weights)
        try:
            status, _, seconds = client.call("GET", path.format(rng.choice(users)))
            rec.request(name, status, seconds)
        except (OSError, http.client.HTTPException):
            rec.request(name, "conn_error", None)
        stop.wait(think_s)
    client.close()


def scheduler(port: int, duration_s: float, every_s: float, stop: threading.Event,
              tasks: list[tuple[str, float, str]]) -> None:
    """Incremental refreshes every ``every_s`` and one full refresh half-way, via the API."""
    client = Client(port)
    started = time.monotonic()
    full_at, next_incremental = duration_s / 2, every_s
    while not stop.is_set():
        now = time.monotonic() - started
        for kind, due in (("full", full_at), ("incremental", next_incremental)):
            if due is not None and now >= due:
                try:
                    status, body, _ = client.call("POST", "/v1/refresh", {"kind": kind})
                    tasks.append((kind, round(now, 1), body["task_id"] if status == 202 else
                                  f"error:{status}"))
                except (OSError, http.client.HTTPException) as exc:
                    tasks.append((kind, round(now, 1), f"error:{type(exc).__name__}"))
                if kind == "full":
                    full_at = None  # type: ignore[assignment]
                else:
                    next_incremental += every_s
        stop.wait(0.5)
    client.close()


def monitor(processes: dict[str, Process], rec: Recorder, stop: threading.Event) -> None:
    """RSS of each API and worker process every 2 s."""
    while not stop.wait(2.0):
        for role, proc in processes.items():
            if not proc.alive():
                continue
            kids = harness.children(proc.pid)
            for n, pid in enumerate([proc.pid, *kids]):
                name = f"{role}-main" if n == 0 else f"{role}-child-{n}"
                if (mb := harness.rss_mb(pid)) is not None:
                    rec.memory(name, mb)


def run(settings: Settings, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    duration = args.minutes * 60.0
    window_s = args.window_s or min(300.0, duration / 6)
    per_writer = args.events_per_s / args.writers
    batch = max(1, round(per_writer))
    needed = args.preload + int(args.events_per_s * duration * 1.1) + 1000
    events, items = harness.retail_records(settings, needed)
    preload_events, preload_items = harness.retail_records(settings, args.preload)
    split = len(preload_events)
    folder = harness.write_folder(log_dir / "preload", preload_events, preload_items)
    load_source(settings, str(folder), show_progress=False)
    store = open_store(settings)
    counts = IngestRepository(store)
    events_before = counts.counts().events
    users = list(dict.fromkeys(str(e["user_id"]) for e in preload_events))

    nice = {} if args.worker_nice is None else {"INTERESTGRAPH_WORKER_NICE": str(args.worker_nice)}
    env = harness.platform_env(settings, **nice)
    work = harness.worker(env, log_dir)
    api_proc, port = harness.api(env, log_dir, args.api_workers)
    control = Client(port)
    processes = {"api": api_proc, "worker": work}
    try:
        status, body, _ = control.call("POST", "/v1/refresh", {"kind": "full"})
        assert status == 202, body
        first = harness.wait_task(control, body["task_id"])
        if first["state"] != "SUCCESS":
            raise RuntimeError(f"the first full refresh failed: {first['error']}\n{work.tail()}")
        print(f"preloaded {events_before:,} events, {len(users):,} users; first full refresh "
              f"{first['result']['version']} done; soaking for {args.minutes} min", file=sys.stderr)

        stream = Stream(events[split:], {i["item_id"]: i for i in items}, seed=args.seed)
        rec = Recorder(window_s)
        stop = threading.Event()
        totals: dict[str, int] = defaultdict(int)
        tasks: list[tuple[str, float, str]] = []
        threads = [threading.Thread(target=writer, args=(port, stream, rec, stop, batch,
                                                         batch / per_writer, totals))
                   for _ in range(args.writers)]
        threads += [threading.Thread(target=reader, args=(port, users, rec, stop,
                                                          args.think_ms / 1000, args.seed + n))
                    for n in range(args.readers)]
        threads += [threading.Thread(target=scheduler, args=(port, duration,
                                                             args.incremental_every, stop, tasks)),
                    threading.Thread(target=monitor, args=(processes, rec, stop))]
        for t in threads:
            t.start()
        time.sleep(duration)
        stop.set()
        for t in threads:
            t.join()
        windows = rec.windows(max(1, int(round(duration / window_s))))

        refreshes: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        for kind, _at, task_id in tasks:
            if task_id.startswith("error"):
                refreshes[kind]["enqueue_errors"] += 1
                continue
            done = harness.wait_task(control, task_id, timeout=args.drain_timeout)
            outcome = done["result"]["status"] if done["state"] == "SUCCESS" else done["state"]
            refreshes[kind][outcome] += 1
            if kind == "full" and done["state"] == "SUCCESS":
                refreshes[kind]["stages_s"] = done["result"].get("stages")
        events_in_graph = counts.counts().events - events_before
    finally:
        control.close()
        api_proc.stop()
        work.stop()
        store.close()

    p99_recs = [w["endpoints"].get("recommendations", {}).get("p99_ms", 0.0) for w in windows]
    growth = {}
    if len(windows) >= 3:
        second, last = windows[1]["rss_mb"], windows[-1]["rss_mb"]
        growth = {name: round(last[name] / second[name] - 1, 4) for name in second if name in last}
    all_statuses: dict[str, int] = defaultdict(int)
    for w in windows:
        for key, n in w["statuses"].items():
            all_statuses[key] += n
    return {
        "minutes": args.minutes, "window_s": window_s,
        "requests": sum(w["requests"] for w in windows),
        "errors_5xx": sum(w["errors_5xx"] for w in windows),
        "errors_connection": sum(n for k, n in all_statuses.items() if k.endswith("conn_error")),
        "events_accepted": len(stream.acked),
        "events_in_graph": events_in_graph,
        "events_applied_answers": totals["accepted"],
        "duplicates_sent": totals["duplicates_sent"],
        "duplicates_answered": totals["duplicates_answered"],
        "bad_sent": totals["bad_sent"], "rejected": totals["rejected"],
        "p99_recommendations_ms_max": max(p99_recs) if p99_recs else None,
        "rss_growth": max(growth.values()) if growth else None,
        "rss_growth_by_process": growth,
        "refreshes": {k: dict(v) for k, v in refreshes.items()},
        "statuses": dict(sorted(all_statuses.items())),
        "writers": args.writers, "readers": args.readers, "api_workers": args.api_workers,
        "events_per_s": args.events_per_s, "preload_events": events_before,
        "worker_nice": settings.worker_nice if args.worker_nice is None else args.worker_nice,
        "windows": windows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--window-s", type=float, default=None,
                        help="window length (default: 300, or minutes*60/6 when shorter)")
    parser.add_argument("--preload", type=int, default=200_000,
                        help="Online Retail records loaded before the clock starts (default: "
                             "about half the set, so the stream grows the shop by about half "
                             "over 30 minutes rather than tenfold)")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--events-per-s", type=float, default=100.0)
    parser.add_argument("--think-ms", type=float, default=50.0)
    parser.add_argument("--incremental-every", type=float, default=60.0)
    parser.add_argument("--api-workers", type=int, default=3)
    parser.add_argument("--train-epochs", type=int, default=3)
    parser.add_argument("--drain-timeout", type=float, default=900.0,
                        help="seconds to wait for queued refreshes after the run")
    parser.add_argument("--worker-nice", type=int, default=None,
                        help="the worker's nice value (default: the settings', 10; 0 = the "
                             "API's priority)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, help="keep everything here (default: temporary)")
    backends.add_argument(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ig-soak-") as tmp, \
            backends.GraphBackend(args.backend, Path(tmp)) as backend:
        data_dir = (args.data_dir or Path(tmp)).resolve()
        settings = Settings.from_env(data_dir=data_dir, broker_url=None,
                                     result_backend=None, secret="soak-secret", encoder="hashing",
                                     train_epochs=args.train_epochs, top_k=10,
                                     refresh_lock_ttl_s=60, **backend.overrides())
        backend.clear(settings)
        server = EmbeddedServer(data_dir)
        server.start()
        try:
            measured = run(settings, args, data_dir)
            result = {**backend.describe(), **measured}
        finally:
            server.stop()
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
