"""A refresh whose retry cannot be published (the broker is down) is requeued, not dropped."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.exceptions import Reject

from interest_graph.errors import GraphUnavailable
from interest_workers.tasks.refresh import RefreshTask


def test_a_retry_the_broker_cannot_take_requeues_the_message() -> None:
    # A real broker URL on a port nothing listens on: publishing fails as it would in an outage.
    app = Celery("t", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.update(broker_connection_timeout=0.5, broker_connection_max_retries=0,
                    task_publish_retry_policy={"max_retries": 0},
                    broker_transport_options={"socket_connect_timeout": 0.5})

    @app.task(bind=True, base=RefreshTask, name="t.refresh")
    def refresh(self: RefreshTask) -> None:  # pragma: no cover - never run, only retried
        pass

    @app.task(bind=True, name="t.plain")
    def plain(self: object) -> None:  # pragma: no cover
        pass

    for task, requeued in ((refresh, True), (plain, False)):
        task.push_request(id="task-1", called_directly=False, retries=0, delivery_info={})
        try:
            with pytest.raises(Reject) as info:
                task.retry(exc=GraphUnavailable("store away"), countdown=1)
        finally:
            task.pop_request()
        assert info.value.requeue is requeued, task.name
    app.close()
