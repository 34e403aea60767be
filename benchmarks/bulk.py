"""Bulk import (``interestgraph load --bulk``) of Online Retail × factor into a fresh Neo4j.

    python benchmarks/bulk.py [--factor 16] [--compare-load]

The data is ``scale.py``'s (``interestgraph synth``, cached in ``--cache-dir``). A throw-away
Neo4j 5.26 is started with ``tools/neo4j-test-server`` (``NEO4J_HEAP``, ``NEO4J_PAGECACHE``),
``interestgraph load --bulk`` runs as a user runs it, with the launcher's ``import`` as the import
command, and the time is taken end to end: reading and folding the records and writing the CSVs
(``files``), the offline import with the server's stop and restart (``import``), the schema and
the finishing touches (``finish``). ``--compare-load`` then clears the graph and loads the same
folder the ordinary way into the same server, for the ratio.

Last line, JSON: ``{"factor", "events", "bulk_s", "bulk_events_per_s", "stages", "edges",
"users", "items", "neo4j": {heap, pagecache, store_mb, jvm_peak_rss_mb}, "load_events_per_s"?,
"bulk_vs_load"?}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backends import LAUNCHER, GraphBackend, process_env
from scale import CLI, synthetic_data

from interest_graph.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factor", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", type=float, default=0.25)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "interestgraph" / "scale")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--compare-load", action="store_true",
                        help="also load the same data the ordinary way (slow at 16×)")
    args = parser.parse_args()
    if os.environ.get("NEO4J_URI"):
        parser.error("the benchmark starts its own Neo4j (the import replaces the database): "
                     "unset NEO4J_URI")
    folder = synthetic_data(args.cache_dir, args.factor, args.seed, args.mix, args.limit)
    with tempfile.TemporaryDirectory(prefix="ig-bulk-", dir=args.work_dir) as tmp, \
            GraphBackend("neo4j", Path(tmp)) as backend:
        settings = Settings.from_env({}, data_dir=Path(tmp) / "data", secret="benchmark-secret",
                                     **backend.overrides())
        env = process_env(settings, INTERESTGRAPH_DATA_DIR=str(settings.data_dir),
                          INTERESTGRAPH_SECRET="benchmark-secret",
                          INTERESTGRAPH_NEO4J_IMPORT_COMMAND=f"{LAUNCHER} import --state "
                                                             f"{backend.state}")
        started = time.perf_counter()
        done = subprocess.run([*CLI, "load", "--bulk", str(folder), "--json"], env=env,
                              capture_output=True, text=True)
        bulk_s = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"load --bulk failed:\n{done.stderr[-4000:]}")
        bulk = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"×{args.factor}: bulk-imported {bulk['events_applied']:,} events in {bulk_s:.0f}s "
              f"{bulk['stages']}", file=sys.stderr)
        result = {"factor": args.factor, "events": bulk["events_applied"],
                  "bulk_s": round(bulk_s, 2),
                  "bulk_events_per_s": round(bulk["events_applied"] / bulk_s, 1),
                  "stages": bulk["stages"], "users": bulk["users"], "items": bulk["items"],
                  "edges": bulk["edges"], "cpu_count": os.cpu_count(),
                  **backend.describe()}
        if args.compare_load:
            subprocess.run([*CLI, "reset", "--yes"], env=env, check=True, capture_output=True)
            started = time.perf_counter()
            done = subprocess.run([*CLI, "load", str(folder), "--json"], env=env,
                                  capture_output=True, text=True, check=True)
            load_s = time.perf_counter() - started
            load = json.loads(done.stdout.strip().splitlines()[-1])
            assert load["edges"] == bulk["edges"], (load, bulk)
            result.update(load_s=round(load_s, 2),
                          load_events_per_s=round(load["events_applied"] / load_s, 1),
                          bulk_vs_load=round(load_s / bulk_s, 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
