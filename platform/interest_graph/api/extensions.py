"""Per-process resources of the API, kept in ``app.extensions``.

``init_graph(app)`` opens the graph store once per process (in the factory, so gunicorn must not
``--preload``: drivers cannot be shared across processes), builds the repositories on it and
closes it when the app goes away, not after each request. ``init_tasks(app)`` adds the Celery
client (created lazily on first use) and the registry of task ids the API enqueued.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from typing import Any

import click
from flask import Flask, current_app

from ..audiences.service import AudienceService
from ..graph import GraphStore, open_store
from ..graph.ingest import IngestRepository
from ..graph.items import ItemRepository
from ..graph.segments import SegmentRepository
from ..graph.users import UserRepository
from ..privacy import Pseudonymiser
from ..settings import Settings
from ..tasks import TaskClient, TaskState, bounded_redis, broker_errors

log = logging.getLogger(__name__)

TASK_KEY_PREFIX = "interestgraph:api:task:"
TASK_TTL_S = 7 * 86400
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def _close_quietly(store: GraphStore) -> None:
    try:
        store.close()
    except Exception:  # noqa: BLE001 - closing at exit must not raise
        log.debug("closing the graph store failed", exc_info=True)


def init_graph(app: Flask, settings: Settings) -> None:
    """Open the store and the repositories for this process; register ``flask init-schema``.

    Each store call of a request is capped at ``request_timeout_s``: past it, the request is a 503.
    """
    cap = settings.request_timeout_s
    store = open_store(settings.with_overrides(
        store_connect_timeout_s=min(settings.store_connect_timeout_s, cap),
        store_query_timeout_s=min(settings.store_query_timeout_s, cap)))
    app.extensions["graph"] = store
    app.extensions["repositories"] = {
        "users": UserRepository(store),
        "items": ItemRepository(store),
        "segments": SegmentRepository(store),
        "ingest": IngestRepository(store),
        "audiences": AudienceService.open(store, settings),
    }
    app.extensions["pseudonymiser"] = Pseudonymiser(settings.resolved_secret(),
                                                    enabled=settings.pseudonymise)
    # Closed when the app is collected or the process exits: one connection pool per process.
    weakref.finalize(app, _close_quietly, store)

    @app.cli.command("init-schema")
    def init_schema_command() -> None:
        """Create the graph's indexes and constraints (idempotent)."""
        store.init_schema()
        click.echo(f"schema ready ({store.backend})")


class TaskRegistry:
    """Enqueues refresh tasks and remembers their ids in Redis, so an unknown id is a 404.

    Celery reports PENDING for any id it has never seen; remembering what we enqueued (for
    ``TASK_TTL_S``) tells the two apart. Without a Redis broker or backend nothing is recorded
    and every well-formed id is looked up. Every broker call is bounded by ``timeout_s`` and
    raises :class:`BrokerUnavailable` (a 503) when the broker is gone.
    """

    def __init__(self, settings: Settings, timeout_s: float) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._client: TaskClient | None = None
        self._redis: Any = None
        self._lock = threading.Lock()

    def _redis_client(self) -> Any:
        if self._redis is None:
            with broker_errors("connect"):
                url = self.settings.backend()
                if not url.startswith("redis"):
                    url = self.settings.broker()
            self._redis = bounded_redis(url, self.timeout_s) if url.startswith("redis") else False
        return self._redis

    def client(self) -> TaskClient:
        with self._lock:
            if self._client is None:
                self._client = TaskClient(self.settings, timeout_s=self.timeout_s)
            return self._client

    def send(self, name: str) -> str:
        task_id = self.client().send(name)
        redis_client = self._redis_client()
        if redis_client:
            with broker_errors("record task"):
                redis_client.set(TASK_KEY_PREFIX + task_id, name, ex=TASK_TTL_S)
        return task_id

    def known(self, task_id: str) -> bool:
        if not _TASK_ID.fullmatch(task_id):
            return False
        redis_client = self._redis_client()
        if not redis_client:
            return True
        with broker_errors("look up task"):
            return bool(redis_client.exists(TASK_KEY_PREFIX + task_id))

    def state(self, task_id: str) -> TaskState:
        return self.client().state(task_id)

    def ping_broker(self) -> None:
        """Raise :class:`BrokerUnavailable` if the broker does not answer within the timeout."""
        with broker_errors("ping"):
            url = self.settings.broker()
            if url.startswith("redis"):
                client = bounded_redis(url, self.timeout_s)
                try:
                    client.ping()
                finally:
                    client.close()
                return
            from kombu.connection import Connection

            with Connection(url, connect_timeout=self.timeout_s) as conn:  # type: ignore[no-untyped-call]
                conn.ensure_connection(max_retries=1)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._redis:
            self._redis.close()


def init_tasks(app: Flask, settings: Settings) -> None:
    registry = TaskRegistry(settings, min(settings.broker_timeout_s, settings.request_timeout_s))
    app.extensions["tasks"] = registry
    weakref.finalize(app, registry.close)


# -- accessors for views ------------------------------------------------------------------


def store() -> GraphStore:
    return current_app.extensions["graph"]  # type: ignore[no-any-return]


def users() -> UserRepository:
    return current_app.extensions["repositories"]["users"]  # type: ignore[no-any-return]


def items() -> ItemRepository:
    return current_app.extensions["repositories"]["items"]  # type: ignore[no-any-return]


def segments() -> SegmentRepository:
    return current_app.extensions["repositories"]["segments"]  # type: ignore[no-any-return]


def ingest() -> IngestRepository:
    return current_app.extensions["repositories"]["ingest"]  # type: ignore[no-any-return]


def audiences() -> AudienceService:
    return current_app.extensions["repositories"]["audiences"]  # type: ignore[no-any-return]


def pseudonymiser() -> Pseudonymiser:
    return current_app.extensions["pseudonymiser"]  # type: ignore[no-any-return]


def tasks() -> TaskRegistry:
    return current_app.extensions["tasks"]  # type: ignore[no-any-return]


def settings() -> Settings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]
