"""``courtyard records template KIND`` and ``courtyard records import KIND FILE --site SLUG``.

The import works directly on the console's database (``COURTYARD_DATABASE_URL``, migrated
first, like ``courtyard cloud serve``) with the same checks as the console's import page:
every bad row is printed as ``FILE:ROW:COLUMN: reason — fix`` and nothing is applied (exit
status 2); otherwise everything is applied in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

#: Without a terminal, one plain progress line at most this often (seconds).
PLAIN_EVERY_S = 2.0
BAR_WIDTH = 30


class ProgressBar:
    """``\\r[#####     ] 52% 5,200/10,000 rows`` on a terminal, periodic lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        label = {"checking": "检查 checking", "applying": "导入 applying"}.get(phase, phase)
        pct = 100 if total == 0 else done * 100 // total
        text = f"{label} {pct:3d}% {done:,}/{total:,} rows"
        if self.tty:
            filled = BAR_WIDTH * pct // 100
            self.out.write(f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {text}")
            self.out.flush()
            self.shown = True
            return
        now = time.monotonic()
        if now - self.last >= PLAIN_EVERY_S or done == total:
            self.last = now
            self.out.write(text + "\n")
            self.out.flush()

    def end(self) -> None:
        if self.tty and self.shown:
            self.out.write("\n")
            self.out.flush()


def _template(args: argparse.Namespace) -> int:
    from cloud.imports.templates import template

    data = template(args.kind, args.format)
    if args.output in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(args.output).write_bytes(data)
        print(f"已写入 / written: {args.output}", file=sys.stderr)
    return 0


_FIX = {
    "必填": "填写此列 / fill in this column",
    "未知列": "按模板改正表头 / use the template's header",
    "缺少必填列": "按模板补上此列 / add the column from the template",
}


def _fix(zh: str) -> str:
    for start, fix in _FIX.items():
        if zh.startswith(start):
            return fix
    return "改正此单元格后重新导入 / correct the cell and import again"


async def _import(args: argparse.Namespace, bar: ProgressBar) -> Any:
    from sqlalchemy import select

    from cloud.auth.audit import Actor
    from cloud.db.dialect import dialect_insert
    from cloud.db.engine import make_engine, migrate, session_factory
    from cloud.db.models import Site
    from cloud.imports.reader import read_sheet
    from cloud.imports.register import import_sheet
    from cloud.parking import dataset as ds
    from cloud.settings import Settings, ensure_database_dir

    settings = Settings.from_env()
    sheet = read_sheet(await asyncio.to_thread(Path(args.file).read_bytes))
    ensure_database_dir(settings.database_url)
    await migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        if args.site in settings.site_credentials:  # configured but not reported yet
            async with sessions() as session, session.begin():
                found = (await session.scalars(select(Site.id).where(
                    Site.slug == args.site))).first()
                if found is None:
                    await session.execute(dialect_insert(session, ds.SITES).values(
                        slug=args.site, name=args.site).on_conflict_do_nothing(
                            index_elements=["slug"]))
        actor = Actor("system", f"cli:{getpass.getuser()}"[:100], "admin", None)
        now = datetime.now(UTC)
        return await import_sheet(sessions, args.kind, args.site, sheet, actor=actor,
                                  now=now, default_tz=settings.timezone,
                                  dry_run=args.dry_run, source=Path(args.file).name,
                                  progress=bar)
    finally:
        await engine.dispose()


def _import_main(args: argparse.Namespace) -> int:
    from cloud.imports.reader import SheetError
    from cloud.parking.records import RecordError

    bar = ProgressBar(sys.stderr)
    try:
        result = asyncio.run(_import(args, bar))
    except OSError as exc:
        print(f"{args.file}: 无法读取 / cannot read: {exc}", file=sys.stderr)
        return 2
    except SheetError as err:
        print(f"{args.file}: {err.zh} / {err.en}", file=sys.stderr)
        return 2
    except RecordError as err:
        print(f"{args.site}: {err.zh} / {err.en}", file=sys.stderr)
        return 2
    finally:
        bar.end()
    for e in result.errors:
        print(f"{args.file}:{e.row}:{e.column}: {e.zh} / {e.en} — {_fix(e.zh)}",
              file=sys.stderr)
    verb = "试运行 / dry run" if args.dry_run else (
        "已导入 / imported" if result.applied else "未导入 / nothing imported")
    print(f"{verb}: {result.rows_total} 行 rows — 新建 created {result.created}, "
          f"更新 updated {result.updated}, 未变 unchanged {result.unchanged}, "
          f"错误 errors {len(result.errors)}"
          + (f", 新建楼栋 buildings created {result.buildings_created}"
             if result.buildings_created else ""))
    return 2 if result.errors else 0


def add_records_commands(sub: Any, cloud: argparse._SubParsersAction[Any]) -> None:
    """Add this module's commands: sub is the top level, cloud is ``courtyard cloud``."""
    from cloud.records.import_kinds import IMPORT_KINDS

    del cloud
    records = sub.add_parser("records", help="房屋档案导入导出 / register imports").add_subparsers(
        dest="records_cmd", required=True)
    t = records.add_parser("template", help="下载导入模板 / write an import template")
    t.add_argument("kind", choices=IMPORT_KINDS)
    t.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    t.add_argument("-o", "--output", help="输出文件（默认标准输出）/ output file (default stdout)")
    t.set_defaults(func=_template)
    i = records.add_parser("import", help="导入表格 / import a sheet into the console database")
    i.add_argument("kind", choices=IMPORT_KINDS)
    i.add_argument("file", help=".csv 或 .xlsx / a .csv or .xlsx file")
    i.add_argument("--site", required=True, help="站点标识 / site slug")
    i.add_argument("--dry-run", action="store_true",
                   help="只检查，不导入 / check every row, change nothing")
    i.set_defaults(func=_import_main)
