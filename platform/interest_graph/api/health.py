"""``GET /health``: whether the graph store and the broker answer (no key needed).

Both checks run at once, each bounded by the API's timeouts, so a frozen server (which is both
store and broker when embedded) costs one timeout, not two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Blueprint

from . import extensions as ext

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")


def _check(name: str, probe: Callable[[], None]) -> str:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        log.warning("health: %s check failed (%s)", name, type(exc).__name__)
        return "unavailable"
    return "ok"


@bp.get("/health")
def health() -> tuple[dict[str, Any], int]:
    """200 when both answer, else 503 naming what failed."""
    probes = {"graph": ext.store().ping, "broker": ext.tasks().ping_broker}
    futures = {name: _checks.submit(_check, name, probe) for name, probe in probes.items()}
    checks = {name: future.result() for name, future in futures.items()}
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
