"""The edge's health report: what the edge encodes the console decodes unchanged, and every
wrong field is refused by name."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from contract import ContractError, jsoncodec, topics
from contract.health import (
    MAX_HEALTH_BYTES,
    DeviceCount,
    Health,
    OutboxHealth,
    ReceiverCount,
    decode_health,
    encode_health,
)

TS = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
OLDEST = datetime(2026, 12, 7, 7, 59, 41, tzinfo=UTC)

GOOD: dict[str, Any] = {
    "v": 1, "ts": "2026-12-07T08:00:00.000000Z",
    "outbox": {"depth": 12, "oldest_ts": "2026-12-07T07:59:41.000000Z", "oldest_age_s": 19.0,
               "by_priority": {"alarm": 0, "access": 2, "telemetry": 10}},
    "devices": {"meter": {"online": 40, "total": 42}, "elevator": {"online": 2, "total": 2}},
    "patrol_receivers": {"heard": 5, "total": 6},
    "uptime_s": 86400.5, "version": "1.4.0"}


def _with(path: str, value: Any) -> bytes:
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[p]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return jsoncodec.dumpb(doc)


_DROP = object()


def test_a_report_round_trips() -> None:
    health = Health(ts=TS, outbox=OutboxHealth(depth=12, oldest_ts=OLDEST, oldest_age_s=19.0,
                                               by_priority={"alarm": 0, "telemetry": 12}),
                    devices={"meter": DeviceCount(40, 42), "access": DeviceCount(3, 4)},
                    patrol_receivers=ReceiverCount(5, 6), uptime_s=3600.0, version="1.4.0")
    assert decode_health(encode_health(health)) == health


def test_an_empty_outbox_and_no_patrol_round_trip() -> None:
    health = Health(ts=TS, outbox=OutboxHealth(depth=0), devices={}, patrol_receivers=None,
                    uptime_s=0.0, version="dev")
    back = decode_health(encode_health(health))
    assert back == health
    assert back.outbox.oldest_ts is None and back.outbox.oldest_age_s is None


def test_the_documented_example_decodes_and_extra_keys_are_ignored() -> None:
    doc = {**GOOD, "from_a_newer_edge": {"x": 1}}
    h = decode_health(jsoncodec.dumpb(doc))
    assert h.outbox.depth == 12 and h.outbox.oldest_age_s == 19.0
    assert h.outbox.oldest_ts == OLDEST
    assert h.devices["meter"] == DeviceCount(40, 42)
    assert h.patrol_receivers == ReceiverCount(5, 6)
    assert h.version == "1.4.0"


def test_the_topic_is_the_sites_up_health() -> None:
    assert topics.up_health("yard-7") == "courtyard/v1/yard-7/up/health"
    assert topics.parse(topics.up_health("yard-7")) == ("yard-7", "up", "health")


@pytest.mark.parametrize(("path", "value", "field"), [
    ("v", 2, "v"),
    ("v", True, "v"),
    ("v", _DROP, "v"),
    ("ts", "yesterday", "ts"),
    ("ts", "2026-12-07T08:00:00", "ts"),  # no offset
    ("ts", _DROP, "ts"),
    ("outbox", [], "outbox"),
    ("outbox", _DROP, "outbox"),
    ("outbox.depth", -1, "outbox.depth"),
    ("outbox.depth", 1.5, "outbox.depth"),
    ("outbox.depth", "12", "outbox.depth"),
    ("outbox.depth", _DROP, "outbox.depth"),
    ("outbox.oldest_ts", "not a time", "outbox.oldest_ts"),
    ("outbox.oldest_ts", None, "outbox.oldest_ts"),  # age without a time
    ("outbox.oldest_age_s", None, "outbox.oldest_age_s"),  # time without an age
    ("outbox.oldest_age_s", -3, "outbox.oldest_age_s"),
    ("outbox.oldest_age_s", "19", "outbox.oldest_age_s"),
    ("outbox.by_priority", [1], "outbox.by_priority"),
    ("outbox.by_priority.urgent", 1, "outbox.by_priority.urgent"),
    ("outbox.by_priority.alarm", -1, "outbox.by_priority.alarm"),
    ("devices", None, "devices"),
    ("devices", _DROP, "devices"),
    ("devices.toaster", {"online": 1, "total": 1}, "devices.toaster"),
    ("devices.meter", 40, "devices.meter"),
    ("devices.meter.online", 43, "devices.meter.online"),  # more than total
    ("devices.meter.online", None, "devices.meter.online"),
    ("devices.meter.total", -1, "devices.meter.total"),
    ("devices.meter.total", _DROP, "devices.meter.total"),
    ("patrol_receivers", 5, "patrol_receivers"),
    ("patrol_receivers.heard", 7, "patrol_receivers.heard"),  # more than total
    ("patrol_receivers.heard", False, "patrol_receivers.heard"),
    ("patrol_receivers.total", _DROP, "patrol_receivers.total"),
    ("uptime_s", -1, "uptime_s"),
    ("uptime_s", "long", "uptime_s"),
    ("uptime_s", _DROP, "uptime_s"),
    ("version", "", "version"),
    ("version", 14, "version"),
    ("version", "x" * 65, "version"),
    ("version", _DROP, "version"),
])
def test_every_wrong_field_is_refused_by_name(path: str, value: Any, field: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_health(_with(path, value))
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_an_empty_outbox_cannot_name_an_oldest_event() -> None:
    doc = copy.deepcopy(GOOD)
    doc["outbox"]["depth"] = 0
    with pytest.raises(ContractError) as caught:
        decode_health(jsoncodec.dumpb(doc))
    assert caught.value.field == "outbox.oldest_ts"


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1, 2]", b"\"online\"",
                                     b"{" + b" " * MAX_HEALTH_BYTES + b"}"])
def test_what_is_not_a_report_is_refused(payload: bytes) -> None:
    with pytest.raises(ContractError) as caught:
        decode_health(payload)
    assert caught.value.field == "health"


def test_the_encoder_refuses_what_the_decoder_would() -> None:
    bad = Health(ts=TS, outbox=OutboxHealth(depth=1, oldest_ts=OLDEST, oldest_age_s=1.0),
                 devices={"meter": DeviceCount(5, 4)}, uptime_s=1.0, version="1")
    with pytest.raises(ContractError) as caught:
        encode_health(bad)
    assert caught.value.field == "devices.meter.online"
