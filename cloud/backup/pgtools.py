"""Running PostgreSQL's own tools (``pg_dump``, ``pg_restore``) against the console's database.

The connection is handed over in libpq's environment variables, never on the command line:
``ps`` shows every process's arguments to every user of the machine, the password included.
The tools must be the server's major version: ``pg_dump`` refuses a newer server, and an
archive made by a newer ``pg_dump`` cannot be read by the server's own ``pg_restore``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog
from sqlalchemy.engine import make_url

from cloud.backup.manifest import BackupError

log = structlog.get_logger(__name__)

#: How long ``--version`` may take.
VERSION_TIMEOUT_S = 30.0
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
_VERSION_RE = re.compile(r"(\d+)(?:\.\d+)*")


def libpq_env(url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that points libpq at the database of a SQLAlchemy URL
    (``postgresql+asyncpg://user:pw@host:port/db?ssl=require``)."""
    u = make_url(url)
    env = dict(os.environ if base is None else base)
    for key in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE",
                "PGSERVICE"):
        env.pop(key, None)  # the URL alone says where to connect
    host = u.query.get("host") or u.host
    if isinstance(host, tuple):
        host = host[0]
    values = {"PGHOST": host, "PGPORT": str(u.port) if u.port else None,
              "PGUSER": u.username, "PGPASSWORD": u.password, "PGDATABASE": u.database}
    ssl = u.query.get("sslmode") or u.query.get("ssl")
    if isinstance(ssl, tuple):
        ssl = ssl[0]
    if ssl:
        values["PGSSLMODE"] = "require" if ssl.lower() == "true" else ssl.lower()
        if values["PGSSLMODE"] not in _SSLMODES:
            raise BackupError(f"无法识别的 ssl 参数 / unknown ssl setting in the database URL: "
                              f"{ssl}")
    env.update({k: str(v) for k, v in values.items() if v})
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env["PGAPPNAME"] = "courtyard-backup"
    return env


def major(version: str) -> int:
    """``15.20 (Debian 15.20-0+deb12u1)`` → 15; ``pg_dump (PostgreSQL) 16.4`` → 16."""
    found = _VERSION_RE.search(version.split(")", 1)[-1] if "(PostgreSQL)" in version
                               else version)
    if found is None:
        raise BackupError(f"无法识别的版本 / cannot read a version from {version!r}")
    return int(found.group(1))


def tool(name: str, pg_bin: Path | None) -> str:
    """The tool's path: in ``pg_bin`` when given, else on PATH."""
    path = str(pg_bin / name) if pg_bin else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        where = pg_bin or "PATH"
        raise BackupError(f"找不到 {name}（{where}），请安装 PostgreSQL 客户端或用 --pg-bin 指定 / "
                          f"{name} not found in {where}: install the PostgreSQL client tools "
                          "or name their folder with --pg-bin")
    return path


async def run(argv: list[str], env: Mapping[str, str], limit_s: float,
              on_line: Callable[[str], None] | None = None) -> str:
    """Run a tool to its end within ``limit_s`` seconds; its stdout. Stderr lines go to
    ``on_line`` as they come (the tools' ``--verbose`` progress); a failure names the tool,
    its exit status and its last words."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=dict(env))
    assert proc.stdout is not None and proc.stderr is not None
    tail: list[str] = []

    async def errors() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            del tail[:-20]
            if on_line is not None:
                on_line(line)

    name = Path(argv[0]).name
    try:
        async with asyncio.timeout(limit_s), asyncio.TaskGroup() as tg:
            tg.create_task(errors())
            out = tg.create_task(proc.stdout.read())
            tg.create_task(proc.wait())
    except TimeoutError:
        raise BackupError(f"{name} 超过 {limit_s:.0f} 秒未完成，已终止 / {name} did not finish "
                          f"within {limit_s:.0f} s and was stopped") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        log.warning("backup.tool_failed", tool=name, status=proc.returncode, stderr=tail)
        raise BackupError(f"{name} 失败（退出码 {proc.returncode}）/ {name} failed (exit status "
                          f"{proc.returncode}): " + " | ".join(tail[-5:]))
    return out.result().decode(errors="replace")


async def tool_version(path: str) -> str:
    """``16.4`` from ``pg_dump (PostgreSQL) 16.4 (Debian …)``."""
    text = await run([path, "--version"], os.environ, VERSION_TIMEOUT_S)
    found = _VERSION_RE.search(text.split(")", 1)[-1])
    if found is None:
        raise BackupError(f"无法识别 {path} 的版本 / cannot read the version of {path}: "
                          f"{text.strip()!r}")
    return found.group(0)


def check_same_major(tool_name: str, tool_version_: str, server_version: str) -> None:
    """The tool and the server must share their major version (see the module's docstring)."""
    if major(tool_version_) != major(server_version):
        raise BackupError(
            f"{tool_name} 的版本 {tool_version_} 与数据库服务器的版本 {server_version} 主版本不同，"
            f"请使用 PostgreSQL {major(server_version)} 的客户端工具（--pg-bin 指定目录）/ "
            f"{tool_name} {tool_version_} and the database server {server_version} differ in "
            f"major version: use the PostgreSQL {major(server_version)} client tools "
            f"(--pg-bin names their folder, e.g. /usr/lib/postgresql/"
            f"{major(server_version)}/bin)")
