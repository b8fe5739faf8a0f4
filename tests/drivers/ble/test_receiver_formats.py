"""OpenMQTTGateway (raw and Theengs-decoded) and ESPresense payloads → Advert."""

from __future__ import annotations

import json

import pytest

from drivers.ble.espresense import parse_espresense
from drivers.ble.model import BadAdvert
from drivers.ble.openmqttgateway import parse_omg
from tests.drivers.ble.vectors import (
    INSTANCE,
    NAMESPACE,
    TLM,
    UID,
    UID_TAG,
    VECTOR_6,
    VECTOR_6_TAG,
)

GATEWAYS = {"gw-north": "omg-north"}
ROOMS = {"north_gate": "esp-gate"}
TOPIC = "home/gw-north/BTtoMQTT/AABBCCDDEEFF"


def _json(**doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_omg_raw_ibeacon() -> None:
    a = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-71, manufacturerdata=VECTOR_6),
                  12.5, GATEWAYS)
    assert (a.receiver, a.tag, a.mac, a.rssi, a.tx_power, a.battery_mv, a.at) == \
        ("omg-north", VECTOR_6_TAG, "aa:bb:cc:dd:ee:ff", -71, -59, None, 12.5)


def test_omg_raw_eddystone_uid_and_tlm() -> None:
    uid = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-60, servicedata=UID.hex(),
                                 servicedatauuid="0xfeaa"), 1.0, GATEWAYS)
    assert uid.tag == UID_TAG and uid.tx_power == -18 - 41
    tlm = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-60, servicedata=TLM.hex(),
                                 servicedatauuid="0xfeaa"), 1.0, GATEWAYS)
    assert tlm.tag is None and tlm.battery_mv == 3000 and tlm.mac == "aa:bb:cc:dd:ee:ff"


def test_omg_theengs_fields_negative_major_minor_and_uuid_without_dashes() -> None:
    # TheengsDecoder 2.5: major 0xFFFE and minor 0x8000 arrive as -2 and -32768.
    a = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-66, brand="GENERIC",
                               model="IBEACON", model_id="IBEACON", mfid="4c00",
                               uuid="426C7565436861726D426561636F6E73", major=-2, minor=-32768,
                               power=-59), 1.0, GATEWAYS)
    assert a.tag == "ibeacon:426c7565-4368-6172-6d42-6561636f6e73:65534:32768"
    assert a.tx_power == -59


def test_omg_theengs_txpower_spelling_and_volt() -> None:
    a = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-66, model_id="IBEACON",
                               uuid="426c7565436861726d426561636f6e73", major=3838,
                               minor=4949, txpower=-61, volt=2.9), 1.0, GATEWAYS)
    assert (a.tag, a.tx_power, a.battery_mv) == (VECTOR_6_TAG, -61, 2900)


def test_omg_prefers_raw_bytes_over_theengs_fields() -> None:
    a = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-66, manufacturerdata=VECTOR_6,
                               model_id="IBEACON", uuid="00" * 16, major=1, minor=2,
                               power=-40), 1.0, GATEWAYS)
    assert a.tag == VECTOR_6_TAG and a.tx_power == -59


@pytest.mark.parametrize(("topic_mac", "json_id"), [
    ("AABBCCDDEEFF", "AA:BB:CC:DD:EE:FF"),
    ("AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff"),
    ("AABBCCDDEEFF", "aabbccddeeff"),
    ("AABBCCDDEEFF", "AA-BB-CC-DD-EE-FF"),
    ("AABBCCDDEEFF", None),  # no id: the topic's MAC
    ("aabbccddeeff", None),
])
def test_omg_mac_variants(topic_mac: str, json_id: str | None) -> None:
    doc: dict[str, object] = {"rssi": -70, "manufacturerdata": VECTOR_6}
    if json_id is not None:
        doc["id"] = json_id
    a = parse_omg(f"home/gw-north/BTtoMQTT/{topic_mac}", json.dumps(doc).encode(), 1.0,
                  GATEWAYS)
    assert a.mac == "aa:bb:cc:dd:ee:ff"


def test_omg_non_tag_device_is_an_advert_without_tag() -> None:
    a = parse_omg(TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-80,
                               manufacturerdata="4c001005031c6fa2b1"), 1.0, GATEWAYS)
    assert a.tag is None and a.rssi == -80


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    (TOPIC, b"{not json", "bad_json"),
    (TOPIC, b"[1, 2]", "bad_json"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE:FF", manufacturerdata=VECTOR_6), "bad_rssi"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi="-70", manufacturerdata=VECTOR_6), "bad_rssi"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE", rssi=-70, manufacturerdata=VECTOR_6), "bad_mac"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-70, manufacturerdata=VECTOR_6[:-4]),
     "ibeacon_length"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-70, manufacturerdata="4c000214" + "00" * 21),
     "ibeacon_prefix"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-70, manufacturerdata="4c0002zz"), "bad_hex"),
    (TOPIC, _json(id="AA:BB:CC:DD:EE:FF", rssi=-70, model_id="IBEACON", uuid="abc",
                  major=1, minor=2), "bad_id"),
    ("home/gw-south/BTtoMQTT/AABBCCDDEEFF", _json(rssi=-70), "unknown_receiver"),
    ("home/gw-north/BTtoMQTT", _json(rssi=-70), "bad_topic"),
])
def test_omg_malformed(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(BadAdvert) as err:
        parse_omg(topic, payload, 1.0, GATEWAYS)
    assert err.value.reason == reason


ESP_IBEACON_ID = "iBeacon:426c7565-4368-6172-6d42-6561636f6e73-3838-4949"


def test_espresense_ibeacon() -> None:
    a = parse_espresense(f"espresense/devices/{ESP_IBEACON_ID}/north_gate",
                         _json(id=ESP_IBEACON_ID, rssi=-74, **{"rssi@1m": -59}, distance=2.31,
                               mac="aabbccddeeff", interval=1021), 3.0, ROOMS)
    assert (a.receiver, a.tag, a.mac, a.rssi, a.tx_power, a.battery_mv, a.at) == \
        ("esp-gate", VECTOR_6_TAG, "aa:bb:cc:dd:ee:ff", -74, -59, None, 3.0)


def test_espresense_eddystone_id_with_the_firmwares_repeated_byte() -> None:
    # The firmware prints namespace bytes 0-4, byte 4 again, then 5-9: 22 hex digits.
    ns = NAMESPACE.hex()
    quirky = f"eddy:{ns[:10]}{ns[8:10]}{ns[10:]}-{INSTANCE.hex()}"
    plain = f"eddy:{ns}-{INSTANCE.hex()}"
    for ident in (quirky, plain):
        a = parse_espresense(f"espresense/devices/{ident}/north_gate",
                             _json(id=ident, rssi=-70, **{"rssi@1m": -59}, mac="AA:BB:CC:DD:EE:FF",
                                   mV=2950), 1.0, ROOMS)
        assert a.tag == UID_TAG and a.battery_mv == 2950


def test_espresense_other_ids_are_no_tag() -> None:
    a = parse_espresense("espresense/devices/apple:1005:9-26/north_gate",
                         _json(id="apple:1005:9-26", rssi=-70, mac="aabbccddeeff"), 1.0, ROOMS)
    assert a.tag is None and a.tx_power is None


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("espresense/devices/x/north_gate", b"\xff\xfe", "bad_json"),
    ("espresense/devices/x/north_gate", _json(id="x", rssi=-70), "bad_mac"),
    ("espresense/devices/x/north_gate", _json(id="iBeacon:zz-1-2", rssi=-70, mac="aabbccddeeff"),
     "bad_id"),
    ("espresense/devices/x/north_gate", _json(id="x", rssi=None, mac="aabbccddeeff"), "bad_rssi"),
    ("espresense/devices/x/south", _json(id="x", rssi=-70, mac="aabbccddeeff"),
     "unknown_receiver"),
    ("espresense/rooms/north_gate", _json(id="x", rssi=-70, mac="aabbccddeeff"), "bad_topic"),
])
def test_espresense_malformed(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(BadAdvert) as err:
        parse_espresense(topic, payload, 1.0, ROOMS)
    assert err.value.reason == reason
