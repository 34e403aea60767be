"""``POST /v1/sources/segment``: behaviour in the Segment e-commerce spec, applied exactly once.

Takes what a Segment (or RudderStack) webhook destination sends: one message, or a batch
(``{"batch": [...]}``). Messages are mapped by :mod:`interest_graph.ingest.segment` (the same
mapping as ``interestgraph consume --format segment``), validated one by one and written before the
202; ``messageId`` is the event id, so a retried delivery counts once. Calls and events without an
interest meaning are counted as ignored. A malformed message is reported by position and field and
the others are written; when no message could be applied the answer is a 422 naming the first
problem.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from flask import Blueprint

from ..ingest.ingestor import Ingestor
from ..ingest.records import Event, ItemRecord
from ..ingest.segment import map_message, messages_of
from ..recipe import EdgeRecipe
from . import extensions as ext
from .errors import ApiError, invalid_body
from .metrics import count_source_events
from .validation import json_object, query_choice

log = logging.getLogger(__name__)

bp = Blueprint("sources", __name__, url_prefix="/v1/sources")

MAX_ERRORS_RETURNED = 1000


@bp.post("/segment")
def post_segment() -> tuple[dict[str, Any], int]:
    """Apply a Segment message or batch; ``?items=false`` keeps the catalogue's item text."""
    items = query_choice("items", "true", ("true", "false")) == "true"
    body = json_object()
    try:
        messages = messages_of(body)
    except ValueError as exc:
        field, reason = exc.args
        if field == "batch" and "more than" in reason:
            raise ApiError(413, "too_large", f"'batch' {reason}", "batch") from None
        raise invalid_body(str(field), f"'{field}' {reason}") from None
    batched = "batch" in body
    records: list[Event | ItemRecord] = []
    ignored: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        try:
            mapped, ignored_as = map_message(message, items=items)
        except ValueError as exc:
            field, reason = (exc.args + ("", ""))[:2]
            errors.append({"index": index, "field": f"batch[{index}].{field}" if batched else field,
                           "reason": str(reason)})
            continue
        records.extend(mapped)
        if ignored_as is not None:
            ignored[ignored_as] += 1
    if errors and not records and not ignored:
        first = errors[0]
        raise invalid_body(first["field"], f"'{first['field']}' {first['reason']}")
    settings = ext.settings()
    ingestor = Ingestor(ext.ingest(), ext.pseudonymiser(), batch_size=settings.batch_size,
                        recipe=EdgeRecipe.from_settings(settings))
    summary = ingestor.run(records, pipelined=False)
    count_source_events("segment", summary.events_applied, summary.duplicates, len(errors),
                        sum(ignored.values()))
    log.info("segment batch: %d messages, %d events applied, %d duplicates, %d rejected, "
             "%d ignored", len(messages), summary.events_applied, summary.duplicates, len(errors),
             sum(ignored.values()))
    return {
        "messages": len(messages),
        "accepted": summary.events_applied,
        "duplicates": summary.duplicates,
        "rejected": len(errors),
        "ignored": dict(ignored),
        "items_upserted": summary.items_upserted,
        "errors": errors[:MAX_ERRORS_RETURNED],
    }, 202
