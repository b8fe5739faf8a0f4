"""The OSDP readers a site file lists (``access.readers``), simulated for ``courtyard sim site``.

Each reader line gets a pty pair: the edge opens the path the site file names, the simulated
reader (libosdp's PeripheralDevice, ``osdp_sim``) the other end. A reader comes out of the
box keyless (install mode) and is enrolled by the edge; the key it then holds is kept, as a
real reader keeps it in flash, in ``key_dir`` (mode 0600) so a restarted simulator still
answers an edge that enforces that key. With no ``key_dir`` the keys live as long as the
simulator. One reader per line is simulated (one PD per pty end); the others are named as
not simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from simulators.access.osdp_sim import OsdpReaderSim
from simulators.pty import pty_pair


@dataclass(frozen=True, slots=True)
class SimReader:
    id: str
    line: str
    address: int
    door: str = ""


def readers_of(data: dict[str, Any]) -> list[SimReader]:
    """``access.readers`` of a parsed site file (the edge checks it; here, what is usable)."""
    access = data.get("access") or {}
    out = []
    for r in access.get("readers") or []:
        if isinstance(r, dict) and r.get("id") and r.get("line") and r.get("address") is not None:
            out.append(SimReader(str(r["id"]), str(r["line"]), int(r["address"]),
                                 str(r.get("door", ""))))
    return out


class SiteReaders:
    """Async context manager running the simulated readers; ``readers`` by reader id."""

    def __init__(self, readers: list[SimReader], workdir: Path,
                 key_dir: Path | None = None) -> None:
        self._specs = readers
        self._workdir = workdir
        self._key_dir = key_dir or workdir / "osdp-keys"
        self.readers: dict[str, OsdpReaderSim] = {}
        self.skipped: list[SimReader] = []
        self._stack = contextlib.AsyncExitStack()
        self._saver: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SiteReaders:
        try:
            lines: dict[str, SimReader] = {}
            for r in self._specs:
                if r.line in lines:
                    self.skipped.append(r)
                    continue
                lines[r.line] = r
                sim_end = self._workdir / f"osdp-{len(lines)}-sim"
                await self._stack.enter_async_context(pty_pair(r.line, sim_end))
                key = self._load_key(r.id)
                sim = OsdpReaderSim(sim_end, address=r.address, scbk=key,
                                    install=key is None, name=r.id)
                await sim.start()
                self._stack.push_async_callback(sim.stop)
                self.readers[r.id] = sim
            self._saver = asyncio.create_task(self._keep_keys(), name="sim-osdp-keys")
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        self._save_keys()
        await self._stack.aclose()

    def _key_file(self, reader: str) -> Path:
        return self._key_dir / f"{reader}.scbk"

    def _load_key(self, reader: str) -> bytes | None:
        path = self._key_file(reader)
        if not path.exists():
            return None
        try:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except ValueError:
            return None
        return key if len(key) == 16 else None

    async def _keep_keys(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._save_keys()

    def _save_keys(self) -> None:
        """Write a key a reader took since the last look (never printed)."""
        for rid, sim in self.readers.items():
            key = sim.scbk
            if key is None or self._load_key(rid) == key:
                continue
            self._key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self._key_file(rid).with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(key.hex() + "\n")
            os.replace(tmp, self._key_file(rid))

    def summary(self) -> list[str]:
        lines = [f"读卡器 {rid}：OSDP 地址 {sim.address}，线路 {spec.line}"
                 f"{'（待写入密钥）' if sim.scbk is None else ''} / reader {rid}: OSDP address "
                 f"{sim.address} on {spec.line}"
                 f"{' (waiting to be enrolled)' if sim.scbk is None else ''}"
                 for spec in self._specs if (rid := spec.id) in self.readers
                 for sim in (self.readers[rid],)]
        lines += [f"读卡器 {r.id}：与 {r.line} 上的其他读卡器同线，未模拟 / reader {r.id}: "
                  f"shares {r.line} with another reader, not simulated" for r in self.skipped]
        return lines
