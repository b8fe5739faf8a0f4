"""The edge box's own Bluetooth adapter as a patrol receiver, through bleak (BlueZ over D-Bus).

Kept thin on purpose: ``run()`` only starts ``BleakScanner`` with ``on_detection`` as its
detection callback; ``on_detection`` turns bleak's ``AdvertisementData`` into an ``Advert``
with the same decoder the MQTT receivers use, and is the seam the tests feed.

How it was tried here: the development and CI machines have no Bluetooth radio and no D-Bus
system bus. ``on_detection`` is tested with ``AdvertisementData`` / ``BLEDevice`` built directly
(bleak 3.1) from raw advert bytes, which is exactly what bleak's BlueZ backend hands the
callback; ``run()`` is tested to fail with a clear zh/en error: on these machines bleak 3.1
raises ``FileNotFoundError`` (no ``/run/dbus/system_bus_socket``) from ``start()``. On a box
with BlueZ the scan runs (bleak's default active mode) on the adapter named in the site file
(``source``, e.g. ``hci0``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from contract import Clock
from drivers.ble.adverts import decode, normalise_mac
from drivers.ble.model import Advert, BadAdvert

Sink = Callable[[Advert], None]
LOG_EVERY_S = 10.0
START_TIMEOUT_S = 15.0

UNAVAILABLE_ZH = "本机蓝牙适配器无法扫描（没有蓝牙硬件、BlueZ 或 D-Bus 系统总线）"
UNAVAILABLE_EN = ("the box's Bluetooth adapter cannot scan (no Bluetooth hardware, BlueZ or "
                  "D-Bus system bus)")


class AdapterScanner:
    """One local adapter (``hci0``) → ``sink(advert)`` with ``receiver_id`` as the receiver."""

    def __init__(self, receiver_id: str, sink: Sink, clock: Clock, *, adapter: str = "hci0",
                 site: str = "") -> None:
        self.receiver_id = receiver_id
        self.adapter = adapter
        self._sink = sink
        self._clock = clock
        self._log = structlog.get_logger("drivers.ble.adapter").bind(
            site=site, receiver=receiver_id, adapter=adapter)
        self.received = 0
        self.malformed = 0
        self.last_malformed: str | None = None
        self.last_error: str | None = None
        self._logged_at: float | None = None

    def on_detection(self, device: BLEDevice, adv: AdvertisementData) -> None:
        """bleak's detection callback: the advert goes to the sink; a malformed one is counted
        and logged (at most once per 10 s), never raised into bleak."""
        at = self._clock.monotonic()
        try:
            decoded = decode(adv.manufacturer_data, adv.service_data)
            mac = normalise_mac(device.address)
        except BadAdvert as exc:
            self.malformed += 1
            self.last_malformed = exc.reason
            if self._logged_at is None or at - self._logged_at >= LOG_EVERY_S:
                self._logged_at = at
                self._log.warning("malformed advert", reason=exc.reason, detail=exc.detail[:200],
                                  mac=device.address, malformed=self.malformed)
            return
        advert = Advert(receiver=self.receiver_id, tag=decoded.tag, mac=mac, rssi=adv.rssi,
                        tx_power=decoded.tx_power, battery_mv=decoded.battery_mv, at=at)
        self.received += 1
        self._sink(advert)

    async def run(self) -> None:
        """Scan until cancelled. Without a usable adapter: log why (zh/en) and re-raise, so
        the edge's supervisor backs off and retries."""
        try:
            scanner = BleakScanner(detection_callback=self.on_detection,
                                   bluez={"adapter": self.adapter})
            async with asyncio.timeout(START_TIMEOUT_S):
                await scanner.start()
        except (OSError, BleakError, TimeoutError) as exc:
            self.last_error = f"{UNAVAILABLE_ZH} / {UNAVAILABLE_EN}: {exc!r}"
            self._log.error(f"{UNAVAILABLE_ZH} / {UNAVAILABLE_EN}", error=repr(exc))
            raise
        self._log.info("scanning with the box's Bluetooth adapter")
        try:
            await asyncio.Event().wait()
        finally:
            await _stop(scanner)

    def status(self) -> dict[str, Any]:
        return {"received": self.received, "malformed": self.malformed,
                "last_malformed": self.last_malformed, "last_error": self.last_error}


async def _stop(scanner: BleakScanner) -> None:
    try:
        async with asyncio.timeout(5.0):
            await scanner.stop()
    except (OSError, BleakError, TimeoutError):
        pass  # the adapter went away with the scan: nothing left to stop
