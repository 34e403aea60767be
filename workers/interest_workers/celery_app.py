"""The Celery application of the workers.

``celery -A interest_workers.celery_app worker`` (or ``interestgraph worker``) configures it from
the environment on first use; tests and entry points may call :func:`configure` with their own
settings first. Broker and result backend default to the embedded server's Redis.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import crontab

from interest_graph.settings import Settings
from interest_graph.tasks import celery_timeouts

app = Celery("interest_workers", set_as_current=True)
_configured: dict[str, Settings] = {}


def settings_of(celery: Celery = app) -> Settings:
    """The settings the app was configured with."""
    settings = _configured.get(celery.main or "")
    if settings is None:
        settings = configure(Settings.from_env(), celery)
    return settings


def celery_conf(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings."""
    broker = settings.broker()
    timeouts = celery_timeouts(settings.broker_timeout_s)
    return dict(
        timeouts,
        broker_url=broker,
        result_backend=settings.backend(broker),
        broker_connection_retry_on_startup=True,
        # A worker outlives a broker outage: it reconnects for as long as it takes.
        broker_connection_max_retries=None,
        task_default_queue="interest",
        # Long tasks: acknowledge after the work, one message at a time, and give a message
        # back if its worker dies (tasks are idempotent, so a redelivery is harmless). A task
        # running when the broker goes away goes on; its ack is lost with the connection, so
        # the message comes back after the visibility timeout and runs again.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        result_extended=True,
        result_expires=7 * 86400,
        broker_transport_options={**timeouts["broker_transport_options"],
                                  "visibility_timeout": max(60, 4 * settings.refresh_lock_ttl_s)},
        worker_hijack_root_logger=False,
        beat_schedule={
            "incremental-refresh": {
                "task": "interest.refresh.incremental",
                "schedule": settings.incremental_every_s,
                # A tick still queued when the next one comes is dropped: each run covers every
                # change since the watermark, so a backlog of ticks (a refresh slower than the
                # schedule) would only delay the next fresh one.
                "options": {"expires": settings.incremental_every_s},
            },
            "nightly-full-refresh": {
                "task": "interest.refresh.full",
                "schedule": crontab(hour=settings.full_refresh_hour, minute=0),
            },
        },
        include=["interest_workers.tasks.refresh"],
    )


def configure(settings: Settings, celery: Celery = app) -> Settings:
    """Point the app at the configured broker; call before the app is first used."""
    _configured[celery.main or ""] = settings
    celery.config_from_object(celery_conf(settings))
    return settings


@app.on_configure.connect  # type: ignore[untyped-decorator]  # Celery's signals are untyped
def _configure_from_env(sender: Celery, **_: Any) -> None:
    # Runs when Celery first reads its configuration: entry points that did not call
    # configure() (``celery -A interest_workers.celery_app …``) get the environment's settings.
    if (sender.main or "") not in _configured:
        configure(Settings.from_env(), sender)
