"""``POST /v1/refresh`` enqueues a refresh; ``GET /v1/tasks/<id>`` reports its progress."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..errors import NotFound
from ..tasks import REFRESH_FULL, REFRESH_INCREMENTAL
from . import extensions as ext
from .errors import invalid_body
from .validation import json_object

bp = Blueprint("tasks", __name__, url_prefix="/v1")

KINDS = {"full": REFRESH_FULL, "incremental": REFRESH_INCREMENTAL}


@bp.post("/refresh")
def refresh() -> tuple[dict[str, Any], int]:
    """Enqueue a full or incremental refresh for the workers."""
    body = json_object()
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise invalid_body("kind", "'kind' must be 'full' or 'incremental'")
    return {"task_id": ext.tasks().send(KINDS[kind]), "kind": kind}, 202


@bp.get("/tasks/<task_id>")
def task(task_id: str) -> dict[str, Any]:
    """State of a task this API enqueued (404 for ids it never issued or that expired)."""
    registry = ext.tasks()
    if not registry.known(task_id):
        raise NotFound("unknown task")
    state = registry.state(task_id)
    return {"id": state.id, "state": state.state, "stage": state.stage, "percent": state.percent,
            "result": state.result, "error": state.error, "done": state.done}
