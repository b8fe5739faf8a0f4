"""``backup`` and ``restore``: the order of the steps, and why it is safe.

Backup: the database first, as of one moment (PostgreSQL: a REPEATABLE READ transaction
exports its snapshot, the row counts and the revision are read in it, and ``pg_dump
--snapshot`` dumps exactly that; SQLite: the online backup API, counted on the copy); then
the blob store. Ingest stores an image before the event naming it commits, so every image an
event of the snapshot names is already in the store when we walk it.

Restore: check the whole archive (checksums, names, format, schema revision) and the target
(dialect, emptiness, tool versions) before writing anything; then the blobs (only adding
files named by their content, harmless if what follows fails); then the database in one
step (``pg_restore --single-transaction`` / one SQLite backup step); then count every table
again against the manifest. Stop the console first: a console writing during the restore
would make the counts differ (and PostgreSQL's ``--clean`` waits for its locks).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from cloud.backup import database as db
from cloud.backup import pgtools as pg
from cloud.backup.archive import unpack, verify_archive, write_archive
from cloud.backup.manifest import DEFAULT_TIMEOUT_S, BackupError, Manifest, check_revision
from cloud.db.engine import PG_CONNECT_TIMEOUT_S, is_sqlite, make_engine
from cloud.settings import sqlite_path
from contract.clock import Clock

log = structlog.get_logger(__name__)

Say = Callable[[str], None]


@dataclass(frozen=True)
class Tools:
    """Where PostgreSQL's tools are (None: PATH) and how long each may run."""

    pg_bin: Path | None = None
    timeout: float = DEFAULT_TIMEOUT_S


def _dialect(url: str) -> str:
    return "sqlite" if is_sqlite(url) else "postgresql"


def _sqlite_file(url: str) -> Path:
    path = sqlite_path(url)
    if path is None:
        raise BackupError("内存数据库无法备份或恢复 / an in-memory database cannot be backed up "
                          "or restored")
    return path


def _tool_progress(say: Say) -> Callable[[str], None]:
    """The tools' ``--verbose`` lines that say which table they are at."""
    def on_line(line: str) -> None:
        for marker in ("dumping contents of table ", "processing data for table "):
            if marker in line:
                say(f"  表 table {line.split(marker, 1)[1].strip(chr(34))}")
    return on_line


def _engine(url: str, tools: Tools) -> AsyncEngine:
    """One connection, and on PostgreSQL statements as patient as the tools: counting a
    large events table may take longer than the console's 60 s statement limit."""
    if is_sqlite(url):
        return make_engine(url, poolclass=NullPool)
    return create_async_engine(url, poolclass=NullPool, connect_args={
        "timeout": PG_CONNECT_TIMEOUT_S, "command_timeout": tools.timeout})


async def _server_version(conn: AsyncConnection) -> str:
    """``15.20`` (without the packager's ``(Debian 15.20-0+deb12u1)``)."""
    return str((await conn.execute(text("SHOW server_version"))).scalar_one()).split()[0]


async def _pg_dump(url: str, target: Path, tools: Tools,
                   say: Say) -> tuple[str, dict[str, int], dict[str, str]]:
    pg_dump = pg.tool("pg_dump", tools.pg_bin)
    dump_version = await pg.tool_version(pg_dump)
    engine = _engine(url, tools)
    try:
        async with engine.connect() as plain:
            conn = await plain.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                server = await _server_version(conn)
                pg.check_same_major("pg_dump", dump_version, server)
                snapshot = (await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
                revision = await conn.run_sync(db.revision)
                if revision is None:
                    raise BackupError("数据库尚未建表（从未迁移）/ the database has no schema yet "
                                      "(never migrated)")
                counts = await conn.run_sync(db.row_counts)
                say(f"导出数据库 / dumping the database (PostgreSQL {server}, "
                    f"{sum(counts.values()):,} 行 rows)")
                await pg.run([pg_dump, "--format=custom", "--verbose", f"--snapshot={snapshot}",
                              f"--file={target}"], pg.libpq_env(url), tools.timeout,
                             _tool_progress(say))
    finally:
        await engine.dispose()
    return revision, counts, {"server_version": server, "pg_dump_version": dump_version}


def _sqlite_facts(path: Path) -> tuple[str | None, dict[str, int]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return db.revision(conn), db.row_counts(conn)
    finally:
        engine.dispose()


async def _sqlite_dump(url: str, target: Path,
                       say: Say) -> tuple[str, dict[str, int], dict[str, str]]:
    source = _sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"数据库文件不存在 / the database file does not exist: {source}")
    say(f"复制数据库 / copying the database ({source})")
    await asyncio.to_thread(db.sqlite_copy, source, target)
    revision, counts = await asyncio.to_thread(_sqlite_facts, target)
    if revision is None:
        raise BackupError("数据库尚未建表（从未迁移）/ the database has no schema yet "
                          "(never migrated)")
    return revision, counts, {"sqlite_version": sqlite3.sqlite_version}


def _archive_path(archive: Path) -> Path:
    archive = archive.resolve()
    if archive.is_dir():
        raise BackupError(f"这是一个目录，请给出文件名 / that is a folder, name a file: {archive}")
    if not archive.parent.is_dir():
        raise BackupError(f"目录不存在 / no such folder: {archive.parent}")
    return archive


async def backup(url: str, archive: Path, blob_dir: Path, clock: Clock, say: Say,
                 tools: Tools = Tools()) -> Manifest:
    """Write the archive of the database at ``url`` and the blob store at ``blob_dir``."""
    archive = await asyncio.to_thread(_archive_path, archive)
    created_at = clock.now().astimezone(UTC)
    dialect = _dialect(url)
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".courtyard-backup-") as tmp:
        dump = Path(tmp) / "database"
        try:
            if dialect == "postgresql":
                revision, counts, versions = await _pg_dump(url, dump, tools, say)
            else:
                revision, counts, versions = await _sqlite_dump(url, dump, say)
        except (OSError, DBAPIError, sqlite3.DatabaseError) as exc:
            raise BackupError(f"无法读取数据库 / cannot read the database: {exc}") from None
        say(f"写入备份文件 / writing the archive {archive}")
        manifest = Manifest(created_at=created_at, revision=revision, dialect=dialect,
                            versions=versions, tables=counts)
        manifest = await asyncio.to_thread(write_archive, archive, manifest, dump, blob_dir, say)
    count, size = manifest.blobs
    say(f"备份完成 / backup written: {archive} — 结构版本 revision {revision}, "
        f"{len(counts)} 表 tables, {sum(counts.values()):,} 行 rows, "
        f"{count:,} 图片 blobs ({size:,} bytes)")
    log.info("backup.written", archive=str(archive), revision=revision, tables=len(counts),
             rows=sum(counts.values()), blobs=count, blob_bytes=size)
    return manifest


async def _pg_target(url: str, manifest: Manifest, tools: Tools) -> tuple[str, list[str]]:
    """pg_restore's path after checking the target; the target's tables."""
    pg_restore = pg.tool("pg_restore", tools.pg_bin)
    restore_version = await pg.tool_version(pg_restore)
    dumped_by = manifest.versions.get("pg_dump_version", "0")
    if pg.major(restore_version) < pg.major(dumped_by):
        raise BackupError(f"备份由 pg_dump {dumped_by} 生成，pg_restore {restore_version} 读不了 / "
                          f"the archive was made by pg_dump {dumped_by}, which pg_restore "
                          f"{restore_version} cannot read")
    engine = _engine(url, tools)
    try:
        async with engine.connect() as conn:
            server = await _server_version(conn)
            tables = await conn.run_sync(db.table_names)
    except (OSError, DBAPIError) as exc:  # no such database, refused login, …
        raise BackupError(f"无法连接目标数据库（请先创建它）/ cannot connect to the target "
                          f"database (create it first): {exc}") from None
    finally:
        await engine.dispose()
    pg.check_same_major("pg_restore", restore_version, server)
    return pg_restore, tables


def _check_target(tables: list[str], force: bool, where: str) -> None:
    if tables and not force:
        raise BackupError(
            f"目标数据库不是空的（{len(tables)} 个表），恢复会覆盖其中的数据；确认后加 --force / "
            f"the target database is not empty ({len(tables)} tables, {where}); a restore "
            "replaces its data: add --force if that is what you want")


async def _verify(url: str, manifest: Manifest, tools: Tools) -> None:
    engine = _engine(url, tools)
    try:
        async with engine.connect() as conn:
            revision = await conn.run_sync(db.revision)
            counts = await conn.run_sync(db.row_counts)
    finally:
        await engine.dispose()
    if revision != manifest.revision:
        raise BackupError(f"恢复后的结构版本 {revision} 与备份 {manifest.revision} 不符 / the "
                          f"restored revision {revision} differs from the archive's "
                          f"{manifest.revision}")
    db.check_counts(manifest.tables, counts)


def _dbname_conninfo(url: str) -> str:
    """``dbname='…'`` for ``pg_restore --dbname`` (a bare name holding ``=`` would be read
    as a connection string)."""
    name = make_url(url).database or ""
    return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def restore(url: str, archive: Path, blob_dir: Path, say: Say, force: bool = False,
                  tools: Tools = Tools()) -> Manifest:
    """Put the archive's database at ``url`` and its blobs into ``blob_dir``."""
    say(f"校验备份 / checking the archive {archive}")
    manifest = await asyncio.to_thread(verify_archive, archive)
    known, head = await asyncio.to_thread(db.known_revisions)
    check_revision(manifest.revision, known, head)
    count, size = manifest.blobs
    say(f"备份有效 / the archive is intact: 备份时间 made at "
        f"{manifest.created_at.isoformat(timespec='seconds')}, "
        f"结构版本 revision {manifest.revision}, {len(manifest.tables)} 表 tables, "
        f"{count:,} 图片 blobs ({size:,} bytes)")
    dialect = _dialect(url)
    if dialect != manifest.dialect:
        raise BackupError(f"备份来自 {manifest.dialect}，目标是 {dialect}，不能跨数据库恢复 / the "
                          f"archive holds a {manifest.dialect} database, the target is "
                          f"{dialect}: restore into the same kind")
    if dialect == "postgresql":
        pg_restore, tables = await _pg_target(url, manifest, tools)
        _check_target(tables, force, make_url(url).database or "")
        extra = sorted(set(tables) - set(manifest.tables) - {db.ALEMBIC_TABLE})
        if extra:
            raise BackupError(
                f"目标数据库有备份中没有的表（{', '.join(extra[:5])}），请恢复到新建的空数据库 / "
                f"the target has tables the archive does not ({', '.join(extra[:5])}): "
                "restore into a new, empty database")
    else:
        target = _sqlite_file(url)
        try:
            tables = await asyncio.to_thread(db.sqlite_tables, target)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"目标不是可用的 SQLite 数据库 / the target is not a usable SQLite "
                              f"database: {target}: {exc}") from None
        _check_target(tables, force, str(target))
    # The data dir holds the unpacked dump: room where the data will live anyway.
    await asyncio.to_thread(blob_dir.parent.mkdir, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=blob_dir.parent, prefix=".courtyard-restore-") as tmp:
        dump = Path(tmp) / "database"
        say(f"写入图片 / writing the blobs into {blob_dir}")
        await asyncio.to_thread(unpack, archive, manifest, dump, blob_dir, say)
        say("恢复数据库 / restoring the database")
        if dialect == "postgresql":
            await pg.run([pg_restore, "--clean", "--if-exists", "--no-owner",
                          "--single-transaction", "--exit-on-error", "--verbose",
                          f"--dbname={_dbname_conninfo(url)}", str(dump)],
                         pg.libpq_env(url), tools.timeout, _tool_progress(say))
        else:
            await asyncio.to_thread(db.sqlite_copy, dump, _sqlite_file(url))
    say("核对行数 / checking the row counts")
    await _verify(url, manifest, tools)
    say(f"恢复完成 / restore done: {sum(manifest.tables.values()):,} 行 rows, "
        f"{count:,} 图片 blobs")
    log.info("backup.restored", archive=str(archive), revision=manifest.revision,
             rows=sum(manifest.tables.values()), blobs=count)
    return manifest
