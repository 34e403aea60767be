"""benchmarks/quality.py on a generic-format folder: the JSON shape and the docs' table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
METHODS = ["ours", "popularity", "content", "ease", "rp3beta", "implicit_als"]


def _generic_folder(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    kinds = {"tea": ["green tea", "tea pot", "tea cup", "tea caddy", "tea tin", "tea spoon"],
             "garden": ["garden hose", "spade", "gloves", "rake", "trowel", "watering can"]}
    items = [{"item_id": f"{k}{j}", "title": t, "categories": [k]}
             for k, titles in kinds.items() for j, t in enumerate(titles)]
    # "tea6" first appears in the last days: a cold item for every user who gets it held out.
    items.append({"item_id": "tea6", "title": "tea cup green", "categories": ["tea"]})
    events = []
    for u in range(40):
        kind = "tea" if u % 2 == 0 else "garden"
        picks = rng.permutation(6)[:5]
        for step, j in enumerate(picks):
            events.append({"event_id": f"{u}-{step}", "user_id": f"user{u}",
                           "item_id": f"{kind}{j}", "type": "purchase",
                           "timestamp": 1_300_000_000 + 86400 * (3 * step + u % 3),
                           "quantity": 1, "price": 1.0})
        if kind == "tea" and u < 10:
            events.append({"event_id": f"{u}-new", "user_id": f"user{u}", "item_id": "tea6",
                           "type": "purchase", "timestamp": 1_300_000_000 + 86400 * 30,
                           "quantity": 1, "price": 1.0})
    folder.mkdir()
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return folder


@pytest.mark.slow
def test_quality_benchmark_on_a_generic_folder(tmp_path: Path) -> None:
    folder = _generic_folder(tmp_path / "shop")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")},
           "INTERESTGRAPH_TRAIN_EPOCHS": "3", "INTERESTGRAPH_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--dataset", str(folder),
         "--encoder", "hashing", "--cache", str(tmp_path / "cache.sqlite"),
         "--methods", ",".join(METHODS), "--markdown"],
        env=env, check=True, capture_output=True, text=True, timeout=600).stdout
    result = json.loads(out.strip().splitlines()[-1])
    methods = result["datasets"]["shop"]
    assert list(methods) == METHODS
    for m in methods.values():
        assert set(m) >= {"recall@20", "ndcg@20", "hit@10", "coverage", "cold_recall@20", "fit_s"}
        assert 0.0 <= m["recall@20"] <= 1.0 and m["cold_recall@20"] is not None
    assert result["info"]["shop"]["cold_test_pairs"] > 0
    assert "| shop | **ours** |" in out
    saved = tmp_path / "result.json"
    saved.write_text(out)
    table = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--markdown-from", str(saved)],
        env=env, check=True, capture_output=True, text=True).stdout
    assert table.splitlines()[0].startswith("| dataset | method |")
    assert len(table.splitlines()) == 2 + len(METHODS)
