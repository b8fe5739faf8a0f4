"""The advert bytes the simulated tags send, pinned to the public vectors and the spec
layouts (the edge's decoder tests pin to the same ones, so neither can drift alone)."""

from __future__ import annotations

import json

import pytest

from simulators.patrol.frames import EddystoneTag, IBeaconTag, parse_tag, tag_mac, tlm_frame
from simulators.patrol.wire import (
    espresense_payload,
    espresense_topic,
    omg_payload,
    omg_topic,
)
from tests.simulators.patrol.conftest import VECTOR6_UUID


def test_ibeacon_manufacturer_data_is_protocols_vector_6() -> None:
    tag = IBeaconTag(VECTOR6_UUID, 3838, 4949, -59)
    assert tag.manufacturer_data().hex() == "4c000215426c7565436861726d426561636f6e730efe1355c5"


def test_eddystone_uid_frame_has_the_spec_layout() -> None:
    tag = EddystoneTag("8B0CA750E7A74E14BD99", "000000000707", tx_power_0m=-18)
    # 00 = UID, ee = −18 dBm at 0 m, 10 B namespace, 6 B instance, 2 reserved zero bytes
    assert tag.uid_frame().hex() == "00ee" "8b0ca750e7a74e14bd99" "000000000707" "0000"
    assert tag.rssi_at_1m == -59  # 0 m power − 41 dB


def test_eddystone_tlm_frame_has_the_spec_layout() -> None:
    # 20 = TLM, 00 = version, 0992 = 2450 mV, 1580 = 21.5 °C in 8.8, 000004d2 = 1234 adverts,
    # 00008ca0 = 36000 tenths of a second (one hour)
    assert tlm_frame(2450, 21.5, 1234, 3600.0).hex() == "2000" "0992" "1580" "000004d2" "00008ca0"
    assert tlm_frame(3000, -3.25, 0, 0).hex()[8:12] == "fcc0"  # negative 8.8: −832


def test_theengs_gateway_gives_major_and_minor_as_signed_16_bit() -> None:
    tag = IBeaconTag(VECTOR6_UUID, 40000, 65535, -59)
    msg = omg_payload(tag, "c1:02:03:04:05:06", -70, theengs=True)
    assert (msg["major"], msg["minor"]) == (-25536, -1)  # what TheengsDecoder 2.5 reports
    assert msg["uuid"] == "426c7565436861726d426561636f6e73"  # no dashes
    assert msg["model_id"] == "IBEACON" and msg["txpower"] == -59
    assert msg["manufacturerdata"] == tag.manufacturer_data().hex()
    assert msg["id"] == "C1:02:03:04:05:06"
    plain = omg_payload(tag, "c1:02:03:04:05:06", -70)
    assert "major" not in plain and plain["manufacturerdata"].startswith("4c000215")


def test_receiver_topics_and_espresense_ids() -> None:
    tag = IBeaconTag(VECTOR6_UUID, 3838, 4949)
    assert omg_topic("omg_north", "c1:02:03:0a:0b:0c") == "home/omg_north/BTtoMQTT/C102030A0B0C"
    assert espresense_topic(tag, "b1_lobby") == (
        f"espresense/devices/iBeacon:{VECTOR6_UUID}-3838-4949/b1_lobby")
    msg = espresense_payload(tag, "C1:02:03:0A:0B:0C", -59, 1.0)
    assert msg["mac"] == "c102030a0b0c" and msg["rssi@1m"] == -59 and msg["interval"] == 1000
    assert msg["distance"] == pytest.approx(1.0)
    eddy = EddystoneTag("8b0ca750e7a74e14bd99", "000000000707")
    assert espresense_topic(eddy, "r").startswith("espresense/devices/eddy:8b0ca750e7a74e14bd99-"
                                                  "000000000707/")
    assert json.loads(json.dumps(omg_payload(eddy, "c1:00:00:00:00:01", -80)))[
        "servicedatauuid"] == "0xfeaa"


def test_tags_typed_by_people_and_their_radio_addresses() -> None:
    tag = parse_tag(f"{VECTOR6_UUID.upper()}:3838:4949")
    assert isinstance(tag, IBeaconTag) and tag.label == f"{VECTOR6_UUID}:3838:4949"
    assert isinstance(parse_tag("eddystone:8b0ca750e7a74e14bd99:000000000707"), EddystoneTag)
    for bad in ("nonsense", f"{VECTOR6_UUID}:70000:1", "abc:def"):
        with pytest.raises(ValueError, match="not a tag"):
            parse_tag(bad)
    mac = tag_mac(tag)
    assert mac == tag_mac(tag) != tag_mac(tag, "clone")
    assert int(mac[:2], 16) & 0xC0 == 0xC0  # a static random address
