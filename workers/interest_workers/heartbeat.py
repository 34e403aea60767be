"""A background thread that renews something (a lock, a claim) while the work it covers runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def heartbeat(renew: Callable[[], None], period_s: float, name: str) -> Iterator[None]:
    """Call ``renew`` every ``period_s`` seconds until the block exits.

    A failing ``renew`` is logged and retried on the next beat (the store or broker may blink);
    what it protects then expires on its own if the beats keep failing.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(period_s):
            try:
                renew()
            except Exception:  # noqa: BLE001 - any failure: log it, beat again
                log.warning("heartbeat %s could not renew", name, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
