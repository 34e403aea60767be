"""Audiences and experiments replayed on UCI Online Retail, in one run.

    python benchmarks/experiments.py [--cutoff 2011-09-01] [--experiments 20] [--encoder minilm]
                                     [--epochs 36] [--data-dir DIR]

Loads the events before the cutoff (and every item) into a throw-away embedded server, runs a full
refresh through a real worker, then creates "champions and loyal customers interested in HOLDER"
with a 10% control group, the same audience under ``--experiments`` other experiment keys (an A/A
test: no campaign is sent, so a difference between arms is chance), and a recommendation
experiment (arms served by the model's INTERESTED_IN and by popularity). Then it loads the rest of
the events and reports, per arm, conversion (any purchase; a HOLDER purchase), revenue per member
and served-recommendation hit rate, with 95% intervals. It also times streaming the export of an
audience of every user (over 4,000) through the API on the embedded store, and checks the tests'
size by re-splitting the HOLDER cohort under ``--splits`` more keys in memory (how often each test
rejects and each interval misses 0, both nominally 5%). Prints one JSON object as its last line:
``{"experiments", "false_positives", "arms", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from interest_graph.api import create_app
from interest_graph.audiences.arms import ArmAssigner, parse_arms
from interest_graph.audiences.outcomes import MemberOutcome, mean_difference, proportion_difference
from interest_graph.audiences.service import AudienceService, Report
from interest_graph.graph import open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.ingest.datasets import open_dataset
from interest_graph.ingest.loading import make_ingestor
from interest_graph.ingest.records import Event
from interest_graph.server import EmbeddedServer
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_FULL, TaskClient

SECRET = "experiments-benchmark"
API_KEY = "benchmark-key"
# "Interested in HOLDER": HOLDER among the user's top-5 category interests, or a HOLDER item among
# their top-10 recommendations (the first alone selects few: 690 categories compete for 5 places).
RULE = {"all": [
    {"field": "value_tier", "op": "in", "value": ["champions", "loyal"]},
    {"any": [{"field": "category_interest", "category": "HOLDER", "op": "rank_lte", "value": 5},
             {"field": "recommended_category", "category": "HOLDER", "op": "rank_lte", "value": 10}]}]}
CONTROL_10 = [{"name": "treatment", "weight": 90}, {"name": "control", "weight": 10}]


def refresh(settings: Settings, env: dict[str, str], log: Path) -> tuple[dict[str, Any], float]:
    """One full refresh through a real worker process, which is stopped afterwards."""
    with log.open("ab") as out:
        worker = subprocess.Popen([sys.executable, "-m", "interest_graph.cli", "worker",
                                   "--pool", "solo"], env=env, stdout=out, stderr=subprocess.STDOUT)
    client = TaskClient(settings)
    started = time.perf_counter()
    try:
        task_id = client.send(REFRESH_FULL)
        while not (state := client.state(task_id)).done:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited; see {log}")
            time.sleep(0.2)
        if state.state != "SUCCESS":
            raise RuntimeError(f"refresh failed: {state.error}")
        return state.result or {}, time.perf_counter() - started
    finally:
        client.close()
        worker.terminate()
        worker.wait(timeout=60)


def arm_summary(report: Report) -> list[dict[str, Any]]:
    def r(x: Any) -> Any:
        return round(x, 4) if isinstance(x, float) else x

    out = []
    for arm in report.arms:
        entry: dict[str, Any] = {"arm": arm.arm, "members": arm.members}
        for key in ("conversion", "target_conversion", "revenue_per_member", "hit_rate"):
            value = getattr(arm, key)
            if value is not None:
                entry[key] = {k: r(v) for k, v in asdict(value).items()}
        out.append(entry)
    return out


def time_export(app: Any, audience: str, fmt: str) -> tuple[float, int, int]:
    """Seconds to stream the whole export through the API, bytes and lines received."""
    client = app.test_client()
    started = time.perf_counter()
    response = client.get(f"/v1/audiences/{audience}/export?format={fmt}",
                          headers={"X-API-Key": API_KEY})
    assert response.status_code == 200 and response.is_streamed
    size = lines = 0
    for chunk in response.response:
        size += len(chunk)
        lines += chunk.count(b"\n")
    return time.perf_counter() - started, size, lines


def calibration(members: list[MemberOutcome], splits: int) -> dict[str, Any]:
    """The A/A test at scale: the cohort re-split under ``splits`` more keys (same arms), and how
    often each test rejects (should be about 5%) and each interval misses 0 (about 5%)."""
    assigner = ArmAssigner(SECRET)
    arms = parse_arms(CONTROL_10)
    users = [m.user for m in members]
    converted = np.array([m.converted for m in members])
    revenue = np.array([m.revenue for m in members])
    counts = {"conversion_p": 0, "conversion_ci_miss": 0, "revenue_p": 0, "revenue_ci_miss": 0,
              "revenue_welch_p": 0}
    for k in range(splits):
        control = np.array(assigner.assign(f"calibration-{k}", users, arms)) == "control"
        conv = proportion_difference(int(converted[~control].sum()), int((~control).sum()),
                                     int(converted[control].sum()), int(control.sum()))
        rev = mean_difference(revenue[~control], revenue[control])
        welch = stats.ttest_ind(revenue[~control], revenue[control], equal_var=False).pvalue
        counts["revenue_welch_p"] += bool(welch < 0.05)  # the test the report does not use
        for name, d in (("conversion", conv), ("revenue", rev)):
            counts[f"{name}_p"] += d.p_value is not None and d.p_value < 0.05
            counts[f"{name}_ci_miss"] += (d.low is not None and d.high is not None
                                          and not d.low <= 0.0 <= d.high)
    return {"splits": splits, **{f"{k}_rate": round(v / splits, 4) for k, v in counts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cutoff", default="2011-09-01", help="UTC date the experiments start")
    parser.add_argument("--experiments", type=int, default=20, help="A/A experiments (keys)")
    parser.add_argument("--splits", type=int, default=1000,
                        help="A/A re-splits of the cohort in memory, to check the tests' size")
    parser.add_argument("--encoder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--epochs", type=int, default=None, help="GCN epochs (default: settings)")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    cutoff = datetime.fromisoformat(args.cutoff).replace(tzinfo=UTC).timestamp()

    tmp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="ig-experiments-")
    data_dir = args.data_dir or Path(tmp.name)  # type: ignore[union-attr]
    overrides: dict[str, Any] = {"data_dir": data_dir, "graph_uri": None, "broker_url": None,
                                 "result_backend": None, "secret": SECRET, "encoder": args.encoder}
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")}
    env.update(INTERESTGRAPH_DATA_DIR=str(data_dir), INTERESTGRAPH_SECRET=SECRET,
               INTERESTGRAPH_ENCODER=args.encoder, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if "INTERESTGRAPH_DATASETS_DIR" in os.environ:
        env["INTERESTGRAPH_DATASETS_DIR"] = os.environ["INTERESTGRAPH_DATASETS_DIR"]
    if args.epochs is not None:
        overrides["train_epochs"] = args.epochs
        env["INTERESTGRAPH_TRAIN_EPOCHS"] = str(args.epochs)
    settings = Settings.from_env(**overrides)
    timings: dict[str, float] = {}
    EmbeddedServer(data_dir).start()
    store = open_store(settings)
    try:
        store.init_schema()
        started = time.perf_counter()
        records = list(open_dataset("online-retail", settings.datasets_dir).records())
        before = [r for r in records if not isinstance(r, Event) or r.ts < cutoff]
        after = [r for r in records if isinstance(r, Event) and r.ts >= cutoff]
        ingestor = make_ingestor(settings, IngestRepository(store))
        loaded_before = ingestor.run(before)
        timings["load_before_s"] = time.perf_counter() - started
        report, timings["full_refresh_s"] = refresh(settings, env, data_dir / "worker.log")

        started = time.perf_counter()
        service = AudienceService.open(store, settings)
        name = "Champions and loyal customers interested in HOLDER"
        main_audience = service.create({"name": name, "rule": RULE, "arms": CONTROL_10,
                                        "experiment_key": "holder-2011-09"})
        aa = [service.create({"name": f"{name} (A/A {n})", "rule": RULE, "arms": CONTROL_10,
                              "experiment_key": f"aa-{n:02d}"}) for n in range(args.experiments)]
        recs = service.create({
            "name": "Recommendation experiment: model vs popularity",
            "rule": {"field": "frequency", "op": "gte", "value": 1}, "recommendations": 10,
            "arms": [{"name": "model", "weight": 50, "scorer": "model"},
                     {"name": "popular", "weight": 50, "scorer": "popular"}]})
        timings["create_audiences_s"] = time.perf_counter() - started

        started = time.perf_counter()
        loaded_after = ingestor.run(after)
        timings["load_after_s"] = time.perf_counter() - started

        started = time.perf_counter()
        main_report = service.report(main_audience.id)
        calibrated = calibration(service.member_outcomes(main_audience.id), args.splits)
        aa_reports = [service.report(a.id) for a in aa]
        recs_report = service.report(recs.id)
        timings["reports_s"] = time.perf_counter() - started

        everyone = service.create({"name": "Everyone", "rule": {"field": "events", "op": "gte",
                                                                "value": 1}})
        app = create_app(settings.with_overrides(api_keys={API_KEY: frozenset({"read"})}))
        csv_s, csv_bytes, csv_lines = time_export(app, everyone.id, "csv")
        jsonl_s, jsonl_bytes, jsonl_lines = time_export(app, everyone.id, "jsonl")
    finally:
        store.close()
        if tmp is not None:
            EmbeddedServer(data_dir).stop()
            tmp.cleanup()

    p_values = [r.comparisons[0].conversion.p_value for r in aa_reports]
    revenue_p = [r.comparisons[0].revenue_per_member.p_value for r in aa_reports]
    main_cmp = main_report.comparisons[0]
    result = {
        "experiments": len(aa_reports),
        "false_positives": sum(1 for p in p_values if p is not None and p < 0.05),
        "arms": arm_summary(main_report),
        "audience": {"name": name, "members": main_audience.size, "cohort": main_report.cohort,
                     "conversion_diff": asdict(main_cmp.conversion),
                     "revenue_diff": asdict(main_cmp.revenue_per_member)},
        "aa_conversion_p_values": [None if p is None else round(p, 4) for p in p_values],
        "aa_revenue_false_positives": sum(1 for p in revenue_p if p is not None and p < 0.05),
        "aa_calibration": calibrated,
        "recommendation_arms": arm_summary(recs_report),
        "recommendation_hit_rate_diff": (None if recs_report.comparisons[0].hit_rate is None
                                         else asdict(recs_report.comparisons[0].hit_rate)),
        "export": {"members": everyone.size, "csv_s": round(csv_s, 3), "csv_bytes": csv_bytes,
                   "csv_rows": csv_lines - 1, "jsonl_s": round(jsonl_s, 3),
                   "jsonl_rows": jsonl_lines, "jsonl_bytes": jsonl_bytes},
        "cutoff": args.cutoff,
        "events_before": loaded_before.events_applied, "events_after": loaded_after.events_applied,
        "refresh": {"users": report.get("users"), "items": report.get("items"),
                    "encoder": args.encoder, "epochs": settings.train_epochs,
                    "device": report.get("device")},
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
