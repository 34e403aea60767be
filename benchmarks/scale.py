"""Scale: Online Retail grown 1, 4 and 16 times, loaded and fully refreshed through real workers.

    python benchmarks/scale.py [--factors 1,4,16] [--encoder minilm] [--device cpu]
                               [--backend embedded|neo4j]

For each factor: ``interestgraph synth`` writes the data once into ``--cache-dir`` (reused while
its ``synth.json`` matches factor, seed and mix), ``interestgraph load`` loads it into a fresh
embedded data directory (with ``--backend neo4j``, into a fresh Neo4j started for that factor, or
the cleared one of ``NEO4J_URI``; the embedded server is then only the broker; see
``backends.py``), one worker process (``interestgraph worker --pool solo``) runs a full
refresh while this script samples the resident memory of the worker's process tree from /proc
(and reads its high-water mark at the end), per refresh stage. At the largest factor it then
measures incremental refreshes (``benchmarks/refresh.py``'s trials) and recommendation latency
with 16 concurrent clients through gunicorn (``benchmarks/api.py``'s measurement), and, with
``--shard-repeat`` (the default at 16× and above), repeats the full refresh with 2 workers.

Last line, JSON: ``{"backend", "runs": [{"factor", "users", "items", "events", "load_s",
"full_refresh_s", "stages", "stage_cpu_s", "stage_peak_rss_mb", "peak_rss_mb", "workers",
"neo4j" (heap, page cache, store size, JVM peak RSS), ...}], "time_exponent", "memory_exponent",
"cpu_time_exponent", "shard_speedup_2_workers", "incremental_p95_s",
"api_p99_ms", ...}``; the exponents are least-squares slopes of log(full refresh seconds),
log(worker peak RSS) and log(worker CPU seconds) against log(events). CPU seconds change less
than wall seconds when other programs share the machine.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import backends
import numpy as np

from interest_graph.ingest.synth import EVENTS_FILE, MANIFEST_FILE
from interest_graph.settings import Settings

if TYPE_CHECKING:
    from interest_graph.tasks import TaskState

# The store, the broker and the sibling benchmarks (this folder is on sys.path when run as a
# script; their measurements are reused, not copied) are imported where used: --compute-only
# runs on machines without graph drivers, Redis or Celery.
CLI = [sys.executable, "-m", "interest_graph.cli"]
HERE = Path(__file__).resolve().parent
SECRET = "benchmark-secret"
#: What the sharded part of the refresh spans: similar items (score), the segments' and similar
#: items' writes (write) and the users' scores and writes, shared by the workers (shards).
SHARDED_STAGES = ("score", "write", "shards")


def synthetic_data(cache: Path, factor: int, seed: int, mix: float, limit: int | None) -> Path:
    """The folder holding Online Retail × ``factor``, generated once."""
    name = f"online-retail-x{factor}-seed{seed}-mix{mix:g}" + (f"-first{limit}" if limit else "")
    folder = cache / name
    manifest = folder / MANIFEST_FILE
    if manifest.exists():
        meta = json.loads(manifest.read_text())
        if (meta.get("factor"), meta.get("seed"), meta.get("mix"), meta.get("limit")) == (
                factor, seed, mix, limit):
            return folder
    started = time.perf_counter()
    limit_args = ["--limit", str(limit)] if limit else []
    subprocess.run([*CLI, "synth", "--factor", str(factor), "--seed", str(seed), "--mix", str(mix),
                    *limit_args, str(folder)], check=True, stdout=sys.stderr)
    print(f"synth ×{factor}: {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return folder


def raw_users(folder: Path, limit: int) -> list[str]:
    """The first ``limit`` distinct raw user ids of a generic events file."""
    seen: dict[str, None] = {}
    with gzip.open(folder / EVENTS_FILE, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            seen.setdefault(row["user_id"])
            if len(seen) >= limit:
                break
    return list(seen)


# -- memory and CPU time of the worker process tree ---------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds) of a process; (-1, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1, 0.0
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_usage(roots: list[int]) -> tuple[float, float]:
    """Resident MB and CPU seconds of ``roots`` and all their descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            children.setdefault(_stat(int(entry.name))[0], []).append(int(entry.name))
    pids, rss, cpu = list(roots), 0, 0.0
    while pids:
        pid = pids.pop()
        rss += _status_kb(pid, "VmRSS")
        cpu += _stat(pid)[1]
        pids.extend(children.get(pid, []))
    return rss / 1024.0, cpu


@dataclass
class WorkerSampler:
    """Samples the workers' tree every ``period`` seconds: peak RSS and CPU seconds per stage.

    CPU seconds are reported beside wall seconds because they change less when other programs
    share the cores.
    """

    roots: list[int]
    period: float = 0.2
    stage: str = "idle"
    peak: float = 0.0
    stage_peak: dict[str, float] = field(default_factory=dict)
    stage_cpu: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        rss, cpu = tree_usage(self.roots)
        self.peak = max(self.peak, rss)
        self.stage_peak[self.stage] = max(self.stage_peak.get(self.stage, 0.0), rss)
        self.stage_cpu[self.stage] = self.stage_cpu.get(self.stage, 0.0) + cpu - self._cpu
        self._cpu = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self) -> WorkerSampler:
        self._cpu = tree_usage(self.roots)[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def on_poll(self, state: TaskState) -> None:
        if state.stage and state.stage != "done":
            self.stage = state.stage


# -- one factor ---------------------------------------------------------------------------------


class Deployment:
    """A fresh data directory with its own embedded server, a fresh graph store (that server, or
    a Neo4j), and worker processes on it."""

    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="ig-scale-", dir=root)
        self.data_dir = Path(self.tmp.name)
        self.backend = backends.GraphBackend(args.backend, self.data_dir).start()
        overrides: dict[str, Any] = {"encoder": args.encoder, **self.backend.overrides()}
        self.env = backends.strip_store_env(dict(os.environ))
        self.env.update(INTERESTGRAPH_DATA_DIR=str(self.data_dir), INTERESTGRAPH_SECRET=SECRET,
                        INTERESTGRAPH_ENCODER=args.encoder, HF_HUB_OFFLINE="1",
                        TRANSFORMERS_OFFLINE="1")
        if args.device:
            self.env["INTERESTGRAPH_DEVICE"] = overrides["device"] = args.device
        if args.train_epochs:
            self.env["INTERESTGRAPH_TRAIN_EPOCHS"] = str(args.train_epochs)
            overrides["train_epochs"] = args.train_epochs
        if args.shard_users:
            self.env["INTERESTGRAPH_SHARD_USERS"] = str(args.shard_users)
            overrides["shard_users"] = args.shard_users
        self.settings = Settings.from_env(data_dir=self.data_dir, broker_url=None,
                                          result_backend=None, secret=SECRET, **overrides)
        self.env.update(backends.store_env(self.settings))
        self.backend.clear(self.settings)
        self.workers: list[subprocess.Popen[bytes]] = []

    def load(self, folder: Path) -> dict[str, Any]:
        started = time.perf_counter()
        done = subprocess.run([*CLI, "load", str(folder), "--json"], env=self.env, check=True,
                              capture_output=True, text=True)
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        summary["load_s"] = time.perf_counter() - started
        return summary

    def start_workers(self, count: int) -> list[int]:
        log = (self.data_dir / "scale-worker.log").open("ab")
        for n in range(count):
            self.workers.append(subprocess.Popen(
                [*CLI, "worker", "--pool", "solo", "--hostname", f"scale{n}@%h"], env=self.env,
                stdout=log, stderr=subprocess.STDOUT))
        log.close()
        from interest_graph.tasks import TaskClient

        client = TaskClient(self.settings)
        try:
            deadline = time.monotonic() + 120
            while len(client.workers(timeout=1.0)) < count:
                if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                    raise RuntimeError(f"workers did not start; see {self.data_dir}/scale-worker.log")
        finally:
            client.close()
        return [w.pid for w in self.workers]

    def high_water_mb(self) -> float:
        return max((_status_kb(w.pid, "VmHWM") for w in self.workers), default=0) / 1024.0

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.workers = []

    def close(self) -> None:
        self.stop_workers()
        from interest_graph.server import EmbeddedServer

        EmbeddedServer(self.data_dir).stop()
        self.backend.stop()
        self.tmp.cleanup()


def full_refresh(dep: Deployment, workers: int) -> dict[str, Any]:
    """A full refresh with ``workers`` fresh worker processes: time, stages and their memory."""
    from refresh import wait

    from interest_graph.tasks import REFRESH_FULL, TaskClient

    dep.stop_workers()
    roots = dep.start_workers(workers)
    client = TaskClient(dep.settings)
    try:
        idle = tree_usage(roots)[0]
        with WorkerSampler(roots) as sampler:
            result, seconds = wait(client, client.send(REFRESH_FULL), timeout=4 * 3600,
                                   on_poll=sampler.on_poll)
        peak = max(sampler.peak, dep.high_water_mb() if workers == 1 else 0.0)
    finally:
        client.close()
    return {
        "full_refresh_s": round(seconds, 2),
        "full_refresh_cpu_s": round(sum(sampler.stage_cpu.values()), 1),
        "stages": {k: round(v, 2) for k, v in (result.get("stages") or {}).items()},
        "stage_cpu_s": {k: round(v, 1) for k, v in sampler.stage_cpu.items()},
        "stage_peak_rss_mb": {k: round(v) for k, v in sampler.stage_peak.items() if k != "idle"},
        "idle_rss_mb": round(idle), "peak_rss_mb": round(peak), "workers": workers,
        "device": result.get("device"), "texts_encoded": result.get("texts_encoded"),
        "segments": result.get("segments"),
    }


def exponent(events: list[float], values: list[float]) -> float | None:
    """Slope of log(value) against log(events); None with fewer than two sizes."""
    if len(set(events)) < 2:
        return None
    return round(float(np.polyfit(np.log(events), np.log(values), 1)[0]), 3)


def compute_only(args: argparse.Namespace, factors: list[int]) -> None:
    """One child process per factor (its own peak RSS); prints ``{"runs": [...], ...}``."""
    runs = []
    for factor in factors:
        folder = synthetic_data(args.cache_dir, factor, args.seed, args.mix, args.limit)
        cmd = [sys.executable, str(HERE / "scale_compute.py"), str(folder), "--factor",
               str(factor), "--device", args.device or "cpu", "--encoder", args.encoder,
               "--seed", str(args.seed)]
        if args.encoder_path:
            cmd += ["--encoder-path", str(args.encoder_path)]
        if args.train_epochs:
            cmd += ["--train-epochs", str(args.train_epochs)]
        print(f"×{factor}: compute stages on {args.device or 'cpu'}", file=sys.stderr)
        done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    events = [float(r["events"]) for r in runs]
    print(json.dumps({
        "runs": runs, "compute_only": True,
        "time_exponent": exponent(events, [r["compute_s"] for r in runs]),
        "memory_exponent": exponent(events, [r["peak_rss_mb"] for r in runs]),
        "factors": factors, "cpu_count": os.cpu_count(), "seed": args.seed, "mix": args.mix,
        "limit": args.limit}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factors", default="1,4,16", help="comma-separated (default 1,4,16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", type=float, default=0.25, help="see 'interestgraph synth --help'")
    parser.add_argument("--limit", type=int, default=None,
                        help="grow only the first N Online Retail records (quick trial runs)")
    parser.add_argument("--encoder", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    parser.add_argument("--train-epochs", type=int, default=None, help="default: the settings'")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "interestgraph" / "scale", help="where generated data is kept")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the throw-away data directories go")
    parser.add_argument("--trials", type=int, default=50, help="incremental trials")
    parser.add_argument("--requests", type=int, default=6000, help="API requests")
    parser.add_argument("--shard-repeat", action=argparse.BooleanOptionalAction, default=None,
                        help="repeat the largest factor with 2 workers (default: at 16× and above)")
    parser.add_argument("--shard-users", type=int, default=None,
                        help="users per shard of the refresh (default: the settings')")
    parser.add_argument("--compute-only", action="store_true",
                        help="only the compute stages, in process, no store or broker (see "
                             "scale_compute.py)")
    parser.add_argument("--encoder-path", type=Path, default=None,
                        help="--compute-only: a sentence-transformers model folder")
    backends.add_argument(parser)
    args = parser.parse_args()
    factors = sorted({int(f) for f in args.factors.split(",")})
    if args.compute_only:
        compute_only(args, factors)
        return
    largest = factors[-1]
    shard_repeat = largest >= 16 if args.shard_repeat is None else args.shard_repeat

    runs: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    for factor in factors:
        folder = synthetic_data(args.cache_dir, factor, args.seed, args.mix, args.limit)
        dep = Deployment(args.work_dir, args)
        try:
            summary = dep.load(folder)
            print(f"×{factor}: loaded {summary['events_applied']:,} events in "
                  f"{summary['load_s']:.0f}s", file=sys.stderr)
            run = {"factor": factor, "users": summary["users"], "items": summary["items"],
                   "events": summary["events_applied"], "edges": summary["edges"],
                   "rejected": summary["rejected"], "load_s": round(summary["load_s"], 2),
                   "load_events_per_s": summary["events_per_s"], **full_refresh(dep, 1)}
            run.update({k: v for k, v in dep.backend.describe().items() if k != "backend"})
            runs.append(run)
            print(f"×{factor}: full refresh {run['full_refresh_s']:.0f}s, peak "
                  f"{run['peak_rss_mb']:,} MB", file=sys.stderr)
            print(json.dumps(run), file=sys.stderr)  # kept if a later factor is stopped
            if factor != largest:
                continue
            from api import measure as measure_api
            from api import user_ids
            from refresh import incremental_latencies

            from interest_graph.graph import open_store
            from interest_graph.tasks import TaskClient

            store = open_store(dep.settings)
            client = TaskClient(dep.settings)
            try:
                lat = np.asarray(incremental_latencies(dep.settings, store, client, args.trials))
            finally:
                client.close()
                store.close()
            extra["incremental_trials"] = int(lat.size)
            extra["incremental_p50_s"] = round(float(np.percentile(lat, 50)), 3) if lat.size else None
            extra["incremental_p95_s"] = round(float(np.percentile(lat, 95)), 3) if lat.size else None
            dep.stop_workers()
            users = user_ids(dep.settings, raw_users(folder, 5000), 2000)
            api = measure_api(dep.settings, users, concurrency=16, requests=args.requests)
            extra.update(api_p99_ms=api["p99_ms"], api_p50_ms=api["p50_ms"], api_errors=api["errors"])
            print(json.dumps(extra), file=sys.stderr)  # kept if the repeat is stopped
            if shard_repeat:
                two = full_refresh(dep, 2)
                one_s = sum(run["stages"].get(s, 0.0) for s in SHARDED_STAGES)
                two_s = sum(two["stages"].get(s, 0.0) for s in SHARDED_STAGES)
                extra["shard_speedup_2_workers"] = round(one_s / two_s, 3) if two_s else None
                extra["two_workers"] = two
            if args.backend == "neo4j":
                extra["neo4j_at_end"] = dep.backend.describe()["neo4j"]
        finally:
            dep.close()

    events = [float(r["events"]) for r in runs]
    result: dict[str, Any] = {
        "backend": args.backend,
        "runs": runs,
        "time_exponent": exponent(events, [r["full_refresh_s"] for r in runs]),
        "memory_exponent": exponent(events, [r["peak_rss_mb"] for r in runs]),
        "cpu_time_exponent": exponent(events, [r["full_refresh_cpu_s"] for r in runs]),
        "shard_speedup_2_workers": None,
        "incremental_p95_s": None, "api_p99_ms": None,
        "factors": factors, "largest_factor": largest, "encoder": args.encoder,
        "device": runs[-1]["device"] if runs else None, "cpu_count": os.cpu_count(),
        "seed": args.seed, "mix": args.mix, "limit": args.limit,
    }
    result.update(extra)
    if not shard_repeat:
        result["shard_speedup_note"] = (
            f"not measured: the {largest}× run was not repeated with 2 workers (--shard-repeat,"
            " by default at 16× and above; below SHARD_USERS users there is one shard)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
