"""Logging setup: JSON lines for machines, the level from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from edge.log import configure_logging


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_json_lines_carry_bound_context_and_respect_the_level(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTYARD_LOG_LEVEL", "warning")
    configure_logging(json=True)
    logger = structlog.get_logger("t").bind(site="demo", bus="tcp1")
    logger.info("quiet")
    logger.warning("设备离线", device="m-101")
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["event"] == "设备离线" and rec["level"] == "warning"
    assert rec["site"] == "demo" and rec["bus"] == "tcp1" and rec["device"] == "m-101"
    assert rec["timestamp"].endswith("Z")


def test_unknown_level_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTYARD_LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="COURTYARD_LOG_LEVEL"):
        configure_logging()
