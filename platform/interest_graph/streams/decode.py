"""A stream message's bytes as records: our generic JSON or a Segment e-commerce message.

``generic``: a JSON object that is one event in the loader's fields (``event_id``, ``user_id``,
``item_id``, ``type``, ``timestamp``, …), or an envelope like the body of ``POST /v1/events``
(``{"events": [...], "items": [...]}``). ``segment``: one Segment message or a Segment batch
(:mod:`interest_graph.ingest.segment`).

A message is the unit of rejection: if any of its records is malformed the whole message goes to
the dead-letter topic (so it can be fixed and replayed as it was), with the field that is wrong.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..ingest.records import Event, ItemRecord, parse_event, parse_item
from ..ingest.segment import map_message, messages_of

FORMATS = ("generic", "segment")
MAX_RECORDS = 10_000


@dataclass
class Decoded:
    """A message's records and the Segment events it ignored (by name)."""

    records: list[Event | ItemRecord] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


def _json(value: bytes | None) -> Any:
    if value is None:
        raise ValueError("value", "is empty (a tombstone)")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("value", "is not UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("value", f"is not JSON: {exc.msg} at character {exc.pos}") from None


def _generic(payload: Any) -> Decoded:
    if not isinstance(payload, Mapping):
        raise ValueError("value", "must be a JSON object (an event, or {\"events\": [...]})")
    if "events" not in payload and "items" not in payload:
        return Decoded([parse_event(payload)])
    out = Decoded()
    for key, parse in (("items", parse_item), ("events", parse_event)):
        raws = payload.get(key) or []
        if not isinstance(raws, list):
            raise ValueError(key, "must be a list")
        if len(raws) > MAX_RECORDS:
            raise ValueError(key, f"holds more than {MAX_RECORDS} records")
        for index, raw in enumerate(raws):
            if not isinstance(raw, Mapping):
                raise ValueError(f"{key}[{index}]", "must be a JSON object")
            try:
                out.records.append(parse(raw))
            except ValueError as exc:
                name, reason = (exc.args + ("", ""))[:2]
                raise ValueError(f"{key}[{index}].{name}", reason) from None
    return out


def _segment(payload: Any, items: bool) -> Decoded:
    out = Decoded()
    messages = messages_of(payload)
    for index, message in enumerate(messages):
        try:
            records, ignored = map_message(message, items=items)
        except ValueError as exc:
            name, reason = (exc.args + ("", ""))[:2]
            raise ValueError(f"batch[{index}].{name}" if "batch" in payload else name,
                             reason) from None
        out.records.extend(records)
        if ignored is not None:
            out.ignored[ignored] += 1
    return out


def decode(value: bytes | None, fmt: str, *, items: bool = True) -> Decoded:
    """The records of one message.

    Raises:
        ValueError: ``(field, reason)`` when the message cannot be applied as a whole.
    """
    payload = _json(value)
    if fmt == "segment":
        return _segment(payload, items)
    if fmt == "generic":
        try:
            return _generic(payload)
        except ValueError as exc:
            name, reason = (exc.args + ("", ""))[:2]
            raise ValueError(str(name), str(reason)) from None
    raise ValueError("format", f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
