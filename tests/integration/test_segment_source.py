"""``POST /v1/sources/segment`` on each backend: Segment e-commerce payloads applied exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from interest_graph.api import create_app
from interest_graph.graph import GraphStore
from interest_graph.graph.ingest import IngestRepository
from interest_graph.settings import Settings

from .refreshed import API_KEYS, READ, WRITE

pytestmark = [pytest.mark.integration]

TS = "2026-11-30T10:00:00Z"


def track(message_id: str, event: str, props: dict[str, Any], user: str = "seg-user") -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": message_id, "userId": user,
            "timestamp": TS, "properties": props}


BATCH = {"batch": [
    track("s-1", "Product Viewed", {"product_id": "mug", "name": "Blue mug", "category": "Kitchen",
                                    "price": 8.0}),
    track("s-2", "Product Added", {"product_id": "mug", "quantity": 2}),
    track("s-3", "Order Completed", {"order_id": "o-1", "products": [
        {"product_id": "mug", "quantity": 2, "price": 8.0},
        {"sku": "plate", "quantity": 1, "price": 5.0, "name": "Plate"}]}),
    track("s-4", "Order Refunded", {"products": [{"product_id": "plate", "price": 5.0}]}),
    track("s-5", "Products Searched", {"query": "teapot"}),
    {"type": "identify", "userId": "seg-user", "traits": {"email": "a@example.com"}},
    track("s-6", "Checkout Started", {}),
    track("s-7", "Product Added", {"product_id": "mug", "quantity": "two"}),
]}


@pytest.fixture
def client(store: GraphStore, backend_settings: Settings) -> FlaskClient:
    return create_app(backend_settings.with_overrides(api_keys=API_KEYS)).test_client()


def test_a_segment_batch_is_mapped_validated_and_applied_exactly_once(
        client: FlaskClient, store: GraphStore) -> None:
    response = client.post("/v1/sources/segment", json=BATCH, headers=WRITE)
    assert response.status_code == 202, response.json
    body = response.json
    assert body is not None
    assert (body["messages"], body["accepted"], body["duplicates"], body["rejected"]) == (8, 6, 0, 1)
    assert body["ignored"] == {"identify": 1, "Checkout Started": 1}
    assert body["errors"] == [{"index": 7, "field": "batch[7].properties.quantity",
                               "reason": "must be a number, got 'two'"}]
    assert body["items_upserted"] == 2
    counts = IngestRepository(store).counts()
    # view+cart+purchase on the mug, purchase+return on the plate; the search names no item.
    assert (counts.items, counts.edges, counts.edge_events, counts.events) == (2, 2, 5, 6)
    assert counts.revenue == pytest.approx(16.0 + 5.0 - 5.0)
    titles = {r["id"]: r["title"] for r in store.read("api/find_item", item="mug")}
    assert titles == {"mug": "Blue mug"}
    # A redelivered batch (Segment retries) counts once.
    again = client.post("/v1/sources/segment", json=BATCH, headers=WRITE).json
    assert again is not None and (again["accepted"], again["duplicates"]) == (0, 6)
    assert IngestRepository(store).counts() == counts


def test_a_single_message_is_accepted_and_a_malformed_one_is_a_422_naming_the_field(
        client: FlaskClient) -> None:
    one = client.post("/v1/sources/segment", headers=WRITE,
                      json=track("s-9", "Product Viewed", {"sku": "cup"}))
    assert one.status_code == 202 and one.json is not None and one.json["accepted"] == 1
    bad = client.post("/v1/sources/segment", headers=WRITE,
                      json=track("s-10", "Order Completed", {"products": []}))
    assert bad.status_code == 422
    assert bad.json is not None and bad.json["error"]["field"] == "properties.products"
    wrong = client.post("/v1/sources/segment", headers=WRITE, json={"batch": {"a": 1}})
    assert wrong.status_code == 422 and wrong.json is not None
    assert wrong.json["error"]["field"] == "batch"
    unknown_only = client.post("/v1/sources/segment", headers=WRITE, json={"type": "page"})
    assert unknown_only.status_code == 202 and unknown_only.json is not None
    assert unknown_only.json["ignored"] == {"page": 1}
    assert client.post("/v1/sources/segment", headers=WRITE, data="x").status_code == 415
    assert client.post("/v1/sources/segment", headers=READ, json={"type": "page"}).status_code == 403
    metrics = client.get("/metrics", headers=READ).get_data(as_text=True)
    assert 'interestgraph_source_events_total{outcome="ignored",source="segment"}' in metrics
