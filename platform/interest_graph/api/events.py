"""``POST /v1/events``: a batch of events (and items) applied exactly once before the 202.

Each record is validated on its own; rejected records are reported by position and field and the
rest are written. Every event is committed to the graph (atomic batches, exactly-once by keyed
event id) before the response, so a retried request is harmless: already applied events come back
as duplicates.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint

from ..errors import BrokerUnavailable
from ..ingest.ingestor import Ingestor
from ..ingest.records import Event, ItemRecord, parse_event, parse_item
from ..recipe import EdgeRecipe
from ..tasks import REFRESH_INCREMENTAL
from . import extensions as ext
from .errors import ApiError, invalid_body
from .metrics import count_events
from .validation import json_object, nul_field, query_choice

log = logging.getLogger(__name__)

bp = Blueprint("events", __name__, url_prefix="/v1")

MAX_EVENTS = 10_000
MAX_ITEMS = 10_000
MAX_ERRORS_RETURNED = 1000


def _records(body: dict[str, Any], key: str, limit: int) -> list[Any]:
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_body(key, f"'{key}' must be a list")
    if len(value) > limit:
        raise ApiError(413, "too_large", f"at most {limit} {key} per request", key)
    return value


@bp.post("/events")
def post_events() -> tuple[dict[str, Any], int]:
    """Validate and apply a batch; ``?refresh=incremental`` enqueues a refresh afterwards."""
    refresh = query_choice("refresh", None, ("incremental",))
    body = json_object()
    raw_events = _records(body, "events", MAX_EVENTS)
    raw_items = _records(body, "items", MAX_ITEMS)
    errors: list[dict[str, Any]] = []
    records: list[Event | ItemRecord] = []
    for kind, raws, parse in (("item", raw_items, parse_item), ("event", raw_events, parse_event)):
        for index, raw in enumerate(raws):
            if not isinstance(raw, dict):
                errors.append({"kind": kind, "index": index, "field": kind,
                               "reason": "must be a JSON object"})
                continue
            if (bad := nul_field(raw)) is not None:
                errors.append({"kind": kind, "index": index, "field": bad,
                               "reason": "must not contain a NUL character"})
                continue
            try:
                records.append(parse(raw))
            except ValueError as exc:
                field, reason = (exc.args + ("", ""))[:2]
                errors.append({"kind": kind, "index": index, "field": str(field),
                               "reason": str(reason)})
    settings = ext.settings()
    ingestor = Ingestor(ext.ingest(), ext.pseudonymiser(), batch_size=settings.batch_size,
                        recipe=EdgeRecipe.from_settings(settings))
    # Items first: the ingestor writes them before the events of the same batch anyway.
    summary = ingestor.run(records, pipelined=False)
    out: dict[str, Any] = {
        "accepted": summary.events_applied,
        "duplicates": summary.duplicates,
        "rejected": len(errors),
        "items_upserted": summary.items_upserted,
        "errors": errors[:MAX_ERRORS_RETURNED],
    }
    count_events(summary.events_applied, summary.duplicates, len(errors))
    if refresh is not None:
        try:
            out["task_id"] = ext.tasks().send(REFRESH_INCREMENTAL)
        except BrokerUnavailable:
            raise ApiError(503, "broker_unavailable", "the events were applied but the refresh "
                           "could not be enqueued: the task broker is unavailable; retrying the "
                           "request is safe (applied events count once)",
                           headers={"Retry-After": "5"}) from None
    log.info("events batch: %d applied, %d duplicates, %d rejected", summary.events_applied,
             summary.duplicates, len(errors))
    return out, 202
