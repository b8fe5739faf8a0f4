"""The embedded broker: logins, per-site topic rules and persistent sessions, over real MQTT."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from cloud.broker import EmbeddedBroker
from contract import topics
from tests.support.services import free_port

CLOUD_USER = "_courtyard-cloud"
CLOUD_PW = "cloud-pw"


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    b = EmbeddedBroker("127.0.0.1", free_port(), {"demo": "demo-secret", "north": "north-pw"},
                       CLOUD_USER, CLOUD_PW)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


def client(b: EmbeddedBroker, user: str, password: str, ident: str,
           clean: bool = True) -> aiomqtt.Client:
    return aiomqtt.Client(b.host, b.port, username=user, password=password, identifier=ident,
                          clean_session=clean, timeout=5)


async def next_message(c: aiomqtt.Client, wait: float = 3.0) -> aiomqtt.Message | None:
    try:
        async with asyncio.timeout(wait):
            async for m in c.messages:
                return m
    except TimeoutError:
        return None
    return None


def _code(granted: object) -> int:
    """paho reports a SUBACK entry as an int or as a ReasonCode, depending on version."""
    value = getattr(granted, "value", granted)
    assert isinstance(value, int)
    return value


async def test_persistent_session_keeps_qos1_messages_for_offline_site(
        broker: EmbeddedBroker) -> None:
    async with client(broker, "demo", "demo-secret", "edge-demo", clean=False) as edge:
        await edge.subscribe(topics.down_filter("demo"), qos=1)
    # The edge is offline now; the cloud acks two batches meanwhile.
    async with client(broker, CLOUD_USER, CLOUD_PW, "cloud-1") as cloud:
        await cloud.publish(topics.down_ack("demo"), b'{"upto": 7}', qos=1)
        await cloud.publish(topics.down_ack("demo"), b'{"upto": 9}', qos=1)
    async with client(broker, "demo", "demo-secret", "edge-demo", clean=False) as edge:
        got = [await next_message(edge), await next_message(edge)]
    assert [m.payload for m in got if m is not None] == [b'{"upto": 7}', b'{"upto": 9}']


async def test_wrong_password_and_unknown_user_are_refused(broker: EmbeddedBroker) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, "demo", "not-the-secret", "x1"):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, "nobody", "demo-secret", "x2"):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(broker.host, broker.port, identifier="anon", timeout=5):
            pass


async def test_site_cannot_publish_as_another_site(broker: EmbeddedBroker) -> None:
    async with client(broker, CLOUD_USER, CLOUD_PW, "cloud-1") as cloud:
        await cloud.subscribe(topics.INGEST_FILTER, qos=1)
        async with client(broker, "demo", "demo-secret", "edge-demo") as edge:
            await edge.publish(topics.up_events("north"), b"forged", qos=1)
            await edge.publish(topics.up_events("demo"), b"genuine", qos=1)
        first = await next_message(cloud)
        assert first is not None
        assert (str(first.topic), first.payload) == (topics.up_events("demo"), b"genuine")
        assert await next_message(cloud, 0.5) is None


async def test_site_reads_only_its_own_down_topics(broker: EmbeddedBroker) -> None:
    async with client(broker, "demo", "demo-secret", "edge-demo") as edge:
        # Subscribing to another site's commands, or to every site's, is refused (SUBACK 0x80).
        for refused in (topics.down_filter("north"), "courtyard/v1/+/down/#"):
            granted = await edge.subscribe(refused, qos=1)
            assert [_code(g) for g in granted] == [0x80]
        granted = await edge.subscribe(topics.down_filter("demo"), qos=1)
        assert [_code(g) for g in granted] == [1]
        async with client(broker, CLOUD_USER, CLOUD_PW, "cloud-1") as cloud:
            await cloud.publish(topics.down_cmd("north"), b"open-gate", qos=1)
            await cloud.publish(topics.down_ack("demo"), b'{"upto": 1}', qos=1)
        m = await next_message(edge)
        assert m is not None and str(m.topic) == topics.down_ack("demo")
        assert await next_message(edge, 0.5) is None


async def test_site_cannot_publish_down_to_itself(broker: EmbeddedBroker) -> None:
    """A site must not forge acks or commands, even on its own topics."""
    async with client(broker, "demo", "demo-secret", "edge-a") as listener:
        await listener.subscribe(topics.down_filter("demo"), qos=1)
        async with client(broker, "demo", "demo-secret", "edge-b") as forger:
            await forger.publish(topics.down_ack("demo"), b'{"upto": 999}', qos=1)
        assert await next_message(listener, 0.7) is None
