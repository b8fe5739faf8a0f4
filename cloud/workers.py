"""``courtyard cloud serve --workers N``: N console processes on one port (issue 16 §4).

The parent migrates the database once, starts the managed broker once (when there is no
external one), then runs N children, each the whole console (``serve``: web, ingest on the
shared subscription, duties) listening on the same port with ``SO_REUSEPORT``, so the kernel
spreads connections over them. What the processes share is in the database (login limits,
import jobs, rule windows and timers, jobs and duty leases), so any of them may answer any
request.

The parent forwards SIGTERM/SIGINT to the children and waits for them (then stops the
broker), and restarts a child that dies, after a back-off that doubles up to
``MAX_BACKOFF_S`` and starts over once a child stayed up ``STABLE_S``. Children run in their
own process group, so a Ctrl-C at the terminal reaches them through the parent, in order.

SQLite has one writer: several processes would queue on its lock, so N > 1 is refused there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import structlog

from cloud.broker import ManagedMosquitto, cloud_secret
from cloud.db.engine import is_sqlite, migrate
from cloud.settings import Settings, SettingsError, ensure_database_dir

log = structlog.get_logger(__name__)

MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
#: A child that ran this long restarts with the shortest back-off again.
STABLE_S = 60.0
#: How long a child may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 30.0


class WorkersError(Exception):
    """A configuration that cannot run N processes; the message is zh-CN / English."""


def check_workers(settings: Settings, workers: int) -> None:
    if workers < 1:
        raise WorkersError("--workers 至少为 1 / --workers must be at least 1")
    if workers > 1 and is_sqlite(settings.database_url):
        raise WorkersError(
            "SQLite 只允许一个写入者，不能运行多个控制台进程：请使用 PostgreSQL "
            "（COURTYARD_DATABASE_URL）或去掉 --workers / SQLite has one writer and cannot "
            "serve several console processes: use PostgreSQL (COURTYARD_DATABASE_URL) or "
            "drop --workers")


def child_env(settings: Settings, broker_url: str | None) -> dict[str, str]:
    """The children's environment: the parent's, with the broker the parent runs (so no
    child starts its own) and the ingest on the shared subscription."""
    env = dict(os.environ)
    env["COURTYARD_INGEST_SHARED"] = "true"
    env["COURTYARD_HTTP_HOST"] = settings.http_host
    env["COURTYARD_HTTP_PORT"] = str(settings.http_port)
    if broker_url is not None:
        env["COURTYARD_MQTT_URL"] = broker_url
        env["COURTYARD_MQTT_USERNAME"] = settings.mqtt_username or ""
        env["COURTYARD_MQTT_PASSWORD"] = settings.mqtt_password or ""
    return env


@dataclass
class Child:
    index: int
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0


class Supervisor:
    """Runs and watches the children until ``stop`` is set."""

    def __init__(self, workers: int, env: Mapping[str, str], stop: asyncio.Event, *,
                 min_backoff: float = MIN_BACKOFF_S, max_backoff: float = MAX_BACKOFF_S
                 ) -> None:
        self.children = [Child(i) for i in range(workers)]
        self.env = dict(env)
        self.stop = stop
        self.min_backoff, self.max_backoff = min_backoff, max_backoff

    def pids(self) -> list[int]:
        return [c.proc.pid for c in self.children if c.proc is not None]

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for child in self.children:
                tg.create_task(self._keep(child))

    async def _spawn(self, child: Child) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cloud.workers", "--child", str(child.index),
            env=self.env, start_new_session=True)
        log.info("workers.child_started", worker=child.index, pid=proc.pid,
                 restarts=child.restarts)
        return proc

    async def _keep(self, child: Child) -> None:
        bound = log.bind(worker=child.index)
        backoff = self.min_backoff
        while not self.stop.is_set():
            proc = child.proc = await self._spawn(child)
            started = time.monotonic()
            stopping = asyncio.create_task(self.stop.wait())
            exited = asyncio.create_task(proc.wait())
            await asyncio.wait([stopping, exited], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if self.stop.is_set():
                await self._end(proc, exited, bound)
                return
            if time.monotonic() - started >= STABLE_S:
                backoff = self.min_backoff
            bound.error("workers.child_exited", pid=proc.pid, exit_code=proc.returncode,
                        restart_in=round(backoff, 2))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self.stop.wait()
            backoff = min(backoff * 2, self.max_backoff)
            child.restarts += 1

    async def _end(self, proc: asyncio.subprocess.Process, exited: asyncio.Task[int],
                   bound: structlog.typing.FilteringBoundLogger) -> None:
        """Forward the stop (SIGTERM), wait, kill if it does not stop in time."""
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await exited
        except TimeoutError:
            bound.error("workers.child_killed", pid=proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await exited
        bound.info("workers.child_stopped", pid=proc.pid, exit_code=proc.returncode)


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_workers(settings: Settings, workers: int,
                      stop: asyncio.Event | None = None) -> None:
    """The parent: migrate, the broker once, N children until SIGTERM/SIGINT or ``stop``."""
    check_workers(settings, workers)
    stop = stop or asyncio.Event()
    _install_signals(stop)
    ensure_database_dir(settings.database_url)
    await migrate(settings.database_url)  # once, before the children read the schema
    broker: ManagedMosquitto | None = None
    if settings.embedded_broker:
        broker_dir = settings.effective_data_dir / "mosquitto"
        settings = replace(settings,
                           mqtt_password=settings.mqtt_password or cloud_secret(broker_dir))
        broker = ManagedMosquitto(settings.broker_host, settings.broker_port,
                                  dict(settings.site_credentials), settings.mqtt_username or "",
                                  settings.mqtt_password or "", broker_dir)
        await broker.start()
        print(f"内置 MQTT 代理（Mosquitto）/ managed MQTT broker (Mosquitto): {broker.url}",
              flush=True)
    try:
        supervisor = Supervisor(
            workers, child_env(settings, None if broker is None else broker.url), stop)
        print(f"控制台进程 / console processes: {workers} "
              f"(http://{settings.http_host}:{settings.http_port}/)", flush=True)
        log.info("workers.started", workers=workers, embedded_broker=broker is not None)
        await supervisor.run()
    finally:
        if broker is not None:
            await broker.stop()
    print("已停止 / stopped", flush=True)


def _child(index: int) -> int:
    """One worker: the console (``serve``) sharing the port, its ingest client id its own."""
    from cloud.serve import main

    return main(["--worker-index", str(index)])


def _parse(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloud.workers")
    parser.add_argument("--child", type=int, required=True)
    return _child(parser.parse_args(argv).child)


if __name__ == "__main__":
    try:
        sys.exit(_parse(sys.argv[1:]))
    except SettingsError as exc:  # pragma: no cover - main() reports these itself
        print(f"配置错误 / configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
