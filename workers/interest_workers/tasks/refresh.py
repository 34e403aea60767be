"""Refresh tasks: ``interest.refresh.full`` and ``interest.refresh.incremental``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery import Task, shared_task
from celery.exceptions import Reject

from interest_graph.errors import GraphUnavailable
from interest_graph.tasks import bounded_redis

from .. import incremental, refresh, resources
from ..pipelines.artefacts import load_artefacts

log = logging.getLogger(__name__)

FULL_LOCK = "interestgraph:lock:refresh:full"
INCREMENTAL_LOCK = "interestgraph:lock:refresh:incremental"


@contextmanager
def held_lock(client: redis.Redis, name: str, ttl: float) -> Iterator[bool]:
    """A Redis lock with expiry, kept alive by a heartbeat while the holder works.

    Yields False when another worker holds it. If this worker dies, the heartbeat stops and the
    lock expires after ``ttl`` seconds, so a later refresh can run.
    """
    # The heartbeat thread extends the lock: its token must not be thread-local (redis-py's
    # default), or the other thread finds none and the lock expires while the work goes on.
    lock = client.lock(name, timeout=ttl, blocking=False, thread_local=False)
    if not lock.acquire():
        yield False
        return
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl / 3):
            try:
                lock.extend(ttl, replace_ttl=True)
            except redis.exceptions.RedisError:
                log.warning("could not extend lock %s", name, exc_info=True)

    beat = threading.Thread(target=heartbeat, name=f"lock-{name}", daemon=True)
    beat.start()
    try:
        yield True
    finally:
        stop.set()
        beat.join()
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("lock %s expired before the work finished", name)


def _run_locked(task: Task, lock: str, busy: str,
                work: Callable[[Callable[[str, float], None]], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` under ``lock``, reporting its progress in the task's state."""
    settings = resources.settings()
    client = bounded_redis(settings.broker(), settings.broker_timeout_s)
    try:
        with held_lock(client, lock, settings.refresh_lock_ttl_s) as acquired:
            if not acquired:
                return {"status": "skipped", "reason": busy}

            def progress(stage: str, percent: float) -> None:
                task.update_state(state="PROGRESS",
                                  meta={"stage": stage, "percent": round(percent, 1)})

            try:
                return work(progress)
            finally:
                resources.release_memory()
    finally:
        client.close()


class RefreshTask(Task):  # type: ignore[misc]
    """A task whose retry, when the broker cannot take it, puts the message back.

    Celery rejects the message *without* requeue when it cannot publish the retry (the broker is
    down), which drops the task; requeueing it instead keeps it, and when even that fails the
    unacknowledged message comes back after the visibility timeout.
    """

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().retry(*args, **kwargs)
        except Reject as exc:
            if exc.requeue:
                raise
            log.warning("could not publish the retry of %s; requeueing it", self.name)
            raise Reject(exc.reason, requeue=True) from exc


# Transient: the store or the broker is away. Retried with jittered exponential backoff: a full
# refresh for up to ~40 minutes, an incremental one for up to ~7 (the next scheduled incremental
# refresh covers the same changes anyway).
TRANSIENT = (GraphUnavailable, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@shared_task(  # type: ignore[untyped-decorator]  # Celery is untyped
    name="interest.refresh.full", bind=True, base=RefreshTask, autoretry_for=TRANSIENT,
    retry_backoff=True, retry_backoff_max=300, max_retries=15, acks_late=True)
def refresh_full(self: Task) -> dict[str, Any]:
    """Train, score everything and segment; one at a time (a lock with expiry)."""
    return _run_locked(self, FULL_LOCK, "a full refresh is already running", lambda progress: (
        refresh.run_full(resources.refresh_repository(), resources.settings(),
                         resources.encoder(), progress).as_dict()))


@shared_task(  # type: ignore[untyped-decorator]  # Celery is untyped
    name="interest.refresh.incremental", bind=True, base=RefreshTask, autoretry_for=TRANSIENT,
    retry_backoff=True, retry_backoff_max=60, max_retries=12, acks_late=True)
def refresh_incremental(self: Task) -> dict[str, Any]:
    """Re-score what changed since the watermark with the saved model; returns at once if nothing."""
    return _run_locked(self, INCREMENTAL_LOCK, "an incremental refresh is already running",
                       lambda progress: incremental.run_incremental(
                           resources.refresh_repository(), resources.settings(),
                           resources.encoder(),
                           lambda path: resources.cached_model(path, load_artefacts),
                           progress))
