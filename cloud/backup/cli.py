"""``courtyard cloud backup FILE`` and ``courtyard cloud restore FILE [--force]``.

Both work on the console's own database (``COURTYARD_DATABASE_URL``) and blob store; progress
lines go to stdout, a refusal to stderr with exit status 2 (nothing was changed by a refused
restore: every check runs before the first write).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud.backup.manifest import DEFAULT_TIMEOUT_S
from cloud.settings import Settings

if TYPE_CHECKING:
    from cloud.backup.run import Tools


def _say(line: str) -> None:
    print(line, flush=True)


def _settings() -> Settings:
    """The console's settings; logs to stderr at WARNING (stdout is the progress)."""
    from cloud.log import configure_logging

    settings = Settings.from_env()
    configure_logging(level="WARNING", json_lines=settings.log_json)
    return settings


def _tools(args: argparse.Namespace) -> Tools:
    from cloud.backup.run import Tools

    return Tools(pg_bin=Path(args.pg_bin) if args.pg_bin else None, timeout=args.timeout)


def _backup_main(args: argparse.Namespace) -> int:
    from cloud.backup.manifest import BackupError
    from cloud.backup.run import backup
    from contract.clock import SystemClock

    settings = _settings()
    try:
        asyncio.run(backup(settings.database_url, Path(args.file), settings.effective_blob_dir,
                           SystemClock(), _say, _tools(args)))
    except BackupError as exc:
        print(f"备份失败 / backup failed: {exc}", file=sys.stderr)
        return 2
    return 0


def _restore_main(args: argparse.Namespace) -> int:
    from cloud.backup.manifest import BackupError
    from cloud.backup.run import restore

    settings = _settings()
    try:
        asyncio.run(restore(settings.database_url, Path(args.file),
                            settings.effective_blob_dir, _say, force=args.force,
                            tools=_tools(args)))
    except BackupError as exc:
        print(f"恢复失败 / restore failed: {exc}", file=sys.stderr)
        return 2
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pg-bin", metavar="DIR",
                   help="PostgreSQL 客户端工具目录（默认 PATH）/ folder of pg_dump and "
                        "pg_restore (default: PATH), e.g. /usr/lib/postgresql/16/bin")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="pg_dump / pg_restore 最长运行秒数 / the longest pg_dump or pg_restore "
                        f"may run (default {DEFAULT_TIMEOUT_S:.0f})")


def add_backup_commands(cloud: argparse._SubParsersAction[Any]) -> None:
    """``backup`` and ``restore`` under ``courtyard cloud``."""
    b = cloud.add_parser("backup", help="备份数据库与图片 / back up the database and the blobs")
    b.add_argument("file", help="备份文件，.tar 或 .tar.gz / the archive to write, .tar or .tar.gz")
    _common(b)
    b.set_defaults(func=_backup_main)
    r = cloud.add_parser("restore", help="从备份恢复 / restore a backup into the console's "
                                         "database and blob store")
    r.add_argument("file", help="备份文件 / the archive")
    r.add_argument("--force", action="store_true",
                   help="目标数据库非空时也恢复（覆盖其数据）/ restore over a database that "
                        "holds data (replacing it)")
    _common(r)
    r.set_defaults(func=_restore_main)
