"""Stopping the uplink stops it, even when the MQTT client turns the cancel into an error.

Leaving ``async with Client`` on a cancel, aiomqtt waits for the disconnect and raises
``MqttError`` when that wait times out, replacing the ``CancelledError``; the uplink took that
for a lost link and reconnected forever, and the edge's shutdown hung. The seam is the client
object; the uplink's session and loop around it are the real ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.support.cancel_client import LosesTheCancel, stops_when_cancelled


async def test_a_cancel_turned_into_an_mqtt_error_still_stops_the_uplink(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = await AsyncOutbox.open(tmp_path / "outbox.db")
    uplink = Uplink(UplinkSettings(site="s", mqtt_url="mqtt://127.0.0.1:1",
                                   backoff_initial=0.01, backoff_cap=0.01), outbox)
    monkeypatch.setattr(uplink, "_client", LosesTheCancel)
    try:
        await stops_when_cancelled(uplink.run, "the uplink")
    finally:
        await outbox.aclose()
