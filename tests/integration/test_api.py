"""The HTTP API against a real graph refreshed by a real worker process, on each backend.

The graph is the session's ``refreshed_graph`` (12,000 records of Online Retail, two full
refreshes enqueued *through the API*); every endpoint is exercised with Flask's test client.
Nothing is mocked.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from interest_graph.api import create_app
from interest_graph.errors import ConfigError
from interest_graph.server import EmbeddedServer

from .refreshed import (
    API_KEYS,
    READ,
    READ_KEY,
    WRITE,
    RefreshedGraph,
    graph_id,
    quick_worker,
    stop_worker,
    wait_task,
)

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def graph(refreshed_graph: RefreshedGraph) -> RefreshedGraph:
    return refreshed_graph


@pytest.fixture(scope="module")
def worker(graph: RefreshedGraph) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for the tests that enqueue refreshes (the fixture graph's worker is gone)."""
    proc = quick_worker(graph.env, graph.worker_log)
    yield proc
    stop_worker(proc, graph.settings)


@pytest.fixture(scope="module")
def app(graph: RefreshedGraph) -> Flask:
    return create_app(graph.settings.with_overrides(api_keys=API_KEYS))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def error_of(response: Any) -> dict[str, Any]:
    body = response.json
    assert body is not None and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}
    return body["error"]  # type: ignore[no-any-return]


def scored_user(graph: RefreshedGraph) -> str:
    for raw in graph.raw_users:
        if graph.store.read("api/get_recommendations", user=graph_id(raw), k=1):
            return raw
    raise AssertionError("no user has recommendations")


# -- users ----------------------------------------------------------------------------------


def test_recommendations_are_the_active_refresh_ranked(client: FlaskClient,
                                                       graph: RefreshedGraph) -> None:
    raw = scored_user(graph)
    response = client.get(f"/v1/users/{raw}/recommendations?k=5", headers=READ)
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["user"] == raw and body["version"] == graph.version and body["fallback"] is False
    ranks = [i["rank"] for i in body["items"]]
    assert 1 <= len(ranks) <= 5 and ranks == sorted(ranks)
    assert all(i["reason"] and isinstance(i["score"], float) for i in body["items"])
    direct = graph.store.read("users/get_recommendations", user=graph_id(raw), k=5)
    assert [i["item"] for i in body["items"]] == [r["item"] for r in direct]


@pytest.mark.parametrize("query,field", [("k=0", "k"), ("k=101", "k"), ("k=abc", "k"),
                                         ("k=1.5", "k")])
def test_bad_parameters_are_400_with_the_field(client: FlaskClient, graph: RefreshedGraph,
                                               query: str, field: str) -> None:
    response = client.get(f"/v1/users/{scored_user(graph)}/recommendations?{query}", headers=READ)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


@pytest.mark.parametrize("path", ["/v1/users/nobody-{n}/recommendations",
                                  "/v1/users/nobody-{n}/interests",
                                  "/v1/users/nobody-{n}/segment", "/v1/users/nobody-{n}/value",
                                  "/v1/users/nobody-{n}/graph", "/v1/items/no-item-{n}/similar",
                                  "/v1/items/no-item-{n}/similar?source=vector",
                                  "/v1/segments/none:{n}", "/v1/segments/none:{n}/members",
                                  "/v1/tasks/0000-{n}"])
def test_unknown_ids_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path.format(n=7), headers=READ)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_interests_segment_and_value(client: FlaskClient, graph: RefreshedGraph) -> None:
    raw = scored_user(graph)
    interests = client.get(f"/v1/users/{raw}/interests?k=3", headers=READ).json
    assert interests is not None and interests["version"] == graph.version
    scores = [c["score"] for c in interests["categories"]]
    assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True)

    seg = client.get(f"/v1/users/{raw}/segment", headers=READ).json
    assert seg is not None and seg["segment"]["id"].startswith(graph.version + ":")
    assert seg["segment"]["size"] > 0 and seg["distance"] is not None
    assert seg["history"][0]["segment_id"] == seg["segment"]["id"]
    why = seg["why"]
    assert why["categories"] and abs(sum(c["share"] for c in why["categories"])) <= 1.0 + 1e-9
    assert set(why["shared"]) <= set(why["segment_categories"]) == set(
        seg["segment"]["top_categories"])
    assert why["text"].startswith("Buys mostly") and "Value tier" in why["text"]

    value = client.get(f"/v1/users/{raw}/value", headers=READ).json
    assert value is not None and value["tier"] and value["rfm_score"]
    assert value["frequency"] >= 0 and value["churn_basis"]
    # The slice spans days: no model can state a churn risk, and the basis says why.
    if value["churn_risk"] is None:
        assert "shorter than 90 days" in value["churn_basis"]
    else:
        assert 0.0 <= value["churn_risk"] <= 1.0


def test_new_user_gets_popular_items_as_fallback(client: FlaskClient,
                                                 graph: RefreshedGraph) -> None:
    popular = graph.store.read("api/popular_items", user="", k=1)[0]["item"]
    response = client.post("/v1/events", headers=WRITE, json={"events": [
        {"event_id": "api-fallback-1", "user_id": "api-new-user", "item_id": popular,
         "type": "purchase", "timestamp": 1323000000, "quantity": 1, "price": 2.5}]})
    assert response.status_code == 202 and response.json is not None
    assert response.json["accepted"] == 1
    body = client.get("/v1/users/api-new-user/recommendations?k=4", headers=READ).json
    assert body is not None and body["fallback"] is True and len(body["items"]) == 4
    assert popular not in {i["item"] for i in body["items"]}, "items the user has are excluded"
    assert {i["reason"] for i in body["items"]} == {"popular with all shoppers"}
    assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4]


def test_neighbourhood_depths_and_limit(client: FlaskClient, graph: RefreshedGraph) -> None:
    raw = scored_user(graph)
    one = client.get(f"/v1/users/{raw}/graph?depth=1&limit=30", headers=READ).json
    two = client.get(f"/v1/users/{raw}/graph?depth=2&limit=30", headers=READ).json
    assert one is not None and two is not None
    types_one = {n["type"] for n in one["nodes"]}
    assert types_one == {"user", "item", "segment"}
    assert "category" in {n["type"] for n in two["nodes"]}
    for body in (one, two):
        assert len(body["nodes"]) <= 30
        ids = {n["id"] for n in body["nodes"]}
        assert all(e["source"] in ids and e["target"] in ids for e in body["edges"])
    tiny = client.get(f"/v1/users/{raw}/graph?depth=2&limit=1", headers=READ).json
    assert tiny is not None and [n["type"] for n in tiny["nodes"]] == ["user"]
    assert tiny["edges"] == []
    assert client.get(f"/v1/users/{raw}/graph?depth=3", headers=READ).status_code == 400


# -- items and segments -----------------------------------------------------------------------


def test_similar_items_from_graph_and_vector_index(client: FlaskClient,
                                                   graph: RefreshedGraph) -> None:
    item = graph.store.read("api/popular_items", user="", k=1)[0]["item"]
    body = client.get(f"/v1/items/{item}/similar?k=5", headers=READ).json
    assert body is not None and body["version"] == graph.version and body["source"] == "graph"
    assert 1 <= len(body["items"]) <= 5 and item not in {i["item"] for i in body["items"]}
    vector = client.get(f"/v1/items/{item}/similar?k=5&source=vector", headers=READ).json
    assert vector is not None and len(vector["items"]) == 5
    scores = [i["score"] for i in vector["items"]]
    assert scores == sorted(scores, reverse=True) and item not in {i["item"] for i in vector["items"]}
    # SIMILAR_TO was computed from the same embeddings the index holds: the best match agrees,
    # on the same scale (cosine) on every backend.
    assert body["items"][0]["item"] in {i["item"] for i in vector["items"]}
    by_graph = {i["item"]: i["score"] for i in body["items"]}
    both = [(by_graph[i["item"]], i["score"]) for i in vector["items"] if i["item"] in by_graph]
    assert both and all(abs(g - v) < 1e-3 for g, v in both), both


def test_segments_profiles_members_and_map(client: FlaskClient, graph: RefreshedGraph) -> None:
    listing = client.get("/v1/segments", headers=READ).json
    assert listing is not None and listing["version"] == graph.version
    segments = listing["segments"]
    users = graph.store.read("stats/refresh_summary")[0]["segmented_users"]
    assert len(segments) >= 2 and sum(s["size"] for s in segments) == users
    biggest = segments[0]
    assert sum(biggest["tiers"].values()) <= biggest["size"] and biggest["top_categories"]
    profile = client.get(f"/v1/segments/{biggest['id']}", headers=READ).json
    assert profile == biggest
    # The brief: categories with their lift, value and behaviour against the base, in words.
    assert biggest["brief"].startswith(f"{biggest['label']}: {biggest['size']:,} customers")
    assert [c["name"] for c in biggest["categories"]] == biggest["top_categories"]
    assert all(c["lift"] > 1.0 for c in biggest["categories"])
    assert biggest["base_behaviour"]["frequency"] >= 1 and biggest["churn_basis"]
    assert 0 < biggest["share"] <= 1
    drift = listing["drift"]
    assert drift["users"] == users and drift["share"] <= 0.06 and drift["due"] is False
    # The graph was refreshed twice: the second refresh started from the first one's segments
    # and counted who moved between them.
    moves = client.get("/v1/segments/transitions", headers=READ).json
    assert moves is not None and moves["version"] == graph.version and moves["previous"]
    assert moves["total"] == users and 0 <= moves["moved"] <= users
    assert all(m["to_id"] in {s["id"] for s in segments} for m in moves["moves"])

    seen: list[str] = []
    tiered = 0
    cursor = ""
    while True:
        page = client.get(f"/v1/segments/{biggest['id']}/members?limit=40&cursor={cursor}",
                          headers=READ).json
        assert page is not None
        seen += [m["user"] for m in page["members"]]
        tiered += sum(1 for m in page["members"] if m["tier"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == biggest["size"] and seen == sorted(seen)
    # Members without a priced purchase have no value tier (and are in no tier count).
    assert tiered == sum(biggest["tiers"].values())

    points = client.get("/v1/segments/map?limit=50", headers=READ).json
    assert points is not None and len(points["points"]) == min(50, users)
    ids = {s["id"] for s in segments}
    assert all(p["segment"] in ids and isinstance(p["x"], float) for p in points["points"])
    assert client.get("/v1/segments/map?limit=10001", headers=READ).status_code == 400


# -- writes -----------------------------------------------------------------------------------


def test_event_batch_validates_each_record_and_is_exactly_once(
        client: FlaskClient, graph: RefreshedGraph) -> None:
    batch = {
        "items": [{"item_id": "api-item-1", "title": "Api test mug", "categories": ["MUG"]},
                  {"item_id": "api-item-2", "price": -1}],
        "events": [
            {"event_id": "api-1", "user_id": "api-user", "item_id": "api-item-1",
             "type": "view", "timestamp": "2011-12-01T10:00:00"},
            {"event_id": "api-2", "user_id": "api-user", "item_id": "api-item-1",
             "type": "teleport", "timestamp": 1323000000},
            {"event_id": "api-3", "user_id": "api-user", "item_id": "api-item-1",
             "type": "cart", "timestamp": 1323000001, "quantity": 0},
            "not an object",
            {"event_id": "api-1", "user_id": "api-user", "item_id": "api-item-1",
             "type": "view", "timestamp": "2011-12-01T10:00:00"},
        ],
    }
    response = client.post("/v1/events", json=batch, headers=WRITE)
    assert response.status_code == 202
    body = response.json
    assert body is not None
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 4)
    assert body["items_upserted"] == 1
    errors = {(e["kind"], e["index"], e["field"]) for e in body["errors"]}
    assert errors == {("item", 1, "price"), ("event", 1, "type"), ("event", 2, "quantity"),
                      ("event", 3, "event")}
    # Durable before the 202: the user is readable at once. A replay applies nothing.
    assert client.get("/v1/users/api-user/value", headers=READ).status_code == 200
    again = client.post("/v1/events", json=batch, headers=WRITE).json
    assert again is not None and (again["accepted"], again["duplicates"]) == (0, 2)


def test_events_with_refresh_flag_enqueue_an_incremental_refresh(
        client: FlaskClient, graph: RefreshedGraph, worker: subprocess.Popen[bytes]) -> None:
    raw = graph.raw_users[3]
    item = graph.store.read("api/popular_items", user=graph_id(raw), k=1)[0]["item"]
    response = client.post("/v1/events?refresh=incremental", headers=WRITE, json={"events": [
        {"event_id": "api-inc-1", "user_id": raw, "item_id": item, "type": "purchase",
         "timestamp": 1323100000, "quantity": 2, "price": 3.0}]})
    assert response.status_code == 202 and response.json is not None
    task = wait_task(client, response.json["task_id"])
    assert task["result"]["status"] in ("updated", "noop") and task["percent"] == 100.0
    recs = client.get(f"/v1/users/{raw}/recommendations?k=50", headers=READ).json
    assert recs is not None and item not in {i["item"] for i in recs["items"]}
    assert client.post("/v1/events?refresh=full", json={"events": []},
                       headers=WRITE).status_code == 400


@pytest.mark.parametrize("body,field", [({"kind": "partial"}, "kind"), ({}, "kind"),
                                        ([1, 2], "body")])
def test_refresh_rejects_bad_bodies(client: FlaskClient, body: Any, field: str) -> None:
    response = client.post("/v1/refresh", json=body, headers=WRITE)
    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_malformed_bodies(client: FlaskClient) -> None:
    not_json = client.post("/v1/events", data="events", headers=WRITE,
                           content_type="text/plain")
    assert not_json.status_code == 415 and error_of(not_json)["code"] == "unsupported_media_type"
    broken = client.post("/v1/events", data="{", headers=WRITE, content_type="application/json")
    assert broken.status_code == 400 and error_of(broken)["field"] == "body"
    wrong = client.post("/v1/events", json={"events": {"a": 1}}, headers=WRITE)
    assert wrong.status_code == 422 and error_of(wrong)["field"] == "events"
    too_many = client.post("/v1/events", json={"events": [{}] * 10001}, headers=WRITE)
    assert too_many.status_code == 413 and error_of(too_many)["field"] == "events"
    huge = client.post("/v1/events", data=b"[" + b" " * (6 * 1024 * 1024) + b"]",
                       headers=WRITE, content_type="application/json")
    assert huge.status_code == 413 and error_of(huge)["code"] == "too_large"
    method = client.put("/v1/events", json={}, headers=WRITE)
    assert method.status_code == 405 and error_of(method)["code"] == "method_not_allowed"


def test_erasure_removes_everything_and_is_idempotent(client: FlaskClient,
                                                      graph: RefreshedGraph) -> None:
    raw = graph.raw_users[5]
    seg = client.get(f"/v1/users/{raw}/segment", headers=READ).json
    assert seg is not None and seg["segment"] is not None
    size_before = seg["segment"]["size"]
    assert client.delete(f"/v1/users/{raw}", headers=READ).status_code == 403
    response = client.delete(f"/v1/users/{raw}", headers=WRITE)
    assert response.status_code == 200
    body = response.json
    assert body is not None and body["existed"] is True
    removed = body["removed"]
    assert removed["user_node"] == 1 and removed["interactions"] > 0
    assert removed["interests"] > 0 and removed["segment_memberships"] >= 1
    assert "keyed hashes" in body["note"]
    assert client.get(f"/v1/users/{raw}/recommendations", headers=READ).status_code == 404
    assert not graph.store.read("api/get_user", user=graph_id(raw))
    segment = client.get(f"/v1/segments/{seg['segment']['id']}", headers=READ).json
    assert segment is not None and segment["size"] == size_before - 1
    again = client.delete(f"/v1/users/{raw}", headers=WRITE).json
    assert again is not None and again["existed"] is False
    assert set(again["removed"].values()) == {0}


# -- access, health, metrics, contract --------------------------------------------------------


def test_keys_and_scopes(client: FlaskClient, graph: RefreshedGraph) -> None:
    raw = scored_user(graph)
    path = f"/v1/users/{raw}/recommendations"
    missing = client.get(path)
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthorized"
    assert client.get(path, headers={"X-API-Key": READ_KEY + "x"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {READ_KEY}"}).status_code == 200
    assert client.get(f"{path}?key={READ_KEY}").status_code == 401, "keys never in URLs"
    assert client.post("/v1/refresh", json={"kind": "full"}, headers=READ).status_code == 403
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_no_keys_refuses_to_start_unless_anonymous(graph: RefreshedGraph) -> None:
    with pytest.raises(ConfigError, match="API_KEYS"):
        create_app(graph.settings.with_overrides(api_keys={}))
    anonymous = create_app(graph.settings.with_overrides(api_keys={}), allow_anonymous=True)
    assert anonymous.test_client().get("/v1/segments").status_code == 200


def test_health_reports_an_unreachable_store(graph: RefreshedGraph, tmp_path: Path) -> None:
    other = EmbeddedServer(tmp_path)
    status = other.start()
    try:
        settings = graph.settings.with_overrides(
            api_keys=API_KEYS, graph_uri=f"falkordb://127.0.0.1:{status.port}/interest")
        app = create_app(settings)
        assert app.test_client().get("/health").status_code == 200
    finally:
        other.stop()
    response = app.test_client().get("/health")
    assert response.status_code == 503 and response.json is not None
    assert response.json == {"status": "unavailable",
                             "checks": {"graph": "unavailable", "broker": "ok"}}
    down = app.test_client().get("/v1/segments", headers=READ)
    assert down.status_code == 503 and error_of(down)["code"] == "graph_unavailable"


def test_data_endpoints_fail_fast_when_the_store_is_down(graph: RefreshedGraph, backend: str,
                                                        tmp_path: Path) -> None:
    down = {"api_keys": API_KEYS, "store_connect_timeout_s": 1.0}
    if backend == "neo4j":  # the driver connects lazily: nothing listens there
        app = create_app(graph.settings.with_overrides(
            graph_uri=f"bolt://127.0.0.1:{free_port()}", **down))
    else:  # the FalkorDB client connects at once: a server that stops after the app started
        other = EmbeddedServer(tmp_path)
        status = other.start()
        try:
            app = create_app(graph.settings.with_overrides(
                graph_uri=f"falkordb://127.0.0.1:{status.port}/interest", **down))
        finally:
            other.stop()
    client = app.test_client()
    for path in ("/v1/segments", f"/v1/users/{graph.raw_users[0]}/recommendations"):
        started = time.monotonic()
        response = client.get(path, headers=READ)
        assert response.status_code == 503 and error_of(response)["code"] == "graph_unavailable"
        assert time.monotonic() - started < 4, f"{path} took {time.monotonic() - started:.1f}s"


def test_metrics_count_requests_and_graph(client: FlaskClient, graph: RefreshedGraph) -> None:
    raw = scored_user(graph)
    for _ in range(3):
        client.get(f"/v1/users/{raw}/recommendations", headers=READ)
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", headers=READ)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    line = next(line for line in text.splitlines() if line.startswith(
        'interestgraph_http_requests_total{endpoint="users.recommendations",method="GET",'
        'status="200"}'))
    assert float(line.split()[-1]) >= 3
    users = graph.store.read("stats/count_graph")[0]["users"]
    assert f'interestgraph_graph_nodes{{label="User"}} {float(users)}' in text
    # No user id in a label value or a comment (the numbers may hold its digits by chance).
    named = label_values(text) | {line for line in text.splitlines() if line.startswith("#")}
    assert not [v for v in named if raw in v or graph_id(raw) in v]


def label_values(text: str) -> set[str]:
    """Every label value of a Prometheus text exposition: where an id would show."""
    return set(re.findall(r'="((?:[^"\\]|\\.)*)"', text))


def test_label_values_are_where_ids_would_show_not_the_numbers() -> None:
    # A sample's value may contain an id's digits: 3.657400369178504e-05 holds "17850".
    timing = 'x_seconds_sum{endpoint="users.erase",status="200"} 3.657400369178504e-05\n'
    assert "17850" in timing and label_values(timing) == {"users.erase", "200"}
    leaked = timing + 'y_total{user="17850",path="a\\"b"} 1.0\n'
    assert label_values(leaked) == {"users.erase", "200", "17850", 'a\\"b'}


def test_openapi_documents_every_route(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec is not None and spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("dashboard."):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        routes |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert routes == documented
