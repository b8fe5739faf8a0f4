"""Raw byte exchange on a pty, in a worker thread so the event loop (and the simulator) runs."""

from __future__ import annotations

import asyncio

import serial


def _exchange(port: str, request: bytes, want: int, timeout: float) -> bytes:
    with serial.Serial(port, baudrate=9600, timeout=timeout) as s:
        s.reset_input_buffer()
        s.write(request)
        s.flush()
        return bytes(s.read(want))


async def exchange(port: str, request: bytes, want: int = 256, timeout: float = 1.0) -> bytes:
    """Send ``request``; return what arrives until ``want`` bytes or ``timeout`` s of silence."""
    return await asyncio.to_thread(_exchange, port, request, want, timeout)
