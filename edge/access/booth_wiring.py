"""What the booth's ``POST /access/pass`` (``edge.access.booth_pass``) works with at this site.

The pass check is the readers' own ``PassGate`` when the site has OSDP readers (one use count
in memory and in ``passes.db`` for both, so a pass used at a reader and at the booth shares its
uses); a site with door controllers only opens ``passes.db`` here. The credentials in force are
the readers' (swapped by the access sync), else the access sync's current version (its revoked
list and numeric codes); before any version every code is unknown and every token is checked
against an empty revoked list. None when the site has neither controllers nor readers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from contract import Clock
from drivers.access.uhppote import UhppoteDriver
from drivers.base import Emit
from edge.access.booth_pass import BoothPasses, booth_doors, pass_routes
from edge.access.credentials import CredentialStore
from edge.access.reader_service import ReaderService
from edge.access.sync import AccessSync
from edge.access.visitor_passes import PASSES_FILE, PassGate, PassUses

_EMPTY = CredentialStore.from_dataset({"version": 0})


@dataclass
class Booth:
    passes: BoothPasses
    #: ``passes.db`` when this part opened it (no readers at the site), closed by ``aclose``.
    own_uses: PassUses | None = None

    def routes(self) -> list[web.RouteDef]:
        return pass_routes(self.passes)

    async def aclose(self) -> None:
        if self.own_uses is not None:
            await self.own_uses.aclose()


async def open_booth(site: str, secret: str | None, data_dir: Path,
                     readers: ReaderService | None, controllers: UhppoteDriver | None,
                     sync: AccessSync | None, emit: Emit, clock: Clock) -> Booth | None:
    def pulse_of(reader: str) -> float | None:
        point = readers.decider.point(reader) if readers is not None else None
        return point.relay_pulse_s if point is not None else None

    doors = booth_doors(controllers, readers.egress if readers is not None else None, pulse_of)
    if not doors:
        return None
    store: Callable[[], CredentialStore]
    own: PassUses | None = None
    gate = readers.decider.passes if readers is not None else None
    if readers is not None:
        decider = readers.decider
        store = lambda: decider.store  # noqa: E731
    else:
        def store() -> CredentialStore:
            current = sync.current if sync is not None else None
            return current.credentials if current is not None else _EMPTY
    if gate is None:
        own = await PassUses.open(Path(data_dir) / PASSES_FILE)
        gate = PassGate(site, secret, own)
    return Booth(BoothPasses(gate, store, doors, emit, clock), own)
