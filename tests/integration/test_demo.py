"""``interestgraph demo``: the main job on the user's own generic-format folder, and the message a
newcomer without the public datasets gets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from harness import write_folder

from interest_graph.graph import GraphStore

from .conftest import CLI, RetailSlice

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_runs_the_main_job_on_a_generic_folder(
        falkor_store: GraphStore, cli_env: dict[str, str], retail_slice: RetailSlice,
        tmp_path: Path) -> None:
    events = retail_slice.events[:1000]  # ~50 customers, ~600 products: enough for every stage
    used = {e["item_id"] for e in events}
    items = [item for line in (retail_slice.folder / "items.jsonl").read_text().splitlines()
             if (item := json.loads(line))["item_id"] in used]
    folder = write_folder(tmp_path / "shop", events, items)
    env = {**cli_env, "INTERESTGRAPH_ENCODER": "hashing", "INTERESTGRAPH_TRAIN_EPOCHS": "2",
           "INTERESTGRAPH_DATASETS_DIR": "/nonexistent/datasets"}
    result = subprocess.run([*CLI, "demo", str(folder), "--users", "2"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert f"loaded events: {len(events):,} events applied" in out
    assert "stage timings: pull" in out and "segments (silhouette" in out
    assert out.count("\nuser u") == 2 and "[" in out.split("\nuser u")[1], "interests with scores"
    assert falkor_store.read("stats/refresh_summary")[0]["segmented_users"] > 0


def test_demo_without_the_datasets_names_them_and_the_generic_alternative(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "INTERESTGRAPH_DATASETS_DIR": str(tmp_path / "datasets")}
    result = subprocess.run([*CLI, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "UCI Machine Learning Repository" in result.stderr
    assert str(tmp_path / "datasets" / "online-retail" / "online_retail.csv.gz") in result.stderr
    assert "interestgraph demo PATH" in result.stderr
