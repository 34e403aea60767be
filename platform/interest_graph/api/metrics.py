"""``GET /metrics``: Prometheus text format, hand-written (no extra dependency).

Request counts and latency histograms per endpoint, method and status, for this process (under
gunicorn each worker has its own; scrape through a per-worker port or sum in Prometheus), plus
the graph's counts (cached for ``GRAPH_COUNTS_TTL_S``: they scan the graph).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from flask import Blueprint, Flask, Response, g, request

from . import extensions as ext

bp = Blueprint("metrics", __name__)

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GRAPH_COUNTS_TTL_S = 30.0


class RequestMetrics:
    """Thread-safe counters and histograms keyed by (endpoint, method, status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self.sums: dict[tuple[str, str, str], float] = defaultdict(float)
        self.buckets: dict[tuple[str, str, str], list[int]] = {}
        self._graph: tuple[float, dict[str, Any]] | None = None

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, str(status))
        with self._lock:
            self.counts[key] += 1
            self.sums[key] += seconds
            hist = self.buckets.setdefault(key, [0] * len(BUCKETS))
            for n, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    hist[n] += 1

    def graph_counts(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._graph is None or now - self._graph[0] > GRAPH_COUNTS_TTL_S:
            row = ext.store().read("stats/count_graph")[0]
            self._graph = (now, row)
        return self._graph[1]

    def render(self) -> str:
        lines = [
            "# HELP interestgraph_http_requests_total HTTP requests by endpoint, method, status.",
            "# TYPE interestgraph_http_requests_total counter",
        ]
        with self._lock:
            keys = sorted(self.counts)
            counts = dict(self.counts)
            sums = dict(self.sums)
            buckets = {k: list(v) for k, v in self.buckets.items()}
        for key in keys:
            lines.append(f"interestgraph_http_requests_total{{{_labels(key)}}} {counts[key]}")
        lines += [
            "# HELP interestgraph_http_request_duration_seconds Request latency.",
            "# TYPE interestgraph_http_request_duration_seconds histogram",
        ]
        for key in keys:
            labels = _labels(key)
            for bound, count in zip(BUCKETS, buckets[key], strict=True):
                lines.append("interestgraph_http_request_duration_seconds_bucket"
                             f"{{{labels},le=\"{bound}\"}} {count}")
            lines.append("interestgraph_http_request_duration_seconds_bucket"
                         f"{{{labels},le=\"+Inf\"}} {counts[key]}")
            lines.append(f"interestgraph_http_request_duration_seconds_sum{{{labels}}} "
                         f"{sums[key]:.6f}")
            lines.append(f"interestgraph_http_request_duration_seconds_count{{{labels}}} "
                         f"{counts[key]}")
        graph = self.graph_counts()
        lines += ["# HELP interestgraph_graph_nodes Nodes in the graph by label.",
                  "# TYPE interestgraph_graph_nodes gauge"]
        for label, column in (("User", "users"), ("Item", "items"), ("Category", "categories"),
                              ("Event", "events")):
            lines.append(f'interestgraph_graph_nodes{{label="{label}"}} {int(graph[column] or 0)}')
        lines += ["# HELP interestgraph_graph_interaction_edges INTERACTED edges.",
                  "# TYPE interestgraph_graph_interaction_edges gauge",
                  f"interestgraph_graph_interaction_edges {int(graph['edges'] or 0)}"]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(key: tuple[str, str, str]) -> str:
    endpoint, method, status = key
    return f'endpoint="{_escape(endpoint)}",method="{_escape(method)}",status="{status}"'


def init_metrics(app: Flask) -> None:
    """Time every request and count it under its endpoint name (never its raw path)."""
    metrics = RequestMetrics()
    app.extensions["metrics"] = metrics

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            metrics.observe(request.endpoint or "unmatched", request.method,
                            response.status_code, time.perf_counter() - started)
        return response


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition format 0.0.4."""
    from flask import current_app

    text = current_app.extensions["metrics"].render()
    return Response(text, mimetype="text/plain", headers={"Content-Type":
                                                          "text/plain; version=0.0.4; charset=utf-8"})
