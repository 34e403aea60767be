"""``GET /metrics``: Prometheus metrics with ``prometheus_client``, whole-server under gunicorn.

Request counts and latency histograms per endpoint, method and status, and events accepted,
duplicate and rejected by ``POST /v1/events``. Under gunicorn (``interestgraph serve``) every
worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and a scrape, whichever worker answers
it, sums them all (``prometheus_client`` multiprocess mode), so two scrapes agree. Without that
variable (``--dev``, tests) the process's own registry is served.

Read from the graph at scrape time (cached for ``GRAPH_COUNTS_TTL_S``: they scan it): node and
edge counts, the age of the active full refresh and of the incremental watermark, and the stage
durations of the newest full refresh, for alerts such as "no full refresh for 2 days".
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ..graph import GraphStore
from ..graph.streams import StreamProgress, StreamRepository
from . import extensions as ext

bp = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GRAPH_COUNTS_TTL_S = 30.0

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: nothing an alert uses
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("interestgraph_http_requests", "HTTP requests by endpoint, method, status.",
                   ["endpoint", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("interestgraph_http_request_duration_seconds", "Request latency.",
                    ["endpoint", "method", "status"], buckets=BUCKETS, registry=REGISTRY)
EVENTS = Counter("interestgraph_events", "Events posted to the API by outcome "
                 "(accepted, duplicate, rejected).", ["outcome"], registry=REGISTRY)
SOURCE_EVENTS = Counter("interestgraph_source_events", "Events posted to a source endpoint "
                        "(POST /v1/sources/...) by outcome (accepted, duplicate, rejected, ignored).",
                        ["source", "outcome"], registry=REGISTRY)


def count_events(accepted: int, duplicates: int, rejected: int) -> None:
    """Count one ``POST /v1/events`` batch."""
    for outcome, n in (("accepted", accepted), ("duplicate", duplicates), ("rejected", rejected)):
        if n:
            EVENTS.labels(outcome).inc(n)


def count_source_events(source: str, accepted: int, duplicates: int, rejected: int,
                        ignored: int) -> None:
    """Count one batch posted to a source endpoint (rejected and ignored count messages)."""
    for outcome, n in (("accepted", accepted), ("duplicate", duplicates), ("rejected", rejected),
                       ("ignored", ignored)):
        if n:
            SOURCE_EVENTS.labels(source, outcome).inc(n)


class GraphCollector(Collector):
    """Gauges read from the graph when scraped, cached for ``GRAPH_COUNTS_TTL_S``."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    def _read(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > GRAPH_COUNTS_TTL_S:
                counts = self.store.read("stats/count_graph")
                state = self.store.read("refresh/read_state")
                history = self.store.read("refresh/refresh_history", limit=10)
                streams = StreamRepository(self.store).read()
                self._cached = (now, {"counts": counts[0] if counts else {},
                                      "state": state[0] if state else {}, "history": history,
                                      "streams": streams})
            return self._cached[1]

    def collect(self) -> Iterator[Metric]:
        data = self._read()
        counts, state = data["counts"], data["state"]
        nodes = GaugeMetricFamily("interestgraph_graph_nodes", "Nodes in the graph by label.",
                                  labels=["label"])
        for label, column in (("User", "users"), ("Item", "items"), ("Category", "categories"),
                              ("Event", "events")):
            nodes.add_metric([label], float(counts.get(column) or 0))
        yield nodes
        yield GaugeMetricFamily("interestgraph_graph_interaction_edges", "INTERACTED edges.",
                                value=float(counts.get("edges") or 0))
        now = time.time()
        done = GaugeMetricFamily(
            "interestgraph_refresh_last_success_timestamp_seconds",
            "When the active full refresh completed, and the incremental watermark (epoch s).",
            labels=["kind"])
        age = GaugeMetricFamily("interestgraph_refresh_age_seconds",
                                "Seconds since the last successful refresh of each kind.",
                                labels=["kind"])
        for kind, value in (("full", state.get("completed_at")),
                            ("incremental", state.get("watermark"))):
            if value is not None:
                done.add_metric([kind], float(value))
                age.add_metric([kind], max(0.0, now - float(value)))
        yield done
        yield age
        stages = GaugeMetricFamily("interestgraph_refresh_stage_seconds",
                                   "Stage durations of the newest finished full refresh.",
                                   labels=["stage"])
        newest = next((r for r in data["history"] if r.get("kind") == "full"
                       and r.get("status") == "active" and r.get("stages")), None)
        if newest is not None:
            for stage, seconds in zip(newest["stages"], newest["stage_seconds"] or []):
                stages.add_metric([str(stage)], float(seconds))
        yield stages
        yield from _stream_metrics(data["streams"])


def _stream_metrics(streams: list[StreamProgress]) -> Iterator[Metric]:
    """What the stream consumers (``interestgraph consume``) last recorded in the graph."""
    events = CounterMetricFamily(
        "interestgraph_stream_events", "Events (rejected, ignored: messages) a stream consumer "
        "group handled, by topic and outcome.", labels=["group", "topic", "outcome"])
    lag = GaugeMetricFamily("interestgraph_stream_lag", "Messages not yet consumed, per partition, "
                            "as of the group's last batch.", labels=["group", "topic", "partition"])
    seen = GaugeMetricFamily("interestgraph_stream_last_batch_timestamp_seconds",
                             "When the group last applied a batch (epoch s).",
                             labels=["group", "topic"])
    for s in streams:
        for outcome, n in (("applied", s.applied), ("duplicate", s.duplicates),
                           ("rejected", s.rejected), ("ignored", s.ignored)):
            events.add_metric([s.group, s.topic, outcome], float(n))
        for p in s.partitions:
            lag.add_metric([s.group, s.topic, str(p.partition)], float(p.lag))
        if s.updated_at is not None:
            seen.add_metric([s.group, s.topic], s.updated_at)
    yield events
    yield lag
    yield seen


def init_metrics(app: Flask) -> None:
    """Time every request and count it under its endpoint name (never its raw path)."""

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            labels = (request.endpoint or "unmatched", request.method, str(response.status_code))
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


def _process_metrics() -> bytes:
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _graph_metrics() -> bytes:
    registry = current_app.extensions.get("graph_metrics")
    if registry is None:  # one per app, so its cache lives across scrapes
        registry = CollectorRegistry()
        registry.register(GraphCollector(ext.store()))
        current_app.extensions["graph_metrics"] = registry
    return generate_latest(registry)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition format."""
    text = _process_metrics() + _graph_metrics()
    return Response(text, headers={"Content-Type": CONTENT_TYPE_LATEST})
