"""What a backup reads from and a restore checks in a database: its tables and their rows,
its schema revision, and (SQLite) the online copy itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from cloud.backup.manifest import BackupError
from cloud.db.engine import alembic_config

ALEMBIC_TABLE = "alembic_version"


def known_revisions() -> tuple[set[str], str]:
    """Every schema revision this code knows, and its head."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head() or ""
    return {rev.revision for rev in script.walk_revisions()}, head


def table_names(conn: Connection) -> list[str]:
    """The console's tables (the default schema), in name order."""
    return sorted(inspect(conn).get_table_names())


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows of every table but alembic's own."""
    prep = conn.dialect.identifier_preparer
    return {name: int(conn.execute(text(f"SELECT count(*) FROM {prep.quote(name)}")).scalar_one())
            for name in table_names(conn) if name != ALEMBIC_TABLE}


def revision(conn: Connection) -> str | None:
    if ALEMBIC_TABLE not in table_names(conn):
        return None
    return conn.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}")).scalar()


def check_counts(expected: dict[str, int], found: dict[str, int]) -> None:
    """After a restore: every table of the archive, with the rows the backup counted."""
    wrong = [f"{t}: {found.get(t)} ≠ {n}" for t, n in sorted(expected.items())
             if found.get(t) != n]
    if wrong:
        raise BackupError("恢复后的行数与备份清单不符 / row counts after the restore differ from "
                          "the manifest: " + ", ".join(wrong[:10]))


def sqlite_copy(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source`` through SQLite's online backup API: the source
    may be written meanwhile (the copy is the database as of one moment), and a reader of the
    target sees the old database or the new one, never a mix (one backup step)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source, timeout=15)
    try:
        dst = sqlite3.connect(target, timeout=15)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def sqlite_tables(path: Path) -> list[str]:
    """The tables of a SQLite file (none when it does not exist)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=15)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                            "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    finally:
        conn.close()
    return [str(r[0]) for r in rows]
