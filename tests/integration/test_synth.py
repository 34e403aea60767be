"""``interestgraph synth`` then ``interestgraph load``: the grown data loads with nothing rejected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interest_graph.graph import GraphStore
from interest_graph.graph.ingest import IngestRepository

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "interest_graph.cli"]


def run_json(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run([*CLI, *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_grown_data_loads_with_nothing_rejected(falkor_store: GraphStore, cli_env: dict[str, str],
                                                shared_datasets: Path, tmp_path: Path) -> None:
    out = tmp_path / "grown"
    report = run_json(cli_env, "synth", "--factor", "3", "--seed", "2", "--limit", "6000", str(out))
    assert report["shape_ok"] is True
    shape = report["shape"]
    assert isinstance(shape, dict)
    loaded = run_json(cli_env, "load", str(out))
    assert (loaded["rejected"], loaded["duplicates"], loaded["skipped"]) == (0, 0, {})
    assert loaded["events_applied"] == report["events"] == 3 * shape["events"]["real"]
    assert (loaded["users"], loaded["items"]) == (report["users"], report["items"])
    assert loaded["edges"] == 3 * shape["edges"]["real"]
    assert IngestRepository(falkor_store).counts().events == report["events"]
