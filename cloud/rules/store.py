"""Rule files edited through the API: checked whole, stored as versions, picked up by every process.

A submitted file is checked by the same loader as the file on disk and refused as a whole on any
problem, so nothing half-valid is ever stored. Each console process polls for the newest
version (``run_reload``) rather than being told, so several processes converge without a
message bus; a stored version that somehow no longer loads (a newer console with stricter
checks) is logged and skipped, and the last good rules stay in force.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.rules.evaluate import RuleEngine
from cloud.rules.load import DEFAULT_FILE, RulesError, load_rules_text
from cloud.rules.tables import RuleSetVersion
from contract import Clock

log = structlog.get_logger(__name__)

#: The name problems in a submitted file point at (``rules.yaml:12:5: …``).
SUBMITTED_NAME = "rules.yaml"


async def current(session: AsyncSession) -> tuple[int, str] | None:
    """The newest stored version and its text, or None when the rules were never edited."""
    row = (await session.execute(
        select(RuleSetVersion.version, RuleSetVersion.yaml)
        .order_by(RuleSetVersion.version.desc()).limit(1))).first()
    return None if row is None else (int(row[0]), str(row[1]))


def check(yaml_text: str) -> None:
    """Raise RulesError listing every problem of the text; return quietly when it is good."""
    load_rules_text(yaml_text, SUBMITTED_NAME)


async def save(session: AsyncSession, yaml_text: str, by: str, note: str | None,
               now: datetime) -> int:
    """Store the text as the next version and return it; RulesError (nothing stored) if bad.

    Runs in the caller's transaction; two saves racing for one version number make the
    second fail on the unique index rather than both becoming "newest".
    """
    check(yaml_text)
    latest = (await session.execute(select(func.max(RuleSetVersion.version)))).scalar()
    version = int(latest or 0) + 1
    session.add(RuleSetVersion(version=version, yaml=yaml_text, created_at=now, created_by=by,
                               note=note))
    await session.flush()
    return version


def startup_text(raw: str | None) -> tuple[str, str]:
    """The file the console starts with (``COURTYARD_RULES``, None: the defaults): name, text.

    A folder of files is shown as its files one after another, each under a comment naming it.
    """
    path = Path(raw) if raw else DEFAULT_FILE
    try:
        if path.is_dir():
            files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            return str(path), "\n".join(f"# --- {f.name} ---\n{f.read_text(encoding='utf-8')}"
                                        for f in files)
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return str(path), ""


class RulesReloader:
    """Follows the newest stored version into one engine; remembers what it has applied."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: RuleEngine) -> None:
        self.sessions = sessions
        self.engine = engine
        #: The version in force (0: the startup file) and the newest one seen (even if refused).
        self.applied = 0
        self.seen = 0

    async def reload_once(self) -> bool:
        """Apply the newest version if it is new and loads; True when the rules changed."""
        async with self.sessions() as session:
            newest = await current(session)
        if newest is None or newest[0] == self.seen:
            return False
        version, text = newest
        self.seen = version
        try:
            ruleset = load_rules_text(text, f"{SUBMITTED_NAME}@v{version}")
        except RulesError as exc:
            log.error("rules.reload_refused", version=version, kept=self.applied,
                      problems=[str(p) for p in exc.problems])
            return False
        self.engine.use(ruleset)
        log.info("rules.reloaded", version=version, previous=self.applied,
                 rules=len(ruleset.rules))
        self.applied = version
        return True


async def run_reload(sessions: async_sessionmaker[AsyncSession], engine: RuleEngine,
                     clock: Clock, interval: float = 5.0) -> None:
    """Until cancelled: poll for a newer rule version and swap it into ``engine``."""
    reloader = RulesReloader(sessions, engine)
    while True:
        try:
            await reloader.reload_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database hiccup must not end the loop
            log.error("rules.reload_failed", error=repr(exc), at=clock.now().isoformat())
        await asyncio.sleep(interval)
