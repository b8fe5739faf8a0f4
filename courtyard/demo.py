"""`courtyard demo`: the cloud console, the simulated devices and an edge on one machine.

Each part runs as its own process, exactly as on a real site (the edge box, the field devices
and the console are separate machines there), so the demo exercises the real wire protocols,
the real MQTT contract and the real database path. Ctrl-C stops all three cleanly.

When the site has parking, the simulator also drives cars through it (plate cameras, the
barrier's relay board, payments at the booth API); the demo says where to watch: the edge's
lane states and the console's ``parking.exit`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

import configs
from simulators.siteconfig import SiteError, load_site

_COLOURS = {"cloud": "\033[36m", "sim": "\033[33m", "edge": "\033[32m"}
_RESET = "\033[0m"


async def _pump(name: str, stream: asyncio.StreamReader | None) -> None:
    if stream is None:
        return
    colour = _COLOURS.get(name, "") if sys.stdout.isatty() else ""
    reset = _RESET if colour else ""
    while line := await stream.readline():
        sys.stdout.write(f"{colour}[{name:5}]{reset} {line.decode(errors='replace')}")
        sys.stdout.flush()


async def _start(name: str, args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "courtyard", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        start_new_session=True,
    )
    asyncio.get_running_loop().create_task(_pump(name, proc.stdout))
    return proc


async def _stop(name: str, proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        print(f"[demo ] {name} 未及时退出，强制结束 / did not stop in time, killing")
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _get_json(session: aiohttp.ClientSession, url: str) -> object | None:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=3)) as resp:
            if resp.status != 200:
                return None
            return await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _wait_for(session: aiohttp.ClientSession, url: str, within: float,
                    stop: asyncio.Event) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not stop.is_set():
        if await _get_json(session, url) is not None:
            return True
        await asyncio.sleep(0.5)
    return False


def _parking_url(site: Path, env: dict[str, str]) -> str | None:
    """The edge's booth API (its operator listener) when the site has parking."""
    try:
        parking = load_site(site, env).parking
    except SiteError:
        return None
    return parking.operator_url if parking is not None else None


def _safety_args(site: Path, env: dict[str, str]) -> list[str]:
    """A passenger gets trapped in the site's last elevator a minute in, so the guard board
    (``/guard``) has a live alarm to show; nothing when the site has no elevators."""
    try:
        elevators = load_site(site, env).elevators
    except SiteError:
        return []
    return ["--trap", elevators[-1].id, "--trap-after", "60"] if elevators else []


def _print_parking(edge_url: str, base: str) -> None:
    print(f"[demo ] 停车车道 / parking lanes:  {edge_url}/parking/lanes  "
          "（边缘岗亭接口：车道、场内车辆、待缴费；须 Bearer 操作令牌，由 POST "
          f"{base}/api/sites/demo/edge-token 签发 / the edge's booth API: lanes, cars inside, "
          "who is waiting to pay; send the Bearer operator token that POST …/edge-token "
          "issues）")
    print(f"[demo ] 出场记录 / exits:          {base}/api/sites/demo/events?kind=parking.exit")
    print(f"[demo ] 停车费 / charges:          {base}/api/sites/demo/parking/charges")


DEMO_ADMIN = "admin"


DEMO_TOKEN_CREATOR = "demo"


async def revoke_demo_tokens(database_url: str) -> int:
    """Revoke every token the demo launcher made that is still usable; how many.

    Run when the demo stops, and before it makes a new one (a demo killed with SIGKILL could
    not clean up), so no admin token outlives the demo that used it.
    """
    from datetime import UTC, datetime

    from sqlalchemy import update

    from cloud.auth.tables import ApiToken
    from cloud.db.engine import make_engine, session_factory

    engine = make_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            done = await session.execute(
                update(ApiToken).where(ApiToken.created_by == DEMO_TOKEN_CREATOR,
                                       ApiToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC)))
            return int(getattr(done, "rowcount", 0) or 0)
    finally:
        await engine.dispose()


async def demo_credentials(database_url: str) -> tuple[str, str, str]:
    """The demo's admin account (created, or reused with a fresh password) and a token the
    launcher polls the API with: (username, password, token). Tokens of earlier demo runs
    are revoked first."""
    import secrets
    from datetime import UTC, datetime

    from sqlalchemy import select

    from cloud.auth.accounts import create_user
    from cloud.auth.passwords import hash_password
    from cloud.auth.tables import StaffUser
    from cloud.auth.tokens import create_token
    from cloud.db.engine import make_engine, migrate, session_factory

    password = secrets.token_urlsafe(9)
    now = datetime.now(UTC)
    await migrate(database_url)
    await revoke_demo_tokens(database_url)
    engine = make_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            user = (await session.scalars(select(StaffUser).where(
                StaffUser.username == DEMO_ADMIN))).one_or_none()
            if user is None:
                await create_user(session, username=DEMO_ADMIN, role="admin", password=password,
                                  now=now, display_name="演示管理员")
            else:
                user.password_hash = hash_password(password)
                user.active, user.locked_until, user.failed_logins = True, None, 0
                user.password_changed_at = user.updated_at = now
            _, token = await create_token(session, name="demo launcher", role="admin",
                                          site_ids=None, created_by=DEMO_TOKEN_CREATOR, now=now,
                                          expires_days=1)
    finally:
        await engine.dispose()
    return DEMO_ADMIN, password, token


async def _demo(site: Path, data: Path, http_port: int, speedup: float,
                fire_scenario: str | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    env = dict(os.environ)
    env.setdefault("COURTYARD_DATABASE_URL", f"sqlite+aiosqlite:///{data / 'cloud.db'}")
    env.setdefault("COURTYARD_HTTP_PORT", str(http_port))
    env.setdefault("COURTYARD_EDGE_DATA", str(data / "edge"))
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("COURTYARD_LOG_JSON", "0")  # the demo is read by a person
    # Demo mode: the demo site's well-known secret (configs/sites/demo.yaml) is accepted by
    # this console only; `courtyard cloud serve` on its own refuses it.
    env["COURTYARD_DEMO"] = "1"
    base = f"http://127.0.0.1:{env['COURTYARD_HTTP_PORT']}"
    parking = _parking_url(site, env)
    procs: list[tuple[str, asyncio.subprocess.Process]] = []
    started = time.monotonic()
    made_token = False
    try:
        print("[demo ] 启动云端控制台 / starting the cloud console …")
        procs.append(("cloud", await _start("cloud", ["cloud", "serve"], env)))
        async with aiohttp.ClientSession() as probe:
            if not await _wait_for(probe, f"{base}/healthz", 60, stop):
                print("[demo ] 控制台未能启动 / the console did not come up", file=sys.stderr)
                return 1
        made_token = True  # set first: a failure half-way still cleans up
        username, password, token = await demo_credentials(env["COURTYARD_DATABASE_URL"])
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            print("[demo ] 启动设备模拟器 / starting the simulated devices …")
            procs.append(("sim", await _start(
                "sim", ["sim", "site", str(site), "--speedup", str(speedup),
                        *_safety_args(site, env),
                        *(["--fire-scenario", fire_scenario] if fire_scenario else [])],
                       env)))
            await asyncio.sleep(2.0)
            print("[demo ] 启动边缘网关 / starting the edge …")
            procs.append(("edge", await _start("edge", ["edge", "run", str(site)], env)))

            shown = False
            exits_shown = parking is None
            while not stop.is_set():
                if not shown:
                    events = await _get_json(
                        session, f"{base}/api/sites/demo/events?kind=meter.reading&limit=1")
                    if isinstance(events, dict) and events.get("events"):
                        took = time.monotonic() - started
                        print(f"\n[demo ] 读数已到达控制台（{took:.0f} 秒）/ readings reached the "
                              f"console after {took:.0f} s")
                        print(f"[demo ] 控制台 / console:  {base}/")
                        print(f"[demo ] 登录 / log in:     {base}/login  用户名 username: "
                              f"{username}  密码 password: {password}")
                        print(f"[demo ] 接口 / API:        {base}/api/sites/demo/devices")
                        print(f"[demo ] 值班告警屏 / guard board: {base}/guard  (告警 / alarms: "
                              f"{base}/api/alarms)")
                        if parking is not None:
                            _print_parking(parking, base)
                        print("[demo ] 按 Ctrl-C 停止 / press Ctrl-C to stop\n")
                        shown = True
                elif not exits_shown:
                    exits = await _get_json(
                        session, f"{base}/api/sites/demo/events?kind=parking.exit&limit=1")
                    if isinstance(exits, dict) and exits.get("events"):
                        took = time.monotonic() - started
                        print(f"\n[demo ] 第一条出场记录已到达控制台（{took:.0f} 秒）/ the first "
                              f"parking exit reached the console after {took:.0f} s: "
                              f"{base}/api/sites/demo/events?kind=parking.exit\n")
                        exits_shown = True
                for name, proc in procs:
                    if proc.returncode is not None:
                        print(f"[demo ] {name} 已退出（{proc.returncode}）/ exited",
                              file=sys.stderr)
                        return 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        return 0
    finally:
        print("[demo ] 正在停止 / stopping …")
        for name, proc in reversed(procs):
            await _stop(name, proc)
        if made_token:
            try:
                await revoke_demo_tokens(env["COURTYARD_DATABASE_URL"])
            except Exception as exc:  # the processes are stopped; say so rather than hide it
                print(f"[demo ] 无法吊销演示令牌 / could not revoke the demo token: {exc!r}",
                      file=sys.stderr)
        print("[demo ] 已停止 / stopped")


def run_demo(site: Path | None = None, http_port: int = 8080, speedup: float = 60.0,
             fire_scenario: str | None = None) -> int:
    """Run the demo on ``site`` (default: the shipped demo site, which an installed package
    carries as data, so the demo works from any directory)."""
    site = site if site is not None else configs.path("sites", "demo.yaml")
    if not site.exists():
        print(f"找不到站点文件 / site file not found: {site}", file=sys.stderr)
        return 2
    data = Path(os.environ.get("COURTYARD_DEMO_DIR", "var/demo")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_demo(site, data, http_port, speedup, fire_scenario))
