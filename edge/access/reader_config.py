"""The site's OSDP readers as the edge runs them (``access.readers`` in the site file).

One entry per reader: the RS-485 line it hangs on (a serial device; readers naming the same
line share one control panel), its OSDP address, the file holding its SCBK, the door its
output releases and, optionally, the anti-passback area it guards. ``egress: true`` doors are
held open by fire linkage. Built by ``edge.config.reader_schema`` once the file checked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.access.decide import AccessPoint, ApbMode


@dataclass(frozen=True, slots=True)
class ReaderEntry:
    id: str
    line: str
    address: int
    door: str
    #: Where the reader's SCBK lives (created at enrolment, mode 0600).
    key_file: Path
    building: str | None = None
    area: str | None = None
    direction: Literal["in", "out"] | None = None
    anti_passback: ApbMode = "hard"
    egress: bool = False
    #: Enrol again (a replaced reader that holds only the default key).
    install: bool = False
    output: int = 0
    relay_pulse_s: float = 3.0
    name: str = ""

    def point(self) -> AccessPoint:
        return AccessPoint(self.id, self.door, area=self.area, direction=self.direction,
                           anti_passback=self.anti_passback, relay_pulse_s=self.relay_pulse_s,
                           building=self.building)


@dataclass(frozen=True, slots=True)
class ReaderDoor:
    """A door some reader releases; what fire linkage's ``EgressDoors`` reads."""

    id: str
    building: str | None
    egress: bool


@dataclass(frozen=True, slots=True)
class ReadersConfig:
    readers: tuple[ReaderEntry, ...]

    def lines(self) -> dict[str, list[ReaderEntry]]:
        """Readers by the line they share, in file order."""
        out: dict[str, list[ReaderEntry]] = {}
        for r in self.readers:
            out.setdefault(r.line, []).append(r)
        return out

    def doors(self) -> list[ReaderDoor]:
        """Each door once; egress if any of its readers says so."""
        out: dict[str, ReaderDoor] = {}
        for r in self.readers:
            d = out.get(r.door)
            out[r.door] = ReaderDoor(r.door, r.building if d is None else d.building or
                                     r.building, r.egress or (d is not None and d.egress))
        return list(out.values())
