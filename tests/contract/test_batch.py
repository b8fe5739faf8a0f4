"""The batch codec: the stored-form and decoded-form encoders agree byte for byte, decoding
gives back what was encoded, and what breaks the contract is refused naming the field."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contract import (
    ENVELOPE_VERSION,
    Ack,
    Batch,
    ContractError,
    Envelope,
    Kind,
    Priority,
    decode_ack,
    decode_batch,
    decode_batch_lenient,
    encode_ack,
    encode_batch,
    encode_wire_batch,
    jsoncodec,
    new_epoch,
    wire_envelope,
)
from contract.envelope import format_ts

TS = datetime(2026, 11, 23, 9, 2, 3, 5, tzinfo=timezone(timedelta(hours=8)))
EPOCH = "abcdefghijklmnopqrstuvwxyz"


def _env(seq: int, **data: object) -> Envelope:
    return Envelope(seq=seq, id=str(uuid.uuid4()), ts=TS, device="设备-1", kind=Kind.FIRE_ALARM,
                    data=dict(data), priority=Priority.ALARM)


def test_the_stored_form_encodes_to_the_same_bytes_as_the_decoded_form() -> None:
    envs = [_env(1, zone=3, text='引号"和\n换行'), _env(2), _env(3, nested={"a": [1.5, None]})]
    stored = [wire_envelope(e.seq, e.id, format_ts(e.ts), e.device, e.kind,
                            jsoncodec.dumps(e.data), int(e.priority)) for e in envs]
    assert encode_wire_batch("demo", EPOCH, stored, [(4, 6)]) == encode_batch(
        Batch(site="demo", epoch=EPOCH, events=envs, gaps=[(4, 6)]))


def test_layout_of_a_batch() -> None:
    env = Envelope(seq=17, id="i", ts=datetime(2026, 11, 23, 1, 2, 3, 123456, tzinfo=UTC),
                   device="m1", kind=Kind.METER_READING, data={"v": 1},
                   priority=Priority.TELEMETRY)
    assert encode_batch(Batch(site="demo", epoch=EPOCH, events=[env])) == (
        b'{"v":2,"site":"demo","epoch":"abcdefghijklmnopqrstuvwxyz","events":[{"seq":17,'
        b'"id":"i","ts":"2026-11-23T01:02:03.123456Z","device":"m1","kind":"meter.reading",'
        b'"data":{"v":1},"priority":2}],"gaps":[]}')


def test_round_trip_plain_and_gzip() -> None:
    batch = Batch(site="demo", epoch=EPOCH, events=[_env(1, a=1), _env(2, b="二")],
                  gaps=[(3, 3)])
    for compress in (False, True):
        payload = encode_batch(batch, compress=compress)
        assert (payload[:2] == b"\x1f\x8b") == compress
        assert decode_batch(payload) == batch


@pytest.mark.parametrize(("doc", "field"), [
    ({"v": 3, "site": "s", "epoch": EPOCH, "events": []}, "v"),
    ({"v": 2, "site": "", "epoch": EPOCH, "events": []}, "site"),
    ({"v": 2, "site": "s", "events": []}, "epoch"),
    ({"v": 2, "site": "s", "epoch": "too-short", "events": []}, "epoch"),
    ({"v": 2, "site": "s", "epoch": EPOCH + "/", "events": []}, "epoch"),
    ({"v": 2, "site": "s", "epoch": 12345678901234567, "events": []}, "epoch"),
    ({"v": 2, "site": "s", "epoch": EPOCH, "events": {}}, "events"),
    ({"v": 2, "site": "s", "epoch": EPOCH, "events": [], "gaps": [[3, 2]]}, "gaps[0]"),
    ({"v": 2, "site": "s", "epoch": EPOCH, "events": [{"seq": 0}]}, "events[0].seq"),
])
def test_refusals_name_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(ContractError) as err:
        decode_batch(jsoncodec.dumpb(doc))
    assert err.value.field == field


def test_a_bad_event_with_a_good_seq_is_set_aside_not_the_batch() -> None:
    good = _env(1).to_dict()
    bad = {**_env(2).to_dict(), "ts": "yesterday"}
    batch, rejected = decode_batch_lenient(
        jsoncodec.dumpb({"v": 2, "site": "s", "epoch": EPOCH, "events": [good, bad]}))
    assert [e.seq for e in batch.events] == [1]
    assert [(r.seq, r.field) for r in rejected] == [(2, "events[1].ts")]


def test_corrupt_gzip_and_acks() -> None:
    with pytest.raises(ContractError):
        decode_batch(gzip.compress(b"{}")[:12])
    assert decode_ack(encode_ack(EPOCH, 42)) == Ack(EPOCH, 42)
    assert encode_ack(EPOCH, 42) == b'{"epoch":"abcdefghijklmnopqrstuvwxyz","upto":42}'
    for bad, field in ((b'{"epoch": "abcdefghijklmnopqrstuvwxyz", "upto": -1}', "upto"),
                       (b'{"epoch": "abcdefghijklmnopqrstuvwxyz", "upto": true}', "upto"),
                       (b'{"upto": 17}', "epoch"),  # a version 1 ack names no outbox
                       (b'{"epoch": "x", "upto": 17}', "epoch"),
                       (b"[]", "payload"), (b"x", "payload")):
        with pytest.raises(ContractError) as err:
            decode_ack(bad)
        assert err.value.field == field


def test_a_version_1_batch_is_refused_with_upgrade_the_edge() -> None:
    assert ENVELOPE_VERSION == 2
    with pytest.raises(ContractError) as err:
        decode_batch(jsoncodec.dumpb({"v": 1, "site": "s", "events": [], "gaps": []}))
    assert err.value.field == "v" and "upgrade the edge" in err.value.reason


def test_new_epochs_are_random_fixed_length_and_valid_on_the_wire() -> None:
    epochs = {new_epoch() for _ in range(200)}
    assert len(epochs) == 200
    assert {len(e) for e in epochs} == {26}
    batch = Batch(site="s", epoch=epochs.pop(), events=[_env(1)])
    assert decode_batch(encode_batch(batch)) == batch
