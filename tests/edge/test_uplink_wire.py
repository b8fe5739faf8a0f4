"""One batch codec: what the uplink puts on the wire is, byte for byte, the contract's encoding
of the same envelopes, and the cloud's decoder gives them back unchanged."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from contract import (
    Batch,
    Envelope,
    Kind,
    NewEvent,
    Priority,
    decode_batch,
    encode_batch,
    new_epoch,
    topics,
)
from edge.outbox import AsyncOutbox
from edge.uplink import Uplink, UplinkSettings
from tests.edge.helpers_cloud import running, wait_until
from tests.support.services import Mosquitto

SITE = "wire1"
TS = datetime(2026, 11, 23, 1, 2, 3, 123456, tzinfo=UTC)


def _events() -> list[NewEvent]:
    """Every priority, and data that tests the encoder's corners: Chinese text, quotes and
    control characters, nested lists, floats, big integers, null and an empty object."""
    return [
        NewEvent(device="m1", kind=Kind.METER_READING, ts=TS,
                 data={"v": 1, "values": {"energy_import_kwh": 1234.5, "voltage_v": 229.99}}),
        NewEvent(device="1号楼消控", kind=Kind.FIRE_ALARM, ts=TS,
                 data={"message": '火警："3区\t12号"\n / Fire', "zone": 3, "cleared": None}),
        NewEvent(device="g1", kind=Kind.GATE_OPENED, ts=TS,
                 data={"plate": "京A·12345", "lots": ["P1", "P2"], "big": 2**53 + 1,
                       "nested": {"deep": [1, [2, {}]]}}),
        NewEvent(device="cam\u00e9ra", kind=Kind.PLATE_EVIDENCE, ts=TS, data={}),
        NewEvent(device="m2", kind=Kind.METER_READING, ts=TS, priority=Priority.ALARM,
                 data={"ctl": "\x01\x1f\x7f\u2028"}),
    ]


async def _capture(mosquitto: Mosquitto, tmp_path: Path, gzip_above: int
                   ) -> tuple[bytes, list[Envelope], str]:
    """Run a real uplink over the outbox holding ``_events()``; the first ``up/events``
    payload as the broker delivered it, the stored envelopes and the outbox's epoch."""
    box = await AsyncOutbox.open(tmp_path / "o.db")
    got: list[bytes] = []
    async with box, aiomqtt.Client(mosquitto.host, mosquitto.port,
                                   identifier=f"wire-{uuid.uuid4().hex[:8]}") as sub:
        await sub.subscribe(topics.up_events(SITE), qos=1, timeout=5)
        stored = await box.append_many(_events())

        async def collect() -> None:
            async for msg in sub.messages:
                assert isinstance(msg.payload, bytes)
                got.append(msg.payload)

        uplink = Uplink(UplinkSettings(site=SITE, mqtt_url=mosquitto.url, batch_size=50,
                                       gzip_above=gzip_above, replay_rate=100_000.0), box)
        async with running(collect), running(uplink.run):
            await wait_until(lambda: bool(got), what="one batch on the wire")
    return got[0], stored, box.epoch


@pytest.mark.parametrize("gzip_above", [1 << 30, 0], ids=["plain", "gzip"])
async def test_uplink_bytes_are_the_contract_encoding_of_the_same_envelopes(
        tmp_path: Path, mosquitto: Mosquitto, gzip_above: int) -> None:
    payload, stored, epoch = await _capture(mosquitto, tmp_path, gzip_above)
    compressed = payload[:2] == b"\x1f\x8b"
    assert compressed == (gzip_above == 0)
    raw = gzip.decompress(payload) if compressed else payload
    # The uplink sends alarms first, then access, then telemetry, each in seq order.
    in_order = sorted(stored, key=lambda e: (int(e.priority), e.seq))
    expected = Batch(site=SITE, epoch=epoch, events=in_order)
    assert raw == encode_batch(expected)
    assert decode_batch(payload) == expected


def test_decode_of_encode_is_the_identity_plain_and_gzipped() -> None:
    envs = [Envelope(seq=i + 1, id=str(uuid.uuid4()), ts=e.ts, device=e.device, kind=e.kind,
                     data=e.data, priority=e.effective_priority())
            for i, e in enumerate(_events())]
    batch = Batch(site=SITE, epoch=new_epoch(), events=envs, gaps=[(7, 9), (12, 12)])
    for compress in (False, True):
        assert decode_batch(encode_batch(batch, compress=compress)) == batch
