"""Experiment arms across a refresh, on each backend's shared refreshed graph: an audience saved,
another full refresh through the API and a real worker, and every remaining member keeps its arm.

A module of its own so that, in file order, it runs after the readers of the shared graph
(test_api, test_api_fuzz, test_audiences, the Browser-query tests), which check the graph as its
two refreshes left it: this refresh is the last thing done to it before a test clears it.
"""

from __future__ import annotations

import subprocess

import pytest
from flask.testing import FlaskClient

from interest_graph.audiences.service import AudienceService

from . import test_api, test_audiences
from .refreshed import WRITE, RefreshedGraph, wait_task
from .test_audiences import export_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

graph, worker, app, client = test_api.graph, test_api.worker, test_api.app, test_api.client
service = test_audiences.service

#: Everyone but the hibernating and the one-off buyers (those with no value fields included).
RULE = {"not": {"any": [{"field": "value_tier", "op": "eq", "value": "hibernating"},
                        {"field": "frequency", "op": "lte", "value": 1}]}}


def test_arms_are_kept_across_a_refresh(client: FlaskClient, graph: RefreshedGraph,
                                        worker: subprocess.Popen[bytes],
                                        service: AudienceService) -> None:
    created = service.create({"name": "A/B/n", "rule": RULE, "arms": [
        {"name": "a", "weight": 1}, {"name": "b", "weight": 1}, {"name": "c", "weight": 2}]})
    before = {r["user"]: r["arm"] for r in export_rows(client, created.id)}
    assert len(set(before.values())) == 3

    response = client.post("/v1/refresh", json={"kind": "full"}, headers=WRITE)
    assert response.status_code == 202 and response.json is not None
    done = wait_task(client, response.json["task_id"])
    version = done["result"]["version"]
    assert version != graph.version
    graph.version = version  # the shared graph's active refresh, should a later reader look

    after_audience = service.get(created.id)
    assert after_audience.refresh_version == version, "the refresh re-evaluated the audience"
    assert len(after_audience.history) == 2 and after_audience.version != created.version
    after = {r["user"]: r["arm"] for r in export_rows(client, created.id)}
    kept = set(before) & set(after)
    assert kept, "the re-evaluated audience shares members with the first evaluation"
    assert all(after[u] == before[u] for u in kept), "every remaining member keeps the arm"
    cohort = {r.user: r.arm for page in service.repo.cohort(created.id) for r in page}
    assert cohort == before, "the experiment's cohort is the membership at the start"
    service.delete(created.id)
