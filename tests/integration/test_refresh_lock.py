"""The refresh lock against the embedded server's real Redis: held past its TTL while the work
goes on (the heartbeat extends it from another thread), refused to a second holder meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from interest_graph.settings import Settings
from interest_workers.tasks.refresh import held_lock

pytestmark = pytest.mark.integration
NAME = "interestgraph:lock:test"


@pytest.fixture
def broker(embedded_settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(embedded_settings.broker())
    client.delete(NAME)
    yield client
    client.delete(NAME)
    client.close()


def test_work_longer_than_the_ttl_keeps_the_lock(broker: redis.Redis) -> None:
    ttl = 1.0
    with held_lock(broker, NAME, ttl) as acquired:
        assert acquired
        started = time.monotonic()
        while time.monotonic() - started < 3 * ttl:
            assert broker.pttl(NAME) > 0, "the lock expired while its holder was still working"
            with held_lock(broker, NAME, ttl) as second:
                assert not second, "a second holder got the lock while the first still works"
            time.sleep(0.2)
    assert broker.get(NAME) is None, "the lock is released when the work ends"


def test_a_dead_holders_lock_expires(broker: redis.Redis) -> None:
    broker.lock(NAME, timeout=0.5, blocking=False).acquire()  # a holder with no heartbeat
    with held_lock(broker, NAME, 1.0) as acquired:
        assert not acquired
    time.sleep(0.7)
    with held_lock(broker, NAME, 1.0) as acquired:
        assert acquired
