"""Fixtures for the simulator tests: the project's profile files, a hand-driven clock, ptys."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulators.pty import pty_pair
from tests.support import services

PROFILES = Path(__file__).resolve().parents[2] / "configs" / "profiles"


class ManualClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def profiles() -> Path:
    return PROFILES


@pytest.fixture
async def rtu_line(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """A virtual RS-485 line: (client end, simulator end)."""
    services.need(shutil.which("socat") is not None, "socat (apt-get install -y socat)")
    async with pty_pair(tmp_path / "edge", tmp_path / "sim") as (a, b):
        yield str(a), str(b)
