"""One link per wire: the edge's composition root for everything on a Modbus bus.

A site file may hang meters, gate relay boards and elevator boxes (and later access
controllers) on one RS-485 line or one converter TCP port. Each of their drivers would
otherwise build its own connection, and "one request at a time" would hold per driver, not per
wire: on a real line two masters talking at once garble each other, and most converters serve
one TCP client at a time. So the edge builds exactly one ``Wire`` per physical bus (keyed by
``tcp:host:port`` or ``serial:/dev/…``, whatever the bus ids say) and every driver on it gets a
``BusLink`` over that wire: its own counters and log context, the wire's one connection and one
FIFO lock.

``bus_phases`` spreads the buses' start phases across the poll interval, as the bus driver
already spreads meters within a bus: 200 one-meter buses must not all poll at the same instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

from contract import Clock
from drivers.base import DriverStats
from drivers.modbus.link import BusLink, Wire, wire_key
from drivers.modbus.model import Bus

log = structlog.get_logger("edge.wires")


class Wires:
    """The site's wires, built once from its buses; ``link()`` hands a driver its way on."""

    def __init__(self, buses: Iterable[Bus], clock: Clock, *, site: str) -> None:
        self._clock = clock
        self._log = log.bind(site=site)
        self._buses: dict[str, Bus] = {}
        self._wires: dict[str, Wire] = {}
        for bus in buses:
            self._buses[bus.id] = bus
            key = wire_key(bus)
            wire = self._wires.get(key)
            if wire is None:
                self._wires[key] = Wire(bus, clock, DriverStats(), self._log)
            elif wire.bus != bus:
                # The site check refuses two buses on one port; if it ever lets one through,
                # they still share the wire (the first entry's line settings win).
                self._log.warning("two buses name one wire; sharing it", wire=key,
                                  bus=bus.id, first=wire.bus.id)

    def __len__(self) -> int:
        return len(self._wires)

    def bus(self, bus_id: str) -> Bus:
        try:
            return self._buses[bus_id]
        except KeyError:
            raise KeyError(f"no bus {bus_id!r} in the site file") from None

    def wire(self, bus: Bus | str) -> Wire:
        """The one wire ``bus`` (an entry or its id) is on."""
        b = self.bus(bus) if isinstance(bus, str) else bus
        try:
            return self._wires[wire_key(b)]
        except KeyError:
            raise KeyError(f"bus {b.id} ({wire_key(b)}) is not one of the site's wires") \
                from None

    def link(self, bus: Bus | str, stats: DriverStats, log: Any) -> BusLink:
        """A driver's link on the shared wire of ``bus``: counted in ``stats``, logged with
        ``log``'s context. The driver does not own the wire (closing the link leaves it up)."""
        b = self.bus(bus) if isinstance(bus, str) else bus
        return BusLink(b, self._clock, stats, log, wire=self.wire(b))

    def status(self) -> dict[str, dict[str, Any]]:
        """Per wire: which connection, whether it is up, and the whole wire's counters."""
        return {key: {"bus": w.bus.id, "connected": w.connected(), **w.stats.counters}
                for key, w in self._wires.items()}

    async def close(self) -> None:
        """Drop every connection (after every driver has stopped)."""
        for wire in self._wires.values():
            await wire.close()


def bus_phases(bus_ids: Iterable[str]) -> dict[str, float]:
    """Each bus's start phase (a share of its meters' stagger slot, 0 ≤ phase < 1), evenly
    spread in the order given: bus k of n starts k/n of a slot later than bus 0."""
    ids = list(bus_ids)
    return {bid: k / len(ids) for k, bid in enumerate(ids)}
