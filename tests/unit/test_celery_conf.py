from __future__ import annotations

from pathlib import Path

from celery.schedules import crontab

from interest_graph.settings import Settings
from interest_workers.celery_app import celery_conf


def test_reliability_options_and_beat_schedule(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/1",
                        incremental_every_s=30.0, full_refresh_hour=3, refresh_lock_ttl_s=100,
                        broker_timeout_s=3.0)
    conf = celery_conf(settings)
    assert conf["broker_url"] == "redis://127.0.0.1:1/1"
    assert conf["result_backend"] == "redis://127.0.0.1:1/2"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    # A redelivered message must not come back while its refresh may still hold the lock.
    assert conf["broker_transport_options"]["visibility_timeout"] >= 4 * 100
    # Every broker socket call is bounded; the worker itself reconnects for as long as it takes.
    assert conf["broker_transport_options"]["socket_timeout"] == 3.0
    assert conf["broker_transport_options"]["socket_connect_timeout"] == 3.0
    assert conf["redis_socket_timeout"] == conf["broker_connection_timeout"] == 3.0
    assert conf["broker_connection_max_retries"] is None
    schedule = conf["beat_schedule"]
    assert schedule["incremental-refresh"]["task"] == "interest.refresh.incremental"
    assert schedule["incremental-refresh"]["schedule"] == 30.0
    # Ticks queued behind a slow refresh expire instead of piling up (each run covers every
    # change since the watermark): without it, latency under steady load grows with the queue.
    assert schedule["incremental-refresh"]["options"]["expires"] == 30.0
    nightly = schedule["nightly-full-refresh"]
    assert nightly["task"] == "interest.refresh.full"
    assert nightly["schedule"] == crontab(hour=3, minute=0)
