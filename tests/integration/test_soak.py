"""The soak benchmark, shortened to 30 seconds: everything at once, nothing lost, no 5xx.

Thirty seconds hold every mechanism the 30-minute run exercises: writers, readers, bad and
duplicate events, incremental refreshes every 10 s and one full refresh half-way, six windows of
RSS samples.

Latency and memory targets are the benchmark's to report (``benchmarks/soak.py --minutes 30``);
this test holds the correctness promises. Deselect with ``-m "not soak"`` when iterating.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interest_graph.settings import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.soak]


def test_half_minute_soak_loses_nothing_and_never_answers_5xx(
        cli_env: dict[str, str], shared_datasets: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "soak.py"), "--minutes", "0.5",
         "--incremental-every", "10", "--preload", "4000", "--events-per-s", "60", "--api-workers", "2",
         "--data-dir", str(tmp_path)],
        env=cli_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors_5xx"] == 0 and report["errors_connection"] == 0, report["statuses"]
    assert report["events_accepted"] == report["events_in_graph"] > 1000
    assert report["rejected"] == report["bad_sent"] > 0
    assert report["duplicates_answered"] >= report["duplicates_sent"] > 0
    assert len(report["windows"]) == 6
    assert all(w["endpoints"]["recommendations"]["n"] > 0 for w in report["windows"])
    assert report["refreshes"]["full"].get("active") == 1
    assert report["refreshes"]["incremental"].get("updated", 0) >= 1
    assert set(report["windows"][-1]["rss_mb"]) >= {"api-main", "api-child-1", "worker-main"}
