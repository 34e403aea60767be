"""The Segment e-commerce spec mapped to our events and items, and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from interest_graph.ingest.records import Event, ItemRecord
from interest_graph.ingest.segment import map_message, messages_of
from interest_graph.streams.decode import decode

TS = "2026-11-30T10:00:00.000Z"


def track(event: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": "m-1", "userId": "u-1",
            "timestamp": TS, "properties": props, **extra}


def test_product_events_map_to_our_types_with_the_product_as_item() -> None:
    for name, kind in (("Product Viewed", "view"), ("Product Clicked", "click"),
                       ("Product Added", "cart"), ("Product Added to Wishlist", "wishlist")):
        records, ignored = map_message(track(name, {"product_id": "p-9", "quantity": 2,
                                                    "price": 3.5, "name": "Mug",
                                                    "category": "Kitchen", "brand": "Acme"}))
        assert ignored is None
        item, event = records
        assert isinstance(item, ItemRecord) and isinstance(event, Event)
        assert (event.event_id, event.user_id, event.item_id, event.type) == ("m-1", "u-1", "p-9", kind)
        assert event.quantity == 2 and event.price == 3.5 and event.ts == 1796032800.0
        assert (item.item_id, item.title, item.categories, item.price) == ("p-9", "Mug", ("Kitchen",), 3.5)
        assert item.description == "Brand: Acme"


def test_sku_stands_in_for_product_id_and_no_name_means_no_item() -> None:
    records, _ = map_message(track("Product Viewed", {"sku": "SKU-1"}))
    assert [type(r) for r in records] == [Event] and records[0].item_id == "SKU-1"
    records, _ = map_message(track("Product Viewed", {"product_id": 7, "name": "X"}), items=False)
    assert [type(r) for r in records] == [Event] and records[0].item_id == "7"


def test_an_order_becomes_one_purchase_per_product_with_its_quantity_and_price() -> None:
    order = track("Order Completed", {"order_id": "o-1", "products": [
        {"product_id": "a", "quantity": 2, "price": 10, "name": "A"},
        {"sku": "b", "price": 4}]})
    records, _ = map_message(order)
    events = [r for r in records if isinstance(r, Event)]
    assert [(e.event_id, e.item_id, e.type, e.quantity, e.price) for e in events] == [
        ("m-1/0", "a", "purchase", 2.0, 10.0), ("m-1/1", "b", "purchase", 1.0, 4.0)]
    assert [r.item_id for r in records if isinstance(r, ItemRecord)] == ["a"]
    refund, _ = map_message(track("Order Refunded", {"products": [{"product_id": "a"}]}))
    assert [(e.event_id, e.type) for e in refund if isinstance(e, Event)] == [("m-1/0", "return")]


def test_search_and_review_carry_their_text_and_rating() -> None:
    (search,), _ = map_message(track("Products Searched", {"query": "blue mug"}))
    assert isinstance(search, Event)
    assert (search.type, search.item_id, search.text) == ("search", None, "blue mug")
    (review,), _ = map_message(track("Product Reviewed", {"product_id": "p", "rating": 4,
                                                          "review_body": "Sturdy"}))
    assert isinstance(review, Event)
    assert (review.type, review.rating, review.text) == ("review", 4.0, "Sturdy")


def test_anonymous_id_and_original_timestamp_are_fallbacks() -> None:
    message = {"type": "track", "event": "Product Viewed", "messageId": "m", "anonymousId": "anon-7",
               "originalTimestamp": "2026-11-30T10:00:00Z", "properties": {"product_id": "p"}}
    (event,), _ = map_message(message)
    assert isinstance(event, Event) and event.user_id == "anon-7"


def test_calls_and_events_without_interest_are_ignored_by_name() -> None:
    assert map_message({"type": "identify", "userId": "u"}) == ([], "identify")
    assert map_message(track("Checkout Started", {})) == ([], "Checkout Started")
    assert map_message(track("Product Removed", {"product_id": "p"})) == ([], "Product Removed")


@pytest.mark.parametrize(("message", "field"), [
    (track("Product Viewed", {}), "properties.product_id"),
    (track("Product Viewed", {"product_id": "p"}, userId=None), "userId"),
    (track("Product Viewed", {"product_id": "p"}, messageId=None), "messageId"),
    (track("Product Viewed", {"product_id": "p"}, timestamp="yesterday"), "timestamp"),
    (track("Product Added", {"product_id": "p", "quantity": -1}), "properties.quantity"),
    (track("Product Reviewed", {"product_id": "p", "rating": 9}), "properties.rating"),
    (track("Products Searched", {}), "properties.query"),
    (track("Order Completed", {}), "properties.products"),
    (track("Order Completed", {"products": [{"product_id": "a"}, {"name": "no id"}]}),
     "properties.products[1].product_id"),
    (track("Order Completed", {"products": [{"product_id": "a", "price": -2}]}),
     "properties.products[0].price"),
    (track("Product Viewed", {"product_id": "p"}, properties=[1]), "properties"),
    ({"type": "track", "messageId": "m"}, "event"),
    ({"type": "shout"}, "type"),
    ("not an object", "message"),
])
def test_a_malformed_message_names_its_field(message: Any, field: str) -> None:
    with pytest.raises(ValueError) as raised:
        map_message(message)
    assert raised.value.args[0] == field


def test_payloads_are_one_message_or_a_batch() -> None:
    assert messages_of({"type": "track"}) == [{"type": "track"}]
    assert messages_of({"batch": [1, 2]}) == [1, 2]
    for bad, field in (([], "body"), ({"batch": {}}, "batch")):
        with pytest.raises(ValueError) as raised:
            messages_of(bad)
        assert raised.value.args[0] == field


def test_stream_messages_decode_in_both_formats_and_name_the_bad_field() -> None:
    generic = b'{"event_id": "e", "user_id": "u", "item_id": "i", "type": "view", "timestamp": 1.7e9}'
    assert [r.event_id for r in decode(generic, "generic").records] == ["e"]  # type: ignore[union-attr]
    envelope = b'{"events": [{"event_id": "e", "user_id": "u", "item_id": "i", "type": "cart", ' \
               b'"timestamp": 1.7e9}], "items": [{"item_id": "i", "title": "T"}]}'
    assert [type(r) for r in decode(envelope, "generic").records] == [ItemRecord, Event]
    batch = b'{"batch": [{"type": "page"}, {"type": "track", "event": "Product Viewed", ' \
            b'"messageId": "m", "userId": "u", "timestamp": "2026-01-01T00:00:00Z", ' \
            b'"properties": {"product_id": "p"}}]}'
    decoded = decode(batch, "segment")
    assert len(decoded.records) == 1 and decoded.ignored == {"page": 1}
    for value, fmt, field in ((b"\xff", "generic", "value"), (b"{", "segment", "value"),
                              (None, "generic", "value"),
                              (b'{"events": [{"event_id": "e"}]}', "generic", "events[0].user_id"),
                              (b'{"batch": [{"type": "track"}]}', "segment", "batch[0].event")):
        with pytest.raises(ValueError) as raised:
            decode(value, fmt)
        assert raised.value.args[0] == field
