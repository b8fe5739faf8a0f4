"""Client-side helpers: raw byte exchange on a pty and float decoding, independent of the sim."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence

import serial


def f32(regs: Sequence[int], little: bool = False) -> float:
    """Decode two registers as IEEE 754 float32 (ABCD, or DCBA when ``little``)."""
    wire = b"".join(int(w).to_bytes(2, "big") for w in regs)
    return float(struct.unpack("<f" if little else ">f", wire)[0])


def _exchange(port: str, request: bytes, want: int, quiet_s: float) -> bytes:
    with serial.Serial(port, baudrate=9600, timeout=quiet_s) as s:
        s.reset_input_buffer()
        s.write(request)
        s.flush()
        return bytes(s.read(want))


async def exchange(port: str, request: bytes, want: int = 256, quiet_s: float = 1.0) -> bytes:
    """Send ``request``; return what arrives until ``want`` bytes or ``quiet_s`` of silence.

    pyserial blocks, so it runs in a worker thread while the simulator keeps the event loop.
    """
    return await asyncio.to_thread(_exchange, port, request, want, quiet_s)


def _two_requests(port: str, first: bytes, second: bytes, gap_s: float, listen_s: float
                  ) -> bytes:
    with serial.Serial(port, baudrate=9600, timeout=listen_s) as s:
        s.reset_input_buffer()
        s.write(first)
        s.flush()
        time.sleep(gap_s)
        s.write(second)
        s.flush()
        return bytes(s.read(4096))


async def two_requests(port: str, first: bytes, second: bytes, gap_s: float,
                       listen_s: float) -> bytes:
    """Send ``first``, give up on it after ``gap_s``, send ``second``; return all replies."""
    return await asyncio.to_thread(_two_requests, port, first, second, gap_s, listen_s)
