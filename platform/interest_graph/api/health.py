"""``GET /health``: whether the graph store and the broker answer (no key needed)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint

from . import extensions as ext

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> tuple[dict[str, Any], int]:
    """200 when both answer, else 503 naming what failed."""
    checks: dict[str, str] = {}
    try:
        ext.store().ping()
        checks["graph"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        log.warning("health: graph store check failed (%s)", type(exc).__name__)
        checks["graph"] = "unavailable"
    try:
        ext.tasks().ping_broker()
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("health: broker check failed (%s)", type(exc).__name__)
        checks["broker"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
