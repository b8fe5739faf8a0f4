"""Command-line commands: billing.

``courtyard billing run --site SLUG --cycle monthly --period 2026-11`` runs (or resumes) a
bill run against the console's database (``COURTYARD_DATABASE_URL``, as ``courtyard cloud
serve``), with a progress bar on stderr (a ``\\r`` bar on a terminal, a line every few
seconds otherwise). ``courtyard billing fee-items load FILE --site SLUG`` loads fee items
from YAML; ``courtyard billing sample load FILE`` loads the sample community.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any


def _sessions() -> tuple[Any, Any]:
    from cloud.db.engine import make_engine, session_factory
    from cloud.settings import Settings

    engine = make_engine(Settings.from_env().database_url)
    return engine, session_factory(engine)


class Bar:
    """Progress on stderr: redrawn in place on a terminal, a line per 5 s otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = 0.0

    def __call__(self, run: Any) -> None:
        total = max(run.units_total, 1)
        done = min(run.units_done, total)
        text = (f"{run.period} {done}/{run.units_total} 户 units · {run.bills} 单 bills · "
                f"{run.held} 暂扣 held · {run.total} 元")
        if self.tty:
            filled = int(30 * done / total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {text}")
            if run.state != "running":
                self.stream.write("\n")
        elif run.state != "running" or time.monotonic() - self.last >= 5:
            self.stream.write(text + "\n")
            self.last = time.monotonic()
        self.stream.flush()


async def _run(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from cloud.auth.audit import SYSTEM
    from cloud.billing.runs import RunRefused, execute, open_run
    from cloud.db.models import Site
    from cloud.payments.balances import apply_prepaid
    from contract import SystemClock

    engine, sessions = _sessions()
    clock = SystemClock()
    try:
        async with sessions() as session, session.begin():
            site = (await session.execute(select(Site).where(Site.slug == args.site))
                    ).scalar_one_or_none()
            if site is None:
                print(f"站点不存在 / no such site: {args.site}", file=sys.stderr)
                return 2
            try:
                run, _ = await open_run(session, site=site, cycle=args.cycle,
                                        period=args.period, actor=SYSTEM, now=clock.now())
            except RunRefused as err:
                print(f"{err.zh} / {err.en}", file=sys.stderr)
                return 1 if err.status == 409 else 2
            run_id = run.id
        done = await execute(sessions, run_id, clock=clock, actor=SYSTEM, settle=apply_prepaid,
                             batch_size=args.batch, progress=Bar())
        print(f"bill run {done.id}: {done.bills} bills, {done.held} held, total {done.total}")
        return 0
    finally:
        await engine.dispose()


async def _read_yaml(file: str) -> Any:
    """The file's data, or None after printing every problem as FILE:LINE:COL."""
    from yamlcheck.positions import plain, read_yaml
    from yamlcheck.problems import ConfigError

    try:
        return plain(await asyncio.to_thread(read_yaml, Path(file)))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


async def _load_fee_items(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from cloud.auth.audit import SYSTEM
    from cloud.db.models import Site
    from cloud.sample_community import LoadError, load_fee_items
    from contract import SystemClock

    doc = await _read_yaml(args.file)
    if doc is None:
        return 2
    items = doc.get("fee_items") if isinstance(doc, dict) else doc
    engine, sessions = _sessions()
    try:
        async with sessions() as session, session.begin():
            site = (await session.execute(select(Site).where(Site.slug == args.site))
                    ).scalar_one_or_none()
            if site is None:
                print(f"站点不存在 / no such site: {args.site}", file=sys.stderr)
                return 2
            try:
                rows = await load_fee_items(session, site, items, SYSTEM, SystemClock().now())
            except LoadError as err:
                print(f"{args.file}: {err}", file=sys.stderr)
                return 2
        print(f"{len(rows)} 个收费项目已载入 / fee items loaded: "
              f"{', '.join(r.code for r in rows)}")
        return 0
    finally:
        await engine.dispose()


async def _load_sample(args: argparse.Namespace) -> int:
    from cloud.auth.audit import SYSTEM
    from cloud.db.engine import migrate
    from cloud.sample_community import load_community
    from cloud.settings import Settings
    from contract import SystemClock

    doc = await _read_yaml(args.file)
    if doc is None:
        return 2
    await migrate(Settings.from_env().database_url)
    engine, sessions = _sessions()
    try:
        async with sessions() as session, session.begin():
            site = await load_community(session, doc, SYSTEM, SystemClock().now())
        print(f"示例小区已载入 / sample community loaded: {site.slug}")
        return 0
    finally:
        await engine.dispose()


def _call(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from cloud.log import configure_logging
        from cloud.settings import Settings

        configure_logging(level="warning", json_lines=Settings.from_env().log_json)
        result: int = asyncio.run(fn(args))
        return result
    return run


def add_billing_commands(sub: Any, cloud: argparse._SubParsersAction[Any]) -> None:
    """Add this module's commands: sub is the top level, cloud is ``courtyard cloud``."""
    del cloud
    billing = sub.add_parser("billing", help="收费与出账 / fees and bill runs").add_subparsers(
        dest="cmd", required=True)
    r = billing.add_parser("run", help="出账（可续跑）/ run or resume a bill run")
    r.add_argument("--site", required=True)
    r.add_argument("--cycle", default="monthly", choices=["monthly", "quarterly", "yearly"])
    r.add_argument("--period", required=True, help="2026-11, 2026-Q4 or 2026")
    r.add_argument("--batch", type=int, default=1000, help="每批户数 / units per transaction")
    r.set_defaults(func=_call(_run))
    fee = billing.add_parser("fee-items", help="收费项目 / fee items").add_subparsers(
        dest="fee_cmd", required=True)
    load = fee.add_parser("load", help="从 YAML 载入 / load from YAML")
    load.add_argument("file")
    load.add_argument("--site", required=True)
    load.set_defaults(func=_call(_load_fee_items))
    sample = billing.add_parser("sample", help="示例小区 / the sample community").add_subparsers(
        dest="sample_cmd", required=True)
    sl = sample.add_parser("load", help="载入示例小区 / load the sample community")
    sl.add_argument("file")
    sl.set_defaults(func=_call(_load_sample))
