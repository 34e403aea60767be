"""Chaos: SIGKILL a loader, a Celery worker, a gunicorn worker or the embedded server itself at a
random moment of ingestion or refresh, restart it, and check the graph converges.

    python benchmarks/chaos.py [--rounds 20] [--records 24000] [--seed 0]

The first ``--records`` records of Online Retail are cut into one loader file and one API share
per round, plus one for the set-up: embedded server, API under gunicorn (2 workers), a Celery
worker, the set-up's events and a first full refresh. Each round then starts its loader
(``interestgraph load``), an API writer posting its share through ``POST /v1/events`` (resending
a batch until it gets a 202) and, in refresh rounds, a full or incremental refresh; at a random
moment it SIGKILLs the round's target (the targets cycle in a shuffled order), restarts it
(gunicorn replaces its own worker), waits for ``/health``, reruns a killed or failed loader, and
lets the writer finish.

A round *converges* when the graph equals a clean run of the same events (loaded once each, in
order, into a second embedded server): users, items, categories, edges, events per edge and event
markers exactly, summed edge weights and revenue to 1e-9; and the active refresh is complete
(its record finished, every segmented user in exactly one segment of it, the API serving only
its version). After the last round a final full refresh must succeed. Every event acknowledged
by a 202 is then looked up by its keyed id: ``lost_acked_events`` counts those missing.

Last line: ``{"rounds", "converged", "lost_acked_events", "rounds_detail": [...], ...}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import harness
from harness import Client, Process

from interest_graph.graph import GraphStore, open_store
from interest_graph.graph.ingest import GraphCounts, IngestRepository
from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.loading import make_ingestor
from interest_graph.privacy import Pseudonymiser
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings

TARGETS = ("loader", "celery-worker", "gunicorn-worker", "embedded-server")
API_SHARE = 0.2
API_BATCH = 20


def comparable(counts: GraphCounts) -> dict[str, Any]:
    return {k: v for k, v in counts.__dict__.items()}


def same_graph(got: GraphCounts, want: GraphCounts) -> bool:
    exact = ("users", "items", "categories", "edges", "edge_events", "events")
    return all(getattr(got, k) == getattr(want, k) for k in exact) and all(
        math.isclose(getattr(got, k), getattr(want, k), rel_tol=1e-9, abs_tol=1e-6)
        for k in ("weight", "revenue"))


class ApiWriter(threading.Thread):
    """Posts a round's API share in batches, resending each until a 202 acknowledges it."""

    def __init__(self, port: int, events: list[dict[str, Any]], acked: set[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.events, self.acked = port, events, acked
        self.retries = 0
        self.statuses: dict[str, int] = {}

    def run(self) -> None:
        client = Client(self.port, timeout=10)
        for start in range(0, len(self.events), API_BATCH):
            batch = self.events[start : start + API_BATCH]
            while True:
                try:
                    status, _, _ = client.call("POST", "/v1/events", {"events": batch})
                except (OSError, http.client.HTTPException):
                    status = 0
                self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
                if status == 202:
                    self.acked.update(e["event_id"] for e in batch)
                    break
                self.retries += 1
                time.sleep(0.3)
            time.sleep(0.25)  # spread over the round, so that kills land during API writes
        client.close()


class Platform:
    """The processes under test and how to kill and restart each."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.env = harness.platform_env(settings)
        self.server = EmbeddedServer(settings.data_dir)
        self.server.start()
        self.worker = harness.worker(self.env, log_dir, "worker-0")
        self.api, self.port = harness.api(self.env, log_dir, workers=2)
        self.workers_started = 1

    def kill(self, target: str, loader: Process | None, rng: random.Random) -> dict[str, Any]:
        """SIGKILL ``target``; returns what was killed."""
        if target == "loader":
            assert loader is not None
            running = loader.alive()
            loader.kill()
            return {"pid": loader.pid, "was_running": running}
        if target == "celery-worker":
            pids = [self.worker.pid, *harness.descendants(self.worker.pid)]
            for pid in pids:  # the whole worker, as an OOM kill of its container would
                _sigkill(pid)
            assert self.worker.proc is not None
            self.worker.proc.wait()
            return {"pids": pids}
        if target == "gunicorn-worker":
            pid = rng.choice(harness.children(self.api.pid))
            _sigkill(pid)
            return {"pid": pid}
        status = self.server.status()
        assert status is not None
        _sigkill(status.pid)
        while harness.rss_mb(status.pid) is not None:
            time.sleep(0.01)
        return {"pid": status.pid}

    def restart(self, target: str) -> None:
        if target == "celery-worker":
            self.worker = harness.worker(self.env, self.log_dir, f"worker-{self.workers_started}")
            self.workers_started += 1
        elif target == "embedded-server":
            self.server.start(timeout=600)  # it replays its append-only file first
        # A killed loader is rerun by the round; gunicorn replaces its own worker.

    def wait_healthy(self, timeout: float = 120) -> float:
        started = time.monotonic()
        client = Client(self.port, timeout=5)
        try:
            while True:
                try:
                    if client.call("GET", "/health")[0] == 200 and \
                            len(harness.children(self.api.pid)) >= 2:
                        return time.monotonic() - started
                except (OSError, http.client.HTTPException):
                    pass
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"not healthy after {timeout}s:\n{self.api.tail()}")
                time.sleep(0.1)
        finally:
            client.close()

    def stop(self) -> None:
        self.api.stop()
        self.worker.stop()
        self.server.stop()


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def load(platform: Platform, folder: Path) -> Process:
    # Small batches: the load lasts long enough to be killed in the middle.
    return Process(f"load-{folder.name}", ["load", str(folder), "--batch-size", "20"],
                   platform.env, platform.log_dir)


def finish_load(platform: Platform, folder: Path, loader: Process, timeout: float = 300) -> int:
    """Wait for the loader; rerun it until it exits 0. Returns how many reruns it took."""
    reruns = 0
    assert loader.proc is not None
    while True:
        code = loader.proc.wait(timeout=timeout)
        if code == 0:
            return reruns
        reruns += 1
        if reruns > 10:
            raise RuntimeError(f"loader keeps failing:\n{loader.tail()}")
        time.sleep(0.5)
        loader = load(platform, folder)
        assert loader.proc is not None


def refresh_consistent(store: GraphStore, client: Client, users: list[str]) -> dict[str, Any]:
    """The active refresh is complete and nothing else is visible."""
    state = store.read("refresh/read_state")[0]
    version = state["version"]
    record = next((r for r in store.read("refresh/refresh_history", limit=50)
                   if r["version"] == version), None)
    summary = store.read("stats/refresh_summary")[0]
    served = set()
    for user in users:
        status, body, _ = client.call("GET", f"/v1/users/{user}/recommendations?k=5")
        if status == 200 and not body.get("fallback"):
            served.add(body["version"])
    ok = (version is not None and record is not None and record["status"] == "active"
          and record["finished_at"] is not None
          and summary["memberships"] == summary["segmented_users"] > 0
          and served == {version})
    return {"ok": ok, "version": version, "served": sorted(served),
            "record_status": None if record is None else record["status"]}


def wait_task(client: Client, task_id: str, timeout: float) -> str:
    try:
        done = harness.wait_task(client, task_id, timeout=timeout)
    except TimeoutError:
        return "not_done"
    return str(done["result"]["status"]) if done["state"] == "SUCCESS" else str(done["state"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--records", type=int, default=24000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-epochs", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, help="keep everything here (default: temporary)")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="ig-chaos-") as tmp:
        root = (args.data_dir or Path(tmp)).resolve()
        base = Settings.from_env(graph_uri=None, broker_url=None, result_backend=None,
                                 secret="chaos-secret", encoder="hashing", top_k=10,
                                 train_epochs=args.train_epochs, refresh_lock_ttl_s=10)
        settings = base.with_overrides(data_dir=root / "chaos")
        clean_settings = base.with_overrides(data_dir=root / "clean")
        result = run(settings, clean_settings, args, rng, root)
    print(json.dumps(result))
    sys.stdout.flush()


def split_rounds(settings: Settings, records: int, rounds: int, folder: Path, rng: random.Random
                 ) -> list[tuple[Path, list[dict[str, Any]]]]:
    """Per round: a loader folder (its events, every item) and the API's share of events."""
    events, items = harness.retail_records(settings, records)
    rng.shuffle(events)  # every round touches users and items all over the graph
    size = math.ceil(len(events) / rounds)
    out = []
    for k in range(rounds):
        chunk = events[k * size : (k + 1) * size]
        cut = int(len(chunk) * API_SHARE)
        out.append((harness.write_folder(folder / f"round-{k:02d}", chunk[cut:], items),
                    chunk[:cut]))
    return out


def run(settings: Settings, clean_settings: Settings, args: argparse.Namespace,
        rng: random.Random, root: Path) -> dict[str, Any]:
    log_dir = root / "logs"
    log_dir.mkdir(parents=True)
    # Part 0 sets up (no kill); parts 1..rounds are the chaos rounds.
    rounds = split_rounds(settings, args.records, args.rounds + 1, root / "data", rng)

    # The clean run: each round's events once, in order, into a server of its own.
    clean_server = EmbeddedServer(clean_settings.data_dir)
    clean_server.start()
    clean_store = open_store(clean_settings)
    expected: list[GraphCounts] = []
    try:
        clean_store.init_schema()
        repo = IngestRepository(clean_store)
        for folder, api_events in rounds:
            make_ingestor(clean_settings, repo).run(open_dataset(str(folder)).records())
            as_records = open_dataset(str(_write_api(folder, api_events))).records()
            make_ingestor(clean_settings, repo).run(as_records)
            expected.append(repo.counts())
    finally:
        clean_store.close()
        clean_server.stop()

    platform = Platform(settings, log_dir)
    store = open_store(settings)
    control = Client(platform.port, timeout=10)
    acked: set[str] = set()
    detail: list[dict[str, Any]] = []
    setup: dict[str, Any] = {}
    refresh_ids: list[str] = []
    targets = ["none"] + [TARGETS[k % len(TARGETS)] for k in range(args.rounds)]
    chaos = targets[1:]
    rng.shuffle(chaos)
    targets[1:] = chaos
    sample_users: list[str] = []
    try:
        store.init_schema()
        for k, (folder, api_events) in enumerate(rounds):
            target = targets[k]
            phase = "ingestion" if target in ("loader", "none") else rng.choice(
                ["ingestion", "refresh"])
            row: dict[str, Any] = {"round": k, "target": target, "phase": phase}
            writer = ApiWriter(platform.port, api_events, acked)
            events_before = store.read("stats/count_graph")[0]["events"]
            loader = load(platform, folder)
            writer.start()
            task_id = None
            if k == 0:  # set-up: a first full refresh, nothing killed
                finish_load(platform, folder, loader)
                writer.join()
                task_id = _post_refresh(control, "full")
                row["refresh"] = wait_task(control, task_id, 600)
                sample_users = list(dict.fromkeys(str(e["user_id"]) for e in api_events))[:20]
            else:
                if phase == "refresh":
                    kind = rng.choice(["full", "incremental"])
                    task_id = _post_refresh(control, kind)
                    refresh_ids.append(task_id)
                    row["refresh_kind"] = kind
                    row["stage_at_kill"] = _wait_started(control, task_id)
                    time.sleep(rng.uniform(0.2, 4.0))
                else:
                    threshold = events_before + int(len(api_events) / API_SHARE
                                                    * rng.uniform(0.1, 0.8))
                    deadline = time.monotonic() + 20
                    while store.read("stats/count_graph")[0]["events"] < threshold and \
                            loader.alive() and time.monotonic() < deadline:
                        time.sleep(0.05)
                    time.sleep(rng.uniform(0.0, 0.5))
                row["events_before_kill"] = store.read("stats/count_graph")[0]["events"] - \
                    events_before
                row["killed"] = platform.kill(target, loader, rng)
                platform.restart(target)
                row["recovery_s"] = round(platform.wait_healthy(), 2)
                if target == "loader":
                    loader = load(platform, folder)
                row["loader_reruns"] = finish_load(platform, folder, loader)
                writer.join(timeout=300)
                row["api_retries"], row["api_statuses"] = writer.retries, writer.statuses
                if task_id is not None:
                    # A killed worker's task comes back after the visibility timeout: checked
                    # at the end with the others.
                    row["refresh"] = wait_task(control, task_id, 5 if target == "celery-worker"
                                               else 300)
            counts = IngestRepository(store).counts()
            row["graph_equal"] = same_graph(counts, expected[k])
            if not row["graph_equal"]:
                row["graph"], row["expected"] = comparable(counts), comparable(expected[k])
            row["refresh_check"] = refresh_consistent(store, control, sample_users)
            row["converged"] = row["graph_equal"] and row["refresh_check"]["ok"]
            print(json.dumps(row), file=sys.stderr)
            if k == 0:
                setup = row
            else:
                detail.append(row)

        # Every refresh enqueued must finish, killed ones included (redelivered after the
        # visibility timeout, 60 s here).
        outcomes = {tid: wait_task(control, tid, 300) for tid in refresh_ids}
        final_id = _post_refresh(control, "full")
        final = wait_task(control, final_id, 900)
        summary = store.read("stats/refresh_summary")[0]
        users = IngestRepository(store).counts().users
        final_ok = final == "active" and summary["segmented_users"] == users
        pseudo = Pseudonymiser(settings.resolved_secret(), enabled=settings.pseudonymise)
        hashed = {pseudo.event(e): e for e in acked}
        known = IngestRepository(store).known_events(list(hashed))
        lost = len(hashed) - len(known)
    finally:
        control.close()
        store.close()
        platform.stop()
    return {"rounds": len(detail), "converged": sum(1 for r in detail if r["converged"]),
            "lost_acked_events": lost, "acked_api_events": len(acked),
            "final_full_refresh": final, "final_refresh_complete": final_ok,
            "refresh_tasks": {"enqueued": len(outcomes),
                              "finished": sum(1 for o in outcomes.values()
                                              if o in ("active", "updated", "noop", "skipped")),
                              "outcomes": sorted(set(outcomes.values()))},
            "targets": {t: chaos.count(t) for t in TARGETS},
            "phases": {p: sum(1 for r in detail if r["phase"] == p) for p in ("ingestion", "refresh")},
            "setup": setup, "rounds_detail": detail}


def _write_api(folder: Path, events: list[dict[str, Any]]) -> Path:
    """The API share of a round as a generic file, for the clean run."""
    path = folder.parent / f"{folder.name}-api.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _post_refresh(client: Client, kind: str) -> str:
    for _ in range(100):
        try:
            status, body, _ = client.call("POST", "/v1/refresh", {"kind": kind})
            if status == 202:
                return str(body["task_id"])
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    raise RuntimeError("could not enqueue a refresh")


def _wait_started(client: Client, task_id: str, timeout: float = 60) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body, _ = client.call("GET", f"/v1/tasks/{task_id}")
            if status == 200 and body["state"] in ("STARTED", "PROGRESS", "SUCCESS"):
                return str(body["stage"] or body["state"])
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    return None


if __name__ == "__main__":
    main()
