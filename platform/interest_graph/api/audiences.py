"""``/v1/audiences``: rule-based audiences with experiment arms, streamed exports and reports.

Creating and deleting need the write scope; listing, counting, showing, exporting and reports
read. A rule that does not validate is a 4xx naming its place in the document (``rule.all[1].op``)
and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, request

from ..audiences.arms import SCORERS
from ..audiences.export import FORMATS, export_lines
from ..audiences.rules import (
    INTEREST_FIELDS,
    INTEREST_OPS,
    NUMBER_FIELDS,
    NUMBER_OPS,
    TEXT_FIELDS,
    TEXT_OPS,
    VALUE_TIERS,
    RuleError,
)
from ..audiences.service import Audience
from . import extensions as ext
from .errors import invalid_body, invalid_parameter
from .validation import json_object, path_id, query_choice, query_int

bp = Blueprint("audiences", __name__, url_prefix="/v1/audiences")

MAX_RULE_LENGTH = 8000
DEFAULT_REASONS = 3
MAX_REASONS = 20
STREAM_CHUNK = 64 * 1024


def audience_json(a: Audience) -> dict[str, Any]:
    out = asdict(a)
    out["arms"] = [{"name": arm.name, "weight": arm.weight, "scorer": arm.scorer,
                    "members": a.arm_sizes.get(arm.name, 0)} for arm in a.arms]
    del out["arm_sizes"]
    return out


def _batched(chunks: Iterable[str]) -> Iterator[bytes]:
    """Join small chunks into writes of about ``STREAM_CHUNK`` bytes."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= STREAM_CHUNK:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode("utf-8")


@bp.get("")
def index() -> dict[str, Any]:
    """Saved audiences, newest first."""
    return {"audiences": [audience_json(a) for a in ext.audiences().saved()]}


@bp.post("")
def create() -> tuple[dict[str, Any], int]:
    """Validate, save and evaluate an audience (its first evaluation starts the experiment)."""
    body = json_object()
    try:
        audience = ext.audiences().create(body)
    except RuleError as exc:
        raise invalid_body(exc.field, exc.message) from None
    return audience_json(audience), 201


@bp.get("/fields")
def fields() -> dict[str, Any]:
    """What a rule may use: fields with their operators, value tiers and arm scorers."""
    out: list[dict[str, Any]] = [{"name": f, "kind": "number", "ops": list(NUMBER_OPS)}
                                 for f in NUMBER_FIELDS]
    out += [{"name": f, "kind": "text", "ops": list(TEXT_OPS),
             "values": list(VALUE_TIERS) if f == "value_tier" else None} for f in TEXT_FIELDS]
    out += [{"name": f, "kind": "interest", "subject": s, "ops": list(INTEREST_OPS)}
            for f, s in INTEREST_FIELDS.items()]
    return {"fields": out, "scorers": list(SCORERS)}


@bp.get("/count")
def count() -> dict[str, Any]:
    """How many users a rule (JSON in ``rule``) selects now; nothing is written."""
    # JSON may be pretty-printed: control characters inside strings are refused by validation.
    raw = request.args.get("rule", "")
    if not raw or len(raw) > MAX_RULE_LENGTH:
        raise invalid_parameter("rule", f"'rule' is required: a rule document as JSON of at most "
                                        f"{MAX_RULE_LENGTH} characters")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise invalid_parameter("rule", "'rule' is not valid JSON") from None
    try:
        size = ext.audiences().count(doc)
    except RuleError as exc:
        raise invalid_parameter(exc.field, exc.message) from None
    return {"size": size}


@bp.get("/<audience_id>")
def show(audience_id: str) -> dict[str, Any]:
    """One audience: definition, size per arm and evaluation history."""
    return audience_json(ext.audiences().get(path_id("id", audience_id)))


@bp.get("/<audience_id>/export")
def export(audience_id: str) -> Response:
    """The current members as CSV or JSON lines, streamed a page of the graph at a time."""
    fmt = str(query_choice("format", "csv", tuple(FORMATS)))
    top = query_int("reasons", DEFAULT_REASONS, 0, MAX_REASONS)
    # An unknown id is a 404 here, before the response starts (then the id is a known one).
    rows = ext.audiences().export(path_id("id", audience_id), top=top)
    response = Response(_batched(export_lines(rows, fmt)), mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{audience_id}.{fmt}"'
    return response


@bp.get("/<audience_id>/report")
def report(audience_id: str) -> dict[str, Any]:
    """The experiment: per-arm outcomes since it started, with intervals and p-values."""
    return asdict(ext.audiences().report(path_id("id", audience_id)))


@bp.delete("/<audience_id>")
def delete(audience_id: str) -> dict[str, Any]:
    """Delete an audience and every membership edge (404 when unknown)."""
    removed = ext.audiences().delete(path_id("id", audience_id))
    return {"id": audience_id, "deleted": True, "memberships": removed}
