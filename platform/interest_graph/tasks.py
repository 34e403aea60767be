"""Enqueue worker tasks by name and read their state — without importing the workers (or torch).

The API and the CLI use this module; the task names are the workers' public contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import BrokerUnavailable
from .settings import Settings

REFRESH_FULL = "interest.refresh.full"
REFRESH_INCREMENTAL = "interest.refresh.incremental"
TASK_NAMES = (REFRESH_FULL, REFRESH_INCREMENTAL)


@dataclass(frozen=True)
class TaskState:
    """What a client may know about a task."""

    id: str
    state: str
    stage: str | None
    percent: float | None
    result: dict[str, Any] | None
    error: str | None

    @property
    def done(self) -> bool:
        return self.state in ("SUCCESS", "FAILURE", "REVOKED")


def _is_broker_error(exc: BaseException) -> bool:
    from kombu.exceptions import OperationalError
    from redis import RedisError

    # Celery's Redis result backend raises a bare RuntimeError once its reconnect budget is spent.
    return isinstance(exc, (OperationalError, RedisError, OSError)) or (
        isinstance(exc, RuntimeError) and "result store" in str(exc))


@contextmanager
def broker_errors(action: str) -> Iterator[None]:
    """Translate broker and result-backend failures into :class:`BrokerUnavailable`."""
    try:
        yield
    except Exception as exc:
        if _is_broker_error(exc):
            raise BrokerUnavailable(f"the task broker is unavailable ({action}): "
                                    f"{type(exc).__name__}") from exc
        raise


def bounded_redis(url: str, timeout_s: float) -> Any:
    """A Redis client whose every call fails within ``timeout_s`` (no retries inside the client)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                retry=None)


def celery_timeouts(timeout_s: float) -> dict[str, Any]:
    """Celery options that bound each broker and result-backend socket operation."""
    return dict(
        broker_connection_timeout=timeout_s,
        broker_transport_options={"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s},
        redis_socket_timeout=timeout_s,
        redis_socket_connect_timeout=timeout_s,
    )


class TaskClient:
    """A Celery client bound to the configured broker (no worker code is imported).

    Every call fails within about ``timeout_s`` (default: the ``broker_timeout_s`` setting) with
    :class:`BrokerUnavailable` when the broker is gone, and works again once it is back.
    """

    def __init__(self, settings: Settings, *, timeout_s: float | None = None) -> None:
        from celery import Celery

        timeout_s = settings.broker_timeout_s if timeout_s is None else timeout_s
        with broker_errors("connect"):
            broker = settings.broker()
        self._app = Celery("interest_graph_client", broker=broker,
                           backend=settings.backend(broker), set_as_current=False)
        self._app.conf.update(
            result_extended=True, broker_connection_retry_on_startup=True,
            task_default_queue="interest", **celery_timeouts(timeout_s),
            # A caller waits one timeout, not a retry schedule: it gets an error and may retry.
            broker_connection_max_retries=0, task_publish_retry_policy={"max_retries": 0},
            result_backend_transport_options={"retry_policy": {"max_retries": 0}},
        )

    def send(self, name: str, **kwargs: Any) -> str:
        if name not in TASK_NAMES:
            raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASK_NAMES)}")
        with broker_errors("enqueue"):
            return str(self._app.send_task(name, kwargs=kwargs).id)

    def state(self, task_id: str) -> TaskState:
        result = self._app.AsyncResult(task_id)
        with broker_errors("task state"):
            # The state first: each property reads the backend anew, and a task may finish
            # between the two reads; once SUCCESS is seen, info is the final result.
            state = result.state
            info = result.info
        stage = percent = None
        payload: dict[str, Any] | None = None
        error: str | None = None
        if state == "FAILURE":
            error = f"{type(info).__name__}: {info}" if isinstance(info, BaseException) else str(info)
        elif isinstance(info, dict):
            stage = info.get("stage")
            percent = info.get("percent")
            if state == "SUCCESS":
                payload = info
                stage, percent = "done", 100.0
        return TaskState(task_id, state, stage, percent, payload, error)

    def workers(self, timeout: float = 2.0) -> list[str]:
        """Names of the workers that answer a ping within ``timeout`` seconds."""
        with broker_errors("ping workers"):
            replies = self._app.control.ping(timeout=timeout) or []
        return [name for reply in replies for name in reply]

    def close(self) -> None:
        self._app.close()
