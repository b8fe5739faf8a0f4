"""Shared fixtures: real brokers and databases (see tests/support/services.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import services

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def mqtt_url() -> str:
    """The shared test broker (anonymous, no ACL)."""
    return services.mqtt_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (SQLAlchemy asyncpg URL)."""
    with services.fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded SQLite default and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    else:
        with services.fresh_pg_database() as url:
            yield url


@pytest.fixture
def mosquitto() -> Iterator[services.Mosquitto]:
    """A private anonymous Mosquitto on a free port, which a test may stop and restart."""
    with services.own_mosquitto() as m:
        yield m
