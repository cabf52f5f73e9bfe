"""core/broker.py: kombu's Redis transport with one client per channel."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Exchange, Queue

from tests.conftest import need, redis_available, redis_url


@pytest.fixture
def broker_connection():
    need(redis_available(), "Redis is not reachable (set REDIS_URL)")
    with Connection(redis_url(), transport="core.broker:Transport") as conn:
        yield conn


def test_a_channel_publishes_through_one_client_and_every_message_arrives(broker_connection):
    name = f"tests-broker-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name), routing_key=name)
    channel = broker_connection.channel()
    try:
        producer = broker_connection.Producer(channel)
        first = channel._create_client()
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])
        assert channel._create_client() is first  # kombu's own channel builds one a call
        with broker_connection.SimpleQueue(queue) as consumed:
            got = [consumed.get(timeout=2) for _ in range(3)]
            for message in got:
                message.ack()
        assert sorted(m.payload["n"] for m in got) == [0, 1, 2]
    finally:
        channel.client.delete(name)
        channel.close()


def test_a_channel_whose_pool_was_dropped_gets_a_client_on_the_new_pool(broker_connection):
    channel = broker_connection.channel()
    try:
        old = channel._create_client()
        channel._after_fork()  # kombu drops the channel's pools in a forked child
        client = channel._create_client()
        assert client is not old
        assert client.connection_pool is channel.pool
        assert client.ping()
    finally:
        channel.close()


def test_the_worker_side_client_is_kombus_own(broker_connection):
    channel = broker_connection.channel()
    try:
        assert channel._create_client(asynchronous=True) is not channel._create_client()
    finally:
        channel.close()
