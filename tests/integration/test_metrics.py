"""``/metrics`` under gunicorn: every worker's samples in every scrape, across worker restarts."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .serving import children, request, serving

pytestmark = [pytest.mark.integration]

KEY = "metrics-key"
REQUESTS = 60


def totals(text: str) -> dict[str, float]:
    """Request counters by their labels, leaving out the scrapes themselves."""
    out = {}
    for line in text.splitlines():
        if line.startswith("interestgraph_http_requests_total{") and "metrics.metrics" not in line:
            labels, value = line.rsplit(" ", 1)
            out[labels] = float(value)
    return out


def sample(text: str, name: str) -> float:
    return float(next(line for line in text.splitlines() if line.startswith(name)).split()[-1])


def test_scrapes_agree_across_two_gunicorn_workers_and_survive_a_restart(
        backend_env: dict[str, str], tmp_path: Path) -> None:
    env = {**backend_env, "INTERESTGRAPH_API_KEYS": f"{KEY}:read+write"}
    with serving(env, tmp_path / "serve.log", workers=2) as (base, proc):
        # Concurrent clients, so that both sync workers serve some of them.
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: request(base + "/openapi.json")[0], range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        status, body = request(base + "/v1/events", KEY, {"events": [
            {"event_id": "m-1", "user_id": "m", "item_id": "i", "type": "view", "timestamp": 1323000000},
            {"event_id": "m-1", "user_id": "m", "item_id": "i", "type": "view", "timestamp": 1323000000},
            {"event_id": "m-2", "user_id": "m", "item_id": "i", "type": "levitate",
             "timestamp": 1323000000}]})
        assert status == 202 and (body["accepted"] + body["duplicates"], body["rejected"]) == (2, 1)

        scrapes = [request(base + "/metrics", KEY)[1] for _ in range(6)]
        assert len({tuple(sorted(totals(s).items())) for s in scrapes}) == 1, "scrapes disagree"
        first = scrapes[0]
        key = 'interestgraph_http_requests_total{endpoint="openapi.spec",method="GET",status="200"}'
        assert totals(first)[key] == REQUESTS
        assert sample(first, 'interestgraph_events_total{outcome="rejected"}') == 1
        assert sample(first, 'interestgraph_http_request_duration_seconds_count{'
                      'endpoint="openapi.spec",method="GET",status="200"}') == REQUESTS
        assert "interestgraph_refresh_age_seconds" in first
        assert "interestgraph_graph_nodes{" in first

        # A worker killed and replaced: its counts stay in the totals.
        workers = children(proc.pid)
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while set(children(proc.pid)) & set(workers) == set(workers) or \
                len(children(proc.pid)) < 2:
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.1)
        after = request(base + "/metrics", KEY)[1]
        assert totals(after)[key] == REQUESTS
