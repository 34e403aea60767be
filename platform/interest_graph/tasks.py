"""Enqueue worker tasks by name and read their state — without importing the workers (or torch).

The API and the CLI use this module; the task names are the workers' public contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


class TaskClient:
    """A Celery client bound to the configured broker (no worker code is imported)."""

    def __init__(self, settings: Settings) -> None:
        from celery import Celery

        broker = settings.broker()
        self._app = Celery("interest_graph_client", broker=broker,
                           backend=settings.backend(broker), set_as_current=False)
        self._app.conf.update(result_extended=True, broker_connection_retry_on_startup=True,
                              task_default_queue="interest")

    def send(self, name: str, **kwargs: Any) -> str:
        if name not in TASK_NAMES:
            raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASK_NAMES)}")
        return str(self._app.send_task(name, kwargs=kwargs).id)

    def state(self, task_id: str) -> TaskState:
        result = self._app.AsyncResult(task_id)
        # The state first: each property reads the backend anew, and a task may finish between
        # the two reads; once SUCCESS is seen, info is the final result.
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
        replies = self._app.control.ping(timeout=timeout) or []
        return [name for reply in replies for name in reply]

    def close(self) -> None:
        self._app.close()
