"""Shared fixtures: real brokers and databases (see tests/support/services.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import structlog

from tests.support import services

REPO = Path(__file__).resolve().parent.parent
_worker_services = ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a broker of its own: tests on different workers
    use the same site ids and topics, and a message meant for one must never reach another.
    PostgreSQL needs nothing: every test has a database of its own."""
    if os.environ.get("PYTEST_XDIST_WORKER") and services.has_mosquitto():
        broker = _worker_services.enter_context(services.own_mosquitto(persistence=False))
        os.environ["COURTYARD_TEST_MQTT_URL"] = f"mqtt://{broker.host}:{broker.port}"


def pytest_unconfigure(config: pytest.Config) -> None:
    _worker_services.close()


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def mqtt_url() -> str:
    """The shared test broker (anonymous, no ACL)."""
    return services.mqtt_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, already migrated to head (SQLAlchemy asyncpg
    URL); ``migrate()`` on it is a no-op. ``empty_pg_url`` for a database with nothing."""
    with services.fresh_pg_database(migrated=True) as url:
        yield url


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (for tests of the migrations themselves)."""
    with services.fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded SQLite default and on PostgreSQL, each a fresh database
    already migrated to head (copied from a per-process template)."""
    if request.param == "sqlite":
        yield services.migrated_sqlite_copy(tmp_path / "cloud.db")
    else:
        with services.fresh_pg_database(migrated=True) as url:
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each engine (for tests of the migrations themselves)."""
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


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures logging for its process; put the test process's back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)
