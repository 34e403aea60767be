"""Customer-value benchmark: BG/NBD fit times, parameters vs published, holdout forecast vs actual.

Run from the repository root::

    PYTHONPATH=platform:workers python benchmarks/value.py [--datasets DIR]

Prints one JSON object: fit times on CDNOW_sample and on Online Retail customers, the CDNOW_sample
parameters next to Fader, Hardie & Lee (2005), and on CDNOW_master (39-week calibration ending
1997-09-30, holdout weeks 40-78 ending 1998-06-30) the expected vs actual holdout repeat purchases,
in total and by number of calibration repeat purchases (0..7+), as in the paper's Figure 3.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from interest_workers.pipelines.value.value import (
    purchase_occasions,
    rfm_scores,
    summarize_customers,
    transactions_from_events,
)
from interest_workers.pipelines.value.value_model import LIBRARY, fit_value_model, score_customers

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"
HOLDOUT_WEEKS = 39.0


def read_cdnow(path: Path) -> pd.DataFrame:
    """CDNOW_sample (orig id, sample id, date, CDs, $) or _master (id, date, CDs, $; header)."""
    if path.name == "CDNOW_sample.txt":
        names = ["orig_id", "customer_id", "date", "cds", "value"]
        raw = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype={"date": str})
    else:
        names = ["customer_id", "date", "cds", "value"]
        raw = pd.read_csv(path, sep=r"\s+", header=0, names=names, dtype={"date": str})
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "value": raw["value"],
        }
    )


def timed_fit(transactions: pd.DataFrame, end: str) -> tuple[Any, Any, float, float]:
    """Summarise and fit; returns summary, fit, summary seconds, fit seconds."""
    t0 = time.perf_counter()
    summary = summarize_customers(transactions, end, time_unit="W")
    t1 = time.perf_counter()
    fit = fit_value_model(summary)
    t2 = time.perf_counter()
    return summary, fit, t1 - t0, t2 - t1


def cdnow_sample(datasets: Path) -> dict[str, Any]:
    """Fit on CDNOW_sample and compare with the published parameters."""
    transactions = read_cdnow(datasets / "cdnow" / "CDNOW_sample.txt")
    _, fit, summary_s, fit_s = timed_fit(transactions, CALIBRATION_END)
    params = {k: getattr(fit, k) for k in PUBLISHED}
    return {
        "n_customers": fit.n_customers,
        "summary_seconds": round(summary_s, 3),
        "fit_seconds": round(fit_s, 3),
        "params": {k: round(v, 4) for k, v in params.items()},
        "published": PUBLISHED,
        "relative_error": {
            k: round(abs(params[k] - v) / abs(v), 5) for k, v in PUBLISHED.items()
        },
        "gamma_gamma": {"p": fit.p, "q": fit.q, "v": fit.v},
    }


def cdnow_master_holdout(datasets: Path) -> dict[str, Any]:
    """Calibrate on CDNOW_master to 1997-09-30, forecast weeks 40-78, compare with actuals."""
    transactions = read_cdnow(datasets / "cdnow" / "CDNOW_master.txt")
    summary, fit, summary_s, fit_s = timed_fit(transactions, CALIBRATION_END)
    scores = score_customers(fit, summary, horizon_days=HOLDOUT_WEEKS * 7)

    occasions = purchase_occasions(transactions)
    cal_end = (pd.Timestamp(CALIBRATION_END) - pd.Timestamp("1970-01-01")).days
    hold_end = (pd.Timestamp(HOLDOUT_END) - pd.Timestamp("1970-01-01")).days
    holdout = occasions[(occasions["day"] > cal_end) & (occasions["day"] <= hold_end)]
    actual = holdout.groupby("customer_id").size().reindex(summary.frame.index, fill_value=0)

    x = summary.frame["frequency"].clip(upper=7).astype(int)
    table = (
        pd.DataFrame({"x": x, "actual": actual, "expected": scores["expected_purchases"]})
        .groupby("x")
        .agg(customers=("actual", "size"), actual=("actual", "mean"), expected=("expected", "mean"))
    )
    rows = [
        {
            "calibration_repeats": f"{k}+" if k == 7 else str(k),
            "customers": int(row["customers"]),
            "actual_mean": round(float(row["actual"]), 3),
            "expected_mean": round(float(row["expected"]), 3),
        }
        for k, row in table.iterrows()
    ]
    total_actual = int(actual.sum())
    total_expected = float(scores["expected_purchases"].sum())
    return {
        "n_customers": fit.n_customers,
        "summary_seconds": round(summary_s, 3),
        "fit_seconds": round(fit_s, 3),
        "params": {k: round(getattr(fit, k), 4) for k in ("r", "alpha", "a", "b")},
        "holdout_total_actual": total_actual,
        "holdout_total_expected": round(total_expected, 1),
        "holdout_total_error_pct": round(100 * (total_expected - total_actual) / total_actual, 2),
        "by_calibration_repeats": rows,
    }


def online_retail(datasets: Path) -> dict[str, Any]:
    """Fit on all Online Retail customers (end = last invoice day), RFM tiers, 90-day value."""
    from interest_graph.ingest.datasets import read_dataset

    t0 = time.perf_counter()
    ds = read_dataset("online-retail", datasets)
    transactions = transactions_from_events(ds.events)
    read_s = time.perf_counter() - t0
    end = str(transactions["ts"].max().date())
    summary, fit, summary_s, fit_s = timed_fit(transactions, end)
    t0 = time.perf_counter()
    scores = score_customers(fit, summary, horizon_days=90)
    rfm = rfm_scores(summary)
    score_s = time.perf_counter() - t0
    return {
        "observation_end": end,
        "n_transactions": len(transactions),
        "n_returns": int((transactions["value"] < 0).sum()),
        "n_customers": fit.n_customers,
        "read_seconds": round(read_s, 2),
        "summary_seconds": round(summary_s, 3),
        "fit_seconds": round(fit_s, 3),
        "score_and_rfm_seconds": round(score_s, 3),
        "fit": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in fit.as_dict().items()},
        "expected_purchases_90d_total": round(float(scores["expected_purchases"].sum()), 1),
        "expected_value_90d_total": round(float(np.nansum(scores["expected_value"])), 0),
        "median_churn_risk": round(float(scores["churn_risk"].median()), 3),
        "rfm_tiers": {k: int(v) for k, v in rfm["tier"].value_counts().items()},
    }


def main() -> None:
    """Run all three parts and print the JSON report."""
    repo = Path(__file__).resolve().parents[1]
    default = os.environ.get("INTERESTGRAPH_DATASETS_DIR", str(repo.parent / "shared" / "datasets"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(default))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report = {
        "library": LIBRARY,
        "cdnow_sample": cdnow_sample(args.datasets),
        "cdnow_master_holdout": cdnow_master_holdout(args.datasets),
        "online_retail": online_retail(args.datasets),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
