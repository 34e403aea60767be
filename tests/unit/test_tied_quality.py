"""Timestamps that tie cost no quality: the same fixed split of MovieLens-100K with every event at
one time and with times spread at random inside that day gives the same served quality.

Before the carve ordered ties by a hash of (user, item), a tied carve held out each user's highest
item ids, and the fit's choices (epochs, variants, weights) were made on that biased sample.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from interest_graph.ingest.datasets import read_dataset
from interest_graph.recipe import EdgeRecipe
from interest_workers.pipelines.evaluation.evaluation import run_benchmark
from interest_workers.pipelines.model.features import HashingEncoder
from interest_workers.pipelines.model.interest_model import FitConfig

pytestmark = pytest.mark.slow

DAY = 86_400.0
CONFIG = FitConfig(max_epochs=3, embedding_dim=16, l2_grid=(300.0,), rp3_alphas=(0.5, 1.0),
                   rp3_betas=(0.0, 0.3), sequence_decays=(0.7,), filter_betas=(0.0, 0.3),
                   filter_times=(0.0, 1.0), blend_resamples=2)


def test_tied_and_day_spread_timestamps_give_the_same_quality(shared_datasets: Path) -> None:
    ds = read_dataset("ml-100k", shared_datasets)
    rng = np.random.default_rng(7)
    # A fixed random split (20% of each user's items), so only the training times differ.
    test_mask = rng.random(len(ds.events)) < 0.2
    base = 1_600_000_000.0
    train = [e for e, t in zip(ds.events, test_mask) if not t]
    test = [e for e, t in zip(ds.events, test_mask) if t]
    spread = rng.uniform(0.0, DAY, len(train))
    results = {}
    for name, times in (("tied", np.full(len(train), base)), ("day", base + spread)):
        events = [replace(e, ts=float(ts)) for e, ts in zip(train, times)]
        out = run_benchmark(events, ds.items, HashingEncoder(32), recipe=EdgeRecipe(),
                            config=CONFIG, methods=["ours"],
                            test_events=[replace(e, ts=base + DAY) for e in test])
        results[name] = out["methods"]["ours"]
    tied, day = results["tied"], results["day"]
    assert day["recall@20"] > 0.15, day
    for key in ("recall@20", "ndcg@20"):
        assert tied[key] == pytest.approx(day[key], rel=0.06), (key, tied, day)
