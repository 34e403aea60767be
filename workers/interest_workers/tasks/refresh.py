"""Refresh tasks: ``interest.refresh.full``, ``interest.refresh.incremental`` and the full
refresh's helpers, ``interest.refresh.shard``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import Task, group, shared_task
from celery.exceptions import Reject

from interest_graph.errors import GraphUnavailable
from interest_graph.tasks import bounded_redis

from .. import incremental, refresh, resources
from ..heap import reused_heap
from ..heartbeat import heartbeat
from ..pipelines.artefacts import load_artefacts
from ..shards import (
    ShardBoard,
    ShardInputs,
    ShardPlan,
    complete_shards,
    do_shard,
    load_consumed,
    work_shards,
)

log = logging.getLogger(__name__)

FULL_LOCK = "interestgraph:lock:refresh:full"
INCREMENTAL_LOCK = "interestgraph:lock:refresh:incremental"
REFRESH_SHARD = "interest.refresh.shard"
#: A dead helper's shard is taken over this long after its last heartbeat (at most the lock TTL).
CLAIM_TTL_S = 60.0


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
    try:
        with heartbeat(lambda: lock.extend(ttl, replace_ttl=True), ttl / 3, name):
            yield True
    finally:
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


def _board(client: redis.Redis, plan: ShardPlan) -> ShardBoard:
    return ShardBoard(client, plan.version, min(CLAIM_TTL_S, resources.settings().refresh_lock_ttl_s))


def _do_shard(plan: ShardPlan, inputs: ShardInputs) -> Callable[[int], None]:
    repo = resources.refresh_repository()

    def do(shard: int) -> None:
        do_shard(repo, plan, inputs, shard)
        log.info("refresh %s: shard %d of %d written", plan.version, shard + 1, plan.shards)

    return do


def run_shards(plan: ShardPlan, inputs: ShardInputs) -> None:
    """The full refresh's shard runner: one helper task per other shard, then this worker takes
    shards too, and returns once every shard is written (redoing those of dead helpers)."""
    settings = resources.settings()
    client = bounded_redis(settings.broker(), settings.broker_timeout_s)
    board = _board(client, plan)
    try:
        # Not the refresh's children: a client reading the refresh's result would otherwise
        # subscribe to every helper's result.
        group(refresh_shard.s(plan.as_dict(), first) for first in range(1, plan.shards)
              ).apply_async(add_to_parent=False)
        with reused_heap():
            complete_shards(board, plan.shards, _do_shard(plan, inputs))
    finally:
        board.close()  # written, or given up: late helpers stop
        client.close()


@shared_task(  # type: ignore[untyped-decorator]  # Celery is untyped
    name="interest.refresh.full", bind=True, base=RefreshTask, autoretry_for=TRANSIENT,
    retry_backoff=True, retry_backoff_max=300, max_retries=15, acks_late=True)
def refresh_full(self: Task) -> dict[str, Any]:
    """Train, score everything and segment; one at a time (a lock with expiry)."""
    return _run_locked(self, FULL_LOCK, "a full refresh is already running", lambda progress: (
        refresh.run_full(resources.refresh_repository(), resources.settings(),
                         resources.encoder(), progress, shard_runner=run_shards).as_dict()))


@shared_task(  # type: ignore[untyped-decorator]  # Celery is untyped
    name=REFRESH_SHARD, base=RefreshTask, autoretry_for=TRANSIENT, retry_backoff=True,
    retry_backoff_max=60, max_retries=12, acks_late=True, ignore_result=True)
def refresh_shard(plan: dict[str, Any], first: int) -> dict[str, Any]:
    """Help a full refresh: score and write the shards nobody holds, from ``first`` on."""
    shard_plan = ShardPlan(**plan)
    settings = resources.settings()
    client = bounded_redis(settings.broker(), settings.broker_timeout_s)
    try:
        board = _board(client, shard_plan)
        if board.closed or len(board.done()) == shard_plan.shards:
            return {"version": shard_plan.version, "shards": []}
        art = resources.cached_model(shard_plan.model_path, load_artefacts)
        consumed = load_consumed(Path(shard_plan.consumed_path))
        inputs = ShardInputs.from_artefacts(art, consumed)
        with reused_heap():
            done = work_shards(board, shard_plan.shards, _do_shard(shard_plan, inputs), first)
        return {"version": shard_plan.version, "shards": done}
    finally:
        client.close()


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
