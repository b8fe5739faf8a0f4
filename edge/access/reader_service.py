"""The site's OSDP readers as one part of the edge process.

Builds one ``OsdpBus`` per RS-485 line (readers sharing a line share its control panel), the
local decision (``PersistentDecider``: anti-passback survives a restart) and ``ReaderDoors``
that answers and records each read. Keys come from the readers' key files (``keys``); a
reader without one is enrolled. Credentials arrive through ``set_credentials`` (the access
dataset sync calls it with each version it loads); until the first one every card is
refused as unknown. ``egress`` is what fire linkage and the console's door commands act on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog

from contract import Clock
from drivers.access.osdp import OsdpBus
from drivers.access.osdp_model import ReaderSpec
from drivers.base import DriverStats, Emit
from edge.access import keys
from edge.access.credentials import CredentialStore
from edge.access.egress import ReaderDoor, ReaderEgress
from edge.access.passback import PASSBACK_FILE, PassbackStore, PersistentDecider
from edge.access.reader_config import ReaderEntry, ReadersConfig
from edge.access.readers import ReaderDoors
from edge.access.visitor_passes import PASSES_FILE, PassGate, PassUses

log = structlog.get_logger(__name__)


class HasCredentials(Protocol):
    """A loaded dataset version (``edge.access.dataset_store.Loaded``)."""

    @property
    def credentials(self) -> CredentialStore: ...


class ReaderService:
    """Readers, decision and doors; ``jobs()`` are run by the edge's supervisor."""

    def __init__(self, config: ReadersConfig, decider: PersistentDecider,
                 passback: PassbackStore, emit: Emit, clock: Clock,
                 bus_options: dict[str, Any] | None = None,
                 pass_uses: PassUses | None = None) -> None:
        self.config = config
        self.decider = decider
        self._passback = passback
        self._pass_uses = pass_uses
        self.stats = DriverStats()
        self.doors = ReaderDoors(decider, emit, clock, self.stats)
        self._keys = {r.id: keys.load_or_create(r.key_file) for r in config.readers}
        self.buses: dict[str, OsdpBus] = {}
        by_reader: dict[str, OsdpBus] = {}
        for line, entries in config.lines().items():
            bus = OsdpBus(line, [self._spec(r) for r in entries], emit, clock,
                          self.doors.on_input, on_enrolled=self._enrolled, stats=self.stats,
                          **(bus_options or {}))
            self.doors.attach(bus, [r.id for r in entries])
            self.buses[line] = bus
            by_reader.update(dict.fromkeys((r.id for r in entries), bus))
        self.egress = ReaderEgress(config, by_reader)
        self.command_doors = {d.id: ReaderDoor(self.egress, d.id, emit, clock)
                              for d in config.doors()}

    @classmethod
    async def open(cls, config: ReadersConfig, data_dir: Path, emit: Emit, clock: Clock,
                   timezone: str, *, site: str = "", site_secret: str | None = None,
                   **bus_options: Any) -> ReaderService:
        """``site`` / ``site_secret``: the slug and secret visitor passes are checked with
        (without a secret every scanned pass is refused, ``pass_no_secret``)."""
        passback, where = await PassbackStore.open(Path(data_dir) / PASSBACK_FILE)
        uses = await PassUses.open(Path(data_dir) / PASSES_FILE)
        if not site_secret:
            log.warning("站点没有 cloud.password：扫码通行证将全部被拒绝 / the site has no "
                        "cloud.password: every scanned visitor pass is refused")
        decider = PersistentDecider(CredentialStore.from_dataset({"version": 0}),
                                    [r.point() for r in config.readers], timezone, passback,
                                    where, PassGate(site, site_secret, uses))
        return cls(config, decider, passback, emit, clock, bus_options, uses)

    def _spec(self, r: ReaderEntry) -> ReaderSpec:
        key = self._keys[r.id]
        if r.install and key.enrolled:
            log.warning("读卡器设置了 install：将重新写入密钥，写入后请从站点文件删除 install / "
                        "reader set to install: it is enrolled again; remove install from the "
                        "site file once it is", reader=r.id)
        return ReaderSpec(r.id, r.address, key.key, install=r.install or not key.enrolled,
                          output_no=r.output, relay_pulse_s=float(r.relay_pulse_s),
                          building=r.building)

    def _enrolled(self, reader: str) -> None:
        key = self._keys[reader]
        keys.confirm(key.path)
        self._keys[reader] = keys.ReaderKey(key.key, True, key.path)

    def set_credentials(self, store: CredentialStore) -> None:
        """Decide from ``store`` from the next read on (the dataset sync's seam)."""
        self.decider.swap(store)
        log.info("读卡器使用新的门禁数据 / readers use a new access dataset",
                 version=store.version)

    async def use_dataset(self, loaded: HasCredentials) -> None:
        """The access sync's consumer (``edge.access.sync.Consumer``): a loaded version."""
        self.set_credentials(loaded.credentials)

    def jobs(self) -> dict[str, Callable[[], Any]]:
        """One supervised job per line: a line whose device fails is restarted alone."""
        return {f"osdp:{line}": bus.run for line, bus in self.buses.items()}

    def status(self) -> dict[str, Any]:
        return {"dataset_version": self.decider.store.version,
                "readers": {r.id: {"online": self.buses[r.line].is_online(r.id),
                                   "secure": self.buses[r.line].is_secure(r.id),
                                   "enrolled": self._keys[r.id].enrolled, "door": r.door}
                            for r in self.config.readers},
                "counters": dict(self.stats.counters),
                "relay_p99_ms": None if (p99 := self.stats.p99()) is None else round(p99 * 1000, 1)}

    async def aclose(self) -> None:
        await self._passback.aclose()
        if self._pass_uses is not None:
            await self._pass_uses.aclose()
