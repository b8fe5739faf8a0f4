"""The box's own adapter: bleak's detection callback fed AdvertisementData and BLEDevice built
from raw advert bytes (bleak 3.1 signatures), and run() on a machine without BlueZ / D-Bus."""

from __future__ import annotations

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from structlog.testing import capture_logs

from contract.clock import FakeClock
from drivers.ble.adapter import UNAVAILABLE_EN, UNAVAILABLE_ZH, AdapterScanner
from drivers.ble.adverts import EDDYSTONE_UUID
from drivers.ble.model import Advert
from tests.drivers.ble.vectors import TLM, UID, UID_TAG, VECTOR_6, VECTOR_6_TAG


def _adv(rssi: int, mfr: dict[int, bytes] | None = None,
         sd: dict[str, bytes] | None = None) -> AdvertisementData:
    return AdvertisementData(local_name=None, manufacturer_data=mfr or {},
                             service_data=sd or {}, service_uuids=list(sd or {}),
                             tx_power=None, rssi=rssi, platform_data=())


def _device(address: str) -> BLEDevice:
    return BLEDevice(address, None, None)


def test_on_detection_ibeacon_and_eddystone() -> None:
    clock = FakeClock()
    got: list[Advert] = []
    scanner = AdapterScanner("box", got.append, clock)
    scanner.on_detection(_device("AA:BB:CC:DD:EE:FF"),
                         _adv(-67, mfr={0x004C: bytes.fromhex(VECTOR_6)[2:]}))
    clock.advance(1.5)
    scanner.on_detection(_device("11:22:33:44:55:66"), _adv(-80, sd={EDDYSTONE_UUID: UID}))
    scanner.on_detection(_device("11:22:33:44:55:66"), _adv(-81, sd={EDDYSTONE_UUID: TLM}))
    assert got == [
        Advert("box", VECTOR_6_TAG, "aa:bb:cc:dd:ee:ff", -67, -59, None, 1000.0),
        Advert("box", UID_TAG, "11:22:33:44:55:66", -80, -59, None, 1001.5),
        Advert("box", None, "11:22:33:44:55:66", -81, None, 3000, 1001.5),
    ]
    assert scanner.status()["received"] == 3


def test_malformed_advert_is_counted_and_logged_not_raised_into_bleak() -> None:
    got: list[Advert] = []
    scanner = AdapterScanner("box", got.append, FakeClock())
    with capture_logs() as logs:
        scanner.on_detection(_device("AA:BB:CC:DD:EE:FF"),
                             _adv(-67, mfr={0x004C: bytes.fromhex(VECTOR_6)[2:-3]}))
        scanner.on_detection(_device("AA:BB:CC:DD:EE:FF"),
                             _adv(-67, sd={EDDYSTONE_UUID: UID[:10]}))
    assert got == []
    assert scanner.malformed == 2 and scanner.last_malformed == "eddystone_length"
    assert [e["reason"] for e in logs if e["event"] == "malformed advert"] == ["ibeacon_length"]


async def test_run_without_bluez_fails_with_a_clear_error() -> None:
    scanner = AdapterScanner("box", lambda a: None, FakeClock(), site="demo")
    with capture_logs() as logs, pytest.raises((OSError, BleakError)):
        await scanner.run()
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1
    assert UNAVAILABLE_ZH in errors[0]["event"] and UNAVAILABLE_EN in errors[0]["event"]
    assert scanner.status()["last_error"].startswith(UNAVAILABLE_ZH)
