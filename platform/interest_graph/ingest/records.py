"""Validated records: what ingestion accepts, and the precise error for what it rejects.

Every source (CSV, JSONL, the HTTP API, the dataset readers) turns its rows into plain mappings and
calls :func:`parse_event` / :func:`parse_item`, so the same rules and messages apply everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Behaviour types the platform understands. ``return`` undoes a purchase; ``rating`` carries a
#: 1-5 score (MovieLens); ``search`` may name no item (its text still describes the user).
EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "search",
    "wishlist",
    "cart",
    "purchase",
    "return",
    "review",
    "rating",
)
ITEMLESS_TYPES = frozenset({"search"})
MAX_ID_LENGTH = 256
MAX_TEXT_LENGTH = 4000
# Timestamps before 1990 or after 2100 are almost always unit mistakes (ms vs s).
MIN_TS = 631152000.0
# Ids may hold no control characters; text may hold tabs and newlines but no NUL (graph stores
# cannot keep it in a string) — other control characters are dropped from text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Bytes that were not UTF-8, kept as lone surrogates by the readers.
_UNDECODED = re.compile("[\ud800-\udfff]")
_TEXT_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TS = 4102444800.0


@dataclass(frozen=True, slots=True)
class Event:
    """One behaviour event. ``user_id`` is the raw id until the ingestor pseudonymises it."""

    event_id: str
    user_id: str
    item_id: str | None
    type: str
    ts: float
    quantity: float = 1.0
    price: float | None = None
    rating: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item and its text, upserted alongside events."""

    item_id: str
    title: str = ""
    description: str = ""
    price: float | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The text the model encodes for this item."""
        return item_text(self.title, self.description, self.categories)


def item_text(title: str, description: str, categories: Sequence[str]) -> str:
    """The text the model encodes for an item (the refresh rebuilds it from the graph).

    Categories are sorted: the graph returns them in no fixed order.
    """
    parts = [title.strip(), description.strip()]
    if categories:
        parts.append("Categories: " + ", ".join(sorted(categories)))
    return ". ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why one record was rejected: ``record`` is the 1-based line or record number."""

    record: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"record {self.record}: field '{self.field}': {self.reason}"


class _Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def _text_id(raw: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Invalid(key, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Invalid(key, f"must be a string or integer, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_ID_LENGTH:
        raise _Invalid(key, f"is longer than {MAX_ID_LENGTH} characters")
    if _CONTROL.search(text):
        raise _Invalid(key, "must not contain control characters")
    if _UNDECODED.search(text):
        raise _Invalid(key, "is not valid UTF-8")
    return text


def _number(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _Invalid(key, "must be a number, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Invalid(key, f"must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise _Invalid(key, "must be a finite number")
    return number


def _clean_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(key, "must be a string")
    if "\x00" in value:
        raise _Invalid(key, "must not contain a NUL character")
    if _UNDECODED.search(value):
        raise _Invalid(key, "is not valid UTF-8")
    return _TEXT_CONTROL.sub("", value).strip()[:MAX_TEXT_LENGTH] or None


def parse_timestamp(value: Any) -> float:
    """Seconds since the epoch from a number or an ISO-8601 string (naive means UTC).

    Raises:
        ValueError: with a message fit to show a user.
    """
    if isinstance(value, bool):
        raise ValueError("must be an ISO-8601 date-time or seconds since the epoch")
    if isinstance(value, (int, float)):
        ts = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            ts = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"{text[:40]!r} is not an ISO-8601 date-time or seconds since the epoch"
                ) from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            ts = parsed.timestamp()
    else:
        raise ValueError("is required")
    if not math.isfinite(ts) or not MIN_TS <= ts <= MAX_TS:
        raise ValueError("is outside 1990-2100 (milliseconds instead of seconds?)")
    return ts


def parse_event(raw: Mapping[str, Any]) -> Event:
    """Validate one raw event mapping.

    Raises:
        ValueError: ``args == (field, reason)`` for the first problem found.
    """
    try:
        event_id = _text_id(raw, "event_id")
        user_id = _text_id(raw, "user_id")
        kind = raw.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise _Invalid("type", f"is required (one of {', '.join(EVENT_TYPES)})")
        kind = kind.strip().lower()
        if kind not in EVENT_TYPES:
            shown = _UNDECODED.sub("?", kind[:40])
            raise _Invalid("type", f"unknown event type {shown!r} (one of {', '.join(EVENT_TYPES)})")
        item_id = _text_id(raw, "item_id", required=kind not in ITEMLESS_TYPES)
        try:
            ts = parse_timestamp(raw.get("timestamp"))
        except ValueError as exc:
            raise _Invalid("timestamp", str(exc)) from None
        quantity = _number(raw, "quantity")
        if quantity is None:
            quantity = 1.0
        if quantity <= 0:
            raise _Invalid("quantity", "must be positive (use type 'return' for returns)")
        price = _number(raw, "price")
        if price is not None and price < 0:
            raise _Invalid("price", "must not be negative")
        rating = _number(raw, "rating")
        if rating is not None and not 0 <= rating <= 5:
            raise _Invalid("rating", "must be between 0 and 5")
        text = _clean_text(raw, "text")
        if kind == "search" and item_id is None and text is None:
            raise _Invalid("text", "a search without an item needs its query text")
    except _Invalid as exc:
        raise ValueError(exc.field, exc.reason) from None
    assert event_id is not None and user_id is not None
    return Event(event_id, user_id, item_id, kind, ts, quantity, price, rating, text)


def parse_item(raw: Mapping[str, Any]) -> ItemRecord:
    """Validate one raw item mapping; ``categories`` is a list or a ``|``-separated string.

    Raises:
        ValueError: ``args == (field, reason)``.
    """
    try:
        item_id = _text_id(raw, "item_id")
        title = _clean_text(raw, "title") or ""
        description = _clean_text(raw, "description") or ""
        price = _number(raw, "price")
        if price is not None and price < 0:
            raise _Invalid("price", "must not be negative")
        cats = raw.get("categories") or ()
        if isinstance(cats, str):
            cats = [c for c in cats.split("|")]
        if not isinstance(cats, (list, tuple)) or not all(isinstance(c, str) for c in cats):
            raise _Invalid("categories", "must be a list of strings or a '|'-separated string")
        categories = tuple(dict.fromkeys(c.strip() for c in cats if c.strip()))
        if any(_CONTROL.search(c) or _UNDECODED.search(c) for c in categories):
            raise _Invalid("categories", "must be UTF-8 text without control characters")
    except _Invalid as exc:
        raise ValueError(exc.field, exc.reason) from None
    assert item_id is not None
    return ItemRecord(item_id, title, description, price, categories)
