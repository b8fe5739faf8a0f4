"""What every MQTT client of the console does when its broker goes away: reconnect.

A broker restart must cost a reconnect, never the console. aiomqtt raises ``MqttError`` on a
lost link, but code running inside an ``asyncio.TaskGroup`` receives it wrapped in an
``ExceptionGroup``; callers catch both with ``except* aiomqtt.MqttError`` and take the first
error here for the log line. The back-off is short and capped (0.5 s doubling to 5 s, with
jitter), so a client is back within seconds of the broker and many clients do not return in
lockstep.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt

MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0


def first_mqtt_error(group: BaseExceptionGroup[aiomqtt.MqttError]) -> aiomqtt.MqttError | None:
    """The first MqttError inside a (possibly nested) group caught by ``except*``."""
    for exc in group.exceptions:
        if isinstance(exc, aiomqtt.MqttError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = first_mqtt_error(exc)
            if found is not None:
                return found
    return None


@asynccontextmanager
async def mqtt_session(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Client]:
    """``async with client``, except that a cancel stays a cancel.

    Leaving ``async with Client`` on a cancel, aiomqtt waits for the disconnect and raises
    ``MqttError`` when that wait times out (a loaded host, a broker gone quiet), which replaces
    the ``CancelledError``: a reconnect loop would take it for a lost broker and never stop.
    """
    cancelled = False
    try:
        async with client:
            try:
                yield client
            except asyncio.CancelledError:
                cancelled = True
                raise
    except aiomqtt.MqttError:
        if cancelled:
            raise asyncio.CancelledError from None
        raise


def reconnect_delay(backoff: float) -> float:
    """Seconds to wait before the next attempt: ``backoff`` ±50 % jitter."""
    return backoff * random.uniform(0.5, 1.5)


def next_backoff(backoff: float, cap: float = MAX_BACKOFF_S) -> float:
    return min(backoff * 2, cap)


def tls_context(tls: bool, ca_file: str | None = None) -> ssl.SSLContext | None:
    """The client TLS context of an ``mqtts://`` URL: the system's trust store, or only the
    CA in ``ca_file`` (``COURTYARD_MQTT_CA``) for a broker with a private CA. The broker's
    name is always checked against its certificate."""
    if not tls:
        return None
    return ssl.create_default_context(cafile=ca_file) if ca_file else \
        ssl.create_default_context()
