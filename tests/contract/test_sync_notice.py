"""The ``down/sync`` notice: one encoder for the console, one decoder for the edge."""

from __future__ import annotations

import pytest

from contract import ContractError
from contract.sync import SyncNotice, decode_sync, encode_sync


def test_round_trip_and_exact_bytes() -> None:
    notice = SyncNotice("parking", 7)
    assert encode_sync(notice) == b'{"dataset":"parking","version":7}'
    assert decode_sync(encode_sync(notice)) == notice
    dataset, version = decode_sync(b'{"dataset": "parking", "version": 0, "extra": 1}')
    assert (dataset, version) == ("parking", 0)


@pytest.mark.parametrize(("payload", "field"), [
    (b"", "sync"), (b"[1]", "sync"), (b'{"version": 2}', "sync.dataset"),
    (b'{"dataset": "' + b"d" * 65 + b'", "version": 2}', "sync.dataset"),
    (b'{"dataset": "parking", "version": 2.0}', "sync.version"),
    (b'{"dataset": "parking", "version": NaN}', "sync"),
])
def test_refusals_name_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(ContractError) as err:
        decode_sync(payload)
    assert err.value.field == field


def test_the_console_cannot_encode_a_notice_the_edge_would_refuse() -> None:
    with pytest.raises(ContractError):
        encode_sync(SyncNotice("parking", -1))
