"""Raw advert bytes → tag key and telemetry (PROTOCOLS.md §6)."""

from __future__ import annotations

import pytest

from drivers.ble.adverts import (
    EDDYSTONE_UUID,
    decode,
    manufacturer_from_hex,
    normalise_mac,
)
from drivers.ble.model import BadAdvert
from tests.drivers.ble.vectors import TLM, UID, UID_TAG, VECTOR_6, VECTOR_6_TAG


def test_vector_6_from_hex_and_bleak_shape_give_the_same_tag() -> None:
    from_hex = decode(manufacturer_from_hex(VECTOR_6), {})
    assert from_hex.tag == VECTOR_6_TAG
    assert from_hex.tx_power == -59
    # bleak: company id as the key, the bytes after it as the value
    raw = bytes.fromhex(VECTOR_6)[2:]
    assert decode({0x004C: raw}, {}) == from_hex


def test_vector_6_uppercase_hex() -> None:
    assert decode(manufacturer_from_hex(VECTOR_6.upper()), {}).tag == VECTOR_6_TAG


def test_major_minor_above_32767_are_unsigned() -> None:
    raw = bytearray(bytes.fromhex(VECTOR_6)[2:])
    raw[18:20] = (0xFFFE).to_bytes(2, "big")
    raw[20:22] = (0x8000).to_bytes(2, "big")
    assert decode({0x004C: bytes(raw)}, {}).tag == \
        "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:65534:32768"


def test_eddystone_uid_tag_and_power_at_1m() -> None:
    d = decode({}, {EDDYSTONE_UUID: UID})
    assert d.tag == UID_TAG
    assert d.tx_power == -18 - 41
    assert d.battery_mv is None


def test_eddystone_uid_without_the_reserved_bytes() -> None:
    assert decode({}, {EDDYSTONE_UUID: UID[:18]}).tag == UID_TAG


def test_eddystone_tlm_battery_and_telemetry() -> None:
    d = decode({}, {EDDYSTONE_UUID: TLM})
    assert d.tag is None
    assert d.battery_mv == 3000
    assert d.temperature_c == -1.5
    assert d.adv_count == 66051
    assert d.uptime_s == 300.0


def test_tlm_temperature_not_supported_and_no_battery() -> None:
    tlm = bytes.fromhex("2000" "0000" "8000" "00000001" "00000001")
    d = decode({}, {EDDYSTONE_UUID: tlm})
    assert d.battery_mv is None and d.temperature_c is None


def test_url_frame_and_other_apple_adverts_are_no_tag_not_errors() -> None:
    url = bytes.fromhex("10ee03676f6f676c6507")  # https://google.com
    assert decode({}, {EDDYSTONE_UUID: url}).tag is None
    airpods = bytes.fromhex("0719010e2022f58f")  # Apple type 0x07, not an iBeacon
    assert decode({0x004C: airpods}, {}).tag is None
    assert decode({0x0059: bytes(20)}, {}).tag is None  # another company


def test_service_data_key_spellings() -> None:
    assert decode({}, {"0xFEAA": UID}).tag == UID_TAG
    assert decode({}, {EDDYSTONE_UUID.upper(): UID}).tag == UID_TAG


@pytest.mark.parametrize(("mfr", "sd", "reason"), [
    ({0x004C: bytes.fromhex(VECTOR_6)[2:-1]}, {}, "ibeacon_length"),  # truncated
    ({0x004C: bytes.fromhex(VECTOR_6)[2:] + b"\x00"}, {}, "ibeacon_length"),
    ({0x004C: bytes.fromhex("0214") + bytes(21)}, {}, "ibeacon_prefix"),  # wrong prefix
    ({}, {EDDYSTONE_UUID: UID[:17]}, "eddystone_length"),
    ({}, {EDDYSTONE_UUID: TLM[:13]}, "eddystone_length"),
    ({}, {EDDYSTONE_UUID: b""}, "eddystone_length"),
    ({}, {EDDYSTONE_UUID: bytes([0x20, 0x07]) + bytes(12)}, "tlm_version"),
    ({}, {EDDYSTONE_UUID: bytes([0x50]) + bytes(17)}, "eddystone_frame"),
])
def test_malformed_bytes_raise_bad_advert_with_a_reason(
        mfr: dict[int, bytes], sd: dict[str, bytes], reason: str) -> None:
    with pytest.raises(BadAdvert) as err:
        decode(mfr, sd)
    assert err.value.reason == reason


@pytest.mark.parametrize("text", ["4c0002zz", "4", ""])
def test_bad_hex(text: str) -> None:
    with pytest.raises(BadAdvert) as err:
        manufacturer_from_hex(text)
    assert err.value.reason == "bad_hex"


@pytest.mark.parametrize("text", ["AA:BB:CC:DD:EE:FF", "aabbccddeeff", "AA-BB-CC-DD-EE-FF",
                                  "AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff"])
def test_mac_variants(text: str) -> None:
    assert normalise_mac(text) == "aa:bb:cc:dd:ee:ff"


@pytest.mark.parametrize("text", ["AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:GG", "aabbccddeeff00"])
def test_bad_mac(text: str) -> None:
    with pytest.raises(BadAdvert) as err:
        normalise_mac(text)
    assert err.value.reason == "bad_mac"
