"""The session's Kafka is a real broker: a produced topic comes back in order through a group.

The broker is ``KAFKA_BOOTSTRAP``'s, else the one the session starts with
``tools/kafka-test-server`` (Apache Kafka 4, KRaft). Nothing is mocked.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

pytestmark = [pytest.mark.kafka]

MESSAGES = 100


def test_produced_messages_come_back_in_order_and_the_group_commits(kafka_bootstrap: str) -> None:
    topic = f"test-kafka-server-{uuid.uuid4().hex}"
    group = f"{topic}-group"
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(error)

    for i in range(MESSAGES):
        producer.produce(topic, key=str(i).encode(), value=f"message {i}".encode(), on_delivery=delivered)
    assert producer.flush(30) == 0, "not every message was delivered within 30 s"
    assert failures == []

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.subscribe([topic])
        values: list[str] = []
        deadline = time.monotonic() + 30
        while len(values) < MESSAGES and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            assert message.topic() == topic and message.partition() == 0
            values.append(message.value().decode())
        assert values == [f"message {i}" for i in range(MESSAGES)]

        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        assert [(tp.topic, tp.partition, tp.offset) for tp in committed] == [(topic, 0, MESSAGES)]
        assert committed[0].error is None
    finally:
        consumer.close()
