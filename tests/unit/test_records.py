from __future__ import annotations

import pytest

from interest_graph.ingest.records import Event, parse_event, parse_item, parse_timestamp


def good(**changes: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "event_id": "e1", "user_id": "alice", "item_id": "sku-1", "type": "purchase",
        "timestamp": "2024-03-01T10:00:00Z", "quantity": "2", "price": "3.5",
    }
    raw.update(changes)
    return raw


def test_parses_a_good_event() -> None:
    event = parse_event(good())
    assert event == Event("e1", "alice", "sku-1", "purchase", 1709287200.0, 2.0, 3.5, None, None)


@pytest.mark.parametrize(
    ("changes", "field", "reason_part"),
    [
        ({"timestamp": "yesterday"}, "timestamp", "not an ISO-8601"),
        ({"timestamp": 1709287200000}, "timestamp", "milliseconds"),
        ({"timestamp": None}, "timestamp", "required"),
        ({"item_id": ""}, "item_id", "required"),
        ({"type": "teleport"}, "type", "unknown event type 'teleport'"),
        ({"event_id": None}, "event_id", "required"),
        ({"user_id": ["x"]}, "user_id", "string or integer"),
        ({"quantity": "-1"}, "quantity", "positive"),
        ({"quantity": "lots"}, "quantity", "must be a number"),
        ({"price": "nan"}, "price", "finite"),
        ({"rating": 7}, "rating", "between 0 and 5"),
        ({"type": "search", "item_id": None}, "text", "query text"),
        ({"text": "bad\x00byte"}, "text", "NUL"),
        ({"user_id": "a\nb"}, "user_id", "control characters"),
    ],
)
def test_rejects_with_field_and_reason(changes: dict[str, object], field: str, reason_part: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_event(good(**changes))
    assert info.value.args[0] == field
    assert reason_part in info.value.args[1]


def test_itemless_search_with_text_is_valid() -> None:
    event = parse_event(good(type="Search", item_id=None, text="  red lantern "))
    assert (event.type, event.item_id, event.text) == ("search", None, "red lantern")


def test_naive_timestamps_are_utc_and_numbers_are_seconds() -> None:
    assert parse_timestamp("2010-12-01 08:26:00") == 1291191960.0
    assert parse_timestamp(1291191960) == parse_timestamp("1291191960")


def test_parse_item_splits_and_deduplicates_categories() -> None:
    item = parse_item({"item_id": 7, "title": " Lamp ", "categories": "Home| Light |Home"})
    assert item.item_id == "7" and item.title == "Lamp"
    assert item.categories == ("Home", "Light")
    assert item.text == "Lamp. Categories: Home, Light"
    with pytest.raises(ValueError) as info:
        parse_item({"item_id": "x", "price": -1})
    assert info.value.args[0] == "price"
    with pytest.raises(ValueError) as info:
        parse_item({"item_id": "x", "title": "nul\x00"})
    assert info.value.args[0] == "title"
    assert parse_item({"item_id": "x", "title": "bell\x07 tab\tok"}).title == "bell tab\tok"
