"""Console work run from the command line (``courtyard cloud purge``, ``blobs migrate``,
``cockpit rebuild``): the settings from the environment, warnings-only logs so the progress
lines on stdout stay readable, the schema brought up to date, one engine disposed at the end,
and an unknown ``--site`` answered with exit status 2 instead of a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.engine import make_engine, migrate, session_factory
from cloud.log import configure_logging
from cloud.settings import Settings, ensure_database_dir

Work = Callable[[async_sessionmaker[AsyncSession], Settings], Awaitable[None]]


def say(line: str) -> None:
    """A progress line for the operator (stdout; logs go to stderr)."""
    print(line, flush=True)


def run_on_console_db(work: Work, *, site: str | None) -> int:
    """Run ``work`` on the console's database; the exit status (2: no such ``site``)."""
    settings = Settings.from_env()
    configure_logging(level="WARNING", json_lines=settings.log_json)

    async def go() -> int:
        ensure_database_dir(settings.database_url)
        await migrate(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            await work(session_factory(engine), settings)
        except LookupError:
            print(f"site: 没有站点 {site!r} / no site {site!r}", file=sys.stderr)
            return 2
        finally:
            await engine.dispose()
        return 0

    return asyncio.run(go())
