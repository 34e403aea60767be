"""The Segment e-commerce spec as a source: its ``track`` calls mapped to our events and items.

One module for every way such events arrive (the Kafka consumer's ``--format segment`` and
``POST /v1/sources/segment``), so the mapping and its errors are the same everywhere. The mapping
is documented as a table in ``docs/streams.md``.

A message becomes zero or more records: a product event one :class:`Event` (and an
:class:`ItemRecord` when the product carries a ``name``), an order one event per entry of its
``products``. Calls and events the spec defines that carry no interest (``identify``, ``page``,
``Checkout Started``, …) and events we do not know are *ignored* and counted by name, never
errors. A malformed message raises ``ValueError(field, reason)`` with the field named as the
payload spells it (``properties.products[2].quantity``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import Event, ItemRecord, parse_event, parse_item

#: Segment e-commerce events with an interest meaning, by the event type each becomes.
PRODUCT_EVENTS: dict[str, str] = {
    "Product Viewed": "view",
    "Product Clicked": "click",
    "Product Added": "cart",
    "Product Added to Wishlist": "wishlist",
    "Product Reviewed": "review",
}
ORDER_EVENTS: dict[str, str] = {
    "Order Completed": "purchase",
    "Order Refunded": "return",
}
SEARCH_EVENTS: dict[str, str] = {"Products Searched": "search"}
#: The spec's message types; only ``track`` carries behaviour.
MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})
MAX_BATCH = 10_000

# Our record fields, as a Segment payload names them (for error messages).
_EVENT_FIELDS = {"event_id": "messageId", "user_id": "userId", "timestamp": "timestamp"}


def messages_of(payload: Any) -> list[Any]:
    """The messages of a payload: Segment's batch (``{"batch": [...]}``) or a single message.

    Raises:
        ValueError: ``(field, reason)`` when the payload is neither.
    """
    if not isinstance(payload, Mapping):
        raise ValueError("body", "must be a JSON object (a Segment message or {\"batch\": [...]})")
    if "batch" in payload:
        batch = payload["batch"]
        if not isinstance(batch, list):
            raise ValueError("batch", "must be a list of messages")
        if len(batch) > MAX_BATCH:
            raise ValueError("batch", f"holds more than {MAX_BATCH} messages")
        return batch
    return [payload]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value) if not isinstance(value, float) or value.is_integer() else str(value)
    return value if isinstance(value, str) and value.strip() else None


def _product_id(product: Mapping[str, Any], where: str) -> Any:
    for key in ("product_id", "sku", "id"):
        if product.get(key) not in (None, ""):
            return product[key]
    raise ValueError(f"{where}.product_id", "is required (or sku)")


def _event(raw: dict[str, Any], where: dict[str, str]) -> Event:
    try:
        return parse_event(raw)
    except ValueError as exc:
        field, reason = (exc.args + ("", ""))[:2]
        raise ValueError(where.get(field, _EVENT_FIELDS.get(field, field)), reason) from None


def _item(product: Mapping[str, Any], item_id: Any, where: str) -> ItemRecord | None:
    """The catalogue entry a product's properties describe, when they name it."""
    name = product.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    category = product.get("category")
    details = [f"{label}: {product[key]}" for key, label in (("brand", "Brand"), ("variant", "Variant"))
               if isinstance(product.get(key), str) and product[key].strip()]
    raw = {"item_id": item_id, "title": name, "description": ". ".join(details),
           "price": product.get("price"),
           "categories": [category] if isinstance(category, str) else category}
    try:
        return parse_item(raw)
    except ValueError as exc:
        field, reason = (exc.args + ("", ""))[:2]
        field = {"item_id": "product_id", "title": "name", "categories": "category"}.get(field, field)
        raise ValueError(f"{where}.{field}", reason) from None


def map_message(message: Any, *, items: bool = True) -> tuple[list[Event | ItemRecord], str | None]:
    """One Segment message as records, and the name it was ignored under (None when mapped).

    ``items=False`` leaves the products' catalogue fields out (when a catalogue is loaded from
    files and the stream's product names should not replace it).

    Raises:
        ValueError: ``(field, reason)`` for a malformed message.
    """
    if not isinstance(message, Mapping):
        raise ValueError("message", "must be a JSON object")
    kind = message.get("type", "track")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise ValueError("type", f"must be one of {', '.join(sorted(MESSAGE_TYPES))}")
    if kind != "track":
        return [], kind
    name = message.get("event")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("event", "is required in a track call")
    name = name.strip()
    our_type = PRODUCT_EVENTS.get(name) or ORDER_EVENTS.get(name) or SEARCH_EVENTS.get(name)
    if our_type is None:
        return [], name
    props = message.get("properties") or {}
    if not isinstance(props, Mapping):
        raise ValueError("properties", "must be an object")
    message_id = message.get("messageId")
    user = _text(message.get("userId")) or _text(message.get("anonymousId"))
    if user is None:
        raise ValueError("userId", "is required (or anonymousId)")
    ts = message.get("timestamp") or message.get("originalTimestamp") or message.get("receivedAt")
    base = {"event_id": message_id, "user_id": user, "timestamp": ts, "type": our_type}
    if name in SEARCH_EVENTS:
        event = _event({**base, "text": props.get("query")}, {"text": "properties.query"})
        return [event], None
    if name in PRODUCT_EVENTS:
        item_id = _product_id(props, "properties")
        raw = {**base, "item_id": item_id, "quantity": props.get("quantity"),
               "price": props.get("price"), "rating": props.get("rating")}
        if our_type == "review":
            raw["text"] = props.get("review_body")
        where = {f: f"properties.{f}" for f in ("quantity", "price", "rating")}
        where.update(item_id="properties.product_id", text="properties.review_body")
        out: list[Event | ItemRecord] = [_event(raw, where)]
        item = _item(props, item_id, "properties") if items else None
        return ([item] if item else []) + out, None
    products = props.get("products")
    if not isinstance(products, list) or not products:
        raise ValueError("properties.products", f"an {name!r} needs its products (a non-empty list)")
    if not isinstance(message_id, (str, int)) or isinstance(message_id, bool) \
            or not str(message_id).strip():
        raise ValueError("messageId", "is required")
    records: list[Event | ItemRecord] = []
    for index, product in enumerate(products):
        at = f"properties.products[{index}]"
        if not isinstance(product, Mapping):
            raise ValueError(at, "must be an object")
        item_id = _product_id(product, at)
        raw = {**base, "event_id": f"{message_id}/{index}", "item_id": item_id,
               "quantity": product.get("quantity"), "price": product.get("price")}
        where = {f: f"{at}.{f}" for f in ("quantity", "price")}
        where.update(item_id=f"{at}.product_id", event_id="messageId")
        records.append(_event(raw, where))
        item = _item(product, item_id, at) if items else None
        if item is not None:
            records.insert(0, item)
    return records, None
