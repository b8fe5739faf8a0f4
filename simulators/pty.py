"""A virtual RS-485 line: two linked ptys from socat, one for the edge, one for the simulator.

A pty ignores baud rate and parity, so RTU framing is exercised byte for byte without hardware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)


class PtyError(RuntimeError):
    """socat is missing or did not create the links."""


@contextlib.asynccontextmanager
async def pty_pair(link_a: str | Path, link_b: str | Path, *,
                   ready_within: float = 5.0) -> AsyncIterator[tuple[Path, Path]]:
    """Run socat linking ``link_a`` ↔ ``link_b`` and yield both paths once they exist."""
    socat = shutil.which("socat")
    if socat is None:
        raise PtyError("未找到 socat，请先安装（apt-get install -y socat）/ socat not found: "
                       "install it with apt-get install -y socat")
    a, b = Path(link_a), Path(link_b)
    _prepare(a, b)
    proc = await asyncio.create_subprocess_exec(
        socat, "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    stderr_task = asyncio.create_task(_drain(proc.stderr, f"socat {a}"))
    try:
        try:
            async with asyncio.timeout(ready_within):
                while not _linked(a, b):
                    if proc.returncode is not None:
                        raise PtyError(f"socat exited with {proc.returncode} before linking {a}")
                    await asyncio.sleep(0.02)
        except TimeoutError as exc:
            raise PtyError(f"socat did not create {a} and {b} within {ready_within}s") from exc
        log.info("pty pair ready: %s <-> %s (socat pid %d)", a, b, proc.pid)
        yield a, b
    finally:
        await _stop(proc)
        stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stderr_task
        _prepare(a, b)


def _prepare(a: Path, b: Path) -> None:
    """Make the folders and remove links a killed simulator left behind (tmpfs: instant)."""
    for link in (a, b):
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            with contextlib.suppress(OSError):
                link.unlink()


def _linked(a: Path, b: Path) -> bool:
    """Both links exist and point at live ptys (a stat of a local symlink: no real I/O)."""
    return a.exists() and b.exists()


async def _drain(stream: asyncio.StreamReader | None, name: str) -> None:
    """Keep socat's diagnostics flowing (a full pipe would block it) and log them."""
    if stream is None:
        return
    while line := await stream.readline():
        log.debug("%s: %s", name, line.decode(errors="replace").rstrip())


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 3.0)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
