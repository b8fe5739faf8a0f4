"""``courtyard cloud serve``: one process with the database, broker, ingest, dataset sync,
telemetry and web.

Everything runs under one TaskGroup so a part that dies takes the process down loudly instead
of leaving a console that looks alive but no longer ingests. Parts start in dependency order
(broker before ingest, ingest before the web page announces itself) and stop in reverse, so a
SIGTERM never drops a batch half-way: ingest stops before the broker it acks through. The
sync publisher (``down/sync`` announcements of dataset versions) has its own MQTT connection
with the ingest worker's credential; it stops after the web, and a version it had no time to
announce is announced again from the database when it next connects. The alarm escalation
loop, SLA checks, PM generation and the schedule tick are duties (``cloud.jobs.duties``):
every console runs them, one takes each tick; the job runner (bill runs, reminders, late fees,
purge) runs with the web app. The live alarm feed's hub runs with the web app. The event rules
follow the newest version saved through the API (``cloud.rules.store.run_reload``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import hmac
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

import brokerurl
from cloud.alarms import AlarmPolicyError, load_policy
from cloud.alarms.routes import configure_alarms
from cloud.app import REGISTRY, create_app
from cloud.blobs import close_store
from cloud.broker import ManagedMosquitto, cloud_secret
from cloud.commands.link import CommandLink
from cloud.commands.routes import configure_commands
from cloud.db.engine import is_sqlite, make_engine, migrate, session_factory
from cloud.ingest import Ingestor
from cloud.ingest.worker import IngestWorker
from cloud.jobs.claim import owner_id
from cloud.jobs.console.duty_set import console_duties
from cloud.jobs.runner import JOB_RUNNER
from cloud.log import configure_logging
from cloud.parking.routes import configure_parking
from cloud.parking.sync import SyncPublisher
from cloud.rules.evaluate import RuleEngine
from cloud.rules.handlers import run_workorder_timers
from cloud.rules.load import RulesError, default_rules, load_rules
from cloud.rules.model import RuleSet
from cloud.rules.store import run_reload
from cloud.settings import Settings, SettingsError, ensure_database_dir
from cloud.web.keys import BLOBS
from contract import Clock, SystemClock

if TYPE_CHECKING:
    from cloud.sites.telemetry import TelemetryExporter

log = structlog.get_logger(__name__)

STOP_PART_TIMEOUT_S = 15.0


def _say(text: str) -> None:
    """Operator-facing lines go to stdout (logs go to stderr), zh-CN first."""
    print(text, flush=True)


async def _hold(start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]],
                started: asyncio.Event) -> None:
    """Start a part, keep it up until cancelled, then stop it."""
    await start()
    started.set()
    try:
        await asyncio.Event().wait()
    finally:
        async with asyncio.timeout(STOP_PART_TIMEOUT_S):
            await stop()


def _host_port(url: str) -> str:
    """An MQTT URL without its credentials, for logs and /healthz."""
    return brokerurl.parse(url).address


def ingest_client_id(password: str | None, shared: bool, worker: int | None = None,
                     instance: str | None = None) -> str:
    """The ingest's MQTT client id: stable (its persistent session survives restarts) yet
    unguessable without the console's broker password, so no site can take the ingest's
    session over by connecting with the same id (Mosquitto lets a logged-in client replace a
    session of the same id). Each worker of ``serve --workers N`` has its own, by its index
    rather than its pid, so a restarted worker takes up its predecessor's session; two
    consoles on one host are told apart by ``COURTYARD_INSTANCE``."""
    base = f"courtyard-ingest-{socket.gethostname()[:40]}" if shared else "courtyard-ingest"
    if instance:
        base += f"-{instance}"
    if worker is not None:
        base += f"-w{worker}"
    if not password:
        return base
    tag = hmac.new(password.encode(), b"courtyard ingest client id", hashlib.sha256)
    return f"{base}-{tag.hexdigest()[:16]}"


def _install_signals(stop: asyncio.Event) -> list[signal.Signals]:
    if threading.current_thread() is not threading.main_thread():
        return []
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    return installed


async def serve(settings: Settings, ready: asyncio.Event | None = None, *,
                stop: asyncio.Event | None = None, clock: Clock | None = None,
                worker_index: int | None = None, own_process: bool = False) -> None:
    """Run the console until SIGINT/SIGTERM, ``stop`` is set, or the task is cancelled.

    ``own_process``: the console is this process's only work (the CLI), so what start-up
    allocated is frozen out of the cyclic collector's view (``settle_heap``).

    ``worker_index``: this is that worker of ``serve --workers N`` (``cloud.workers``): it shares
    the port with the others (``SO_REUSEPORT``) and has an ingest client id of its own."""
    clock = clock or SystemClock()
    stop = stop or asyncio.Event()
    settings.check_site_secrets()
    alarm_policy = load_policy(settings.alarm_policy_path)  # None: the built-in policy
    rules = RuleEngine(startup_rules(settings), clock, shared=True)  # state in the database
    ensure_database_dir(settings.database_url)
    await migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    broker: ManagedMosquitto | None = None
    if settings.embedded_broker:
        broker_dir = settings.effective_data_dir / "mosquitto"
        settings = replace(settings,
                           mqtt_password=settings.mqtt_password or cloud_secret(broker_dir))
        broker = ManagedMosquitto(settings.broker_host, settings.broker_port,
                                  dict(settings.site_credentials), settings.mqtt_username or "",
                                  settings.mqtt_password or "", broker_dir)
    shared = settings.ingest_shared
    app = create_app(settings, sessions, clock, status=lambda: status(),
                     alarm_policy=alarm_policy, rules=rules)
    worker = IngestWorker(settings.effective_mqtt_url, settings.mqtt_username,
                          settings.mqtt_password,
                          Ingestor(sessions, clock, app[REGISTRY], blobs=app[BLOBS]), clock,
                          client_id=ingest_client_id(settings.mqtt_password, shared,
                                                     worker_index, settings.instance),
                          shared=shared, ca_file=settings.mqtt_ca,
                          store_concurrency=1 if is_sqlite(settings.database_url) else 4)
    publisher = SyncPublisher(settings.effective_mqtt_url, settings.mqtt_username,
                              settings.mqtt_password, sessions=sessions,
                              ca_file=settings.mqtt_ca)
    # Commands to the edges (down/cmd) and their replies (up/cmd-reply), same credential.
    commands = CommandLink(settings.effective_mqtt_url, settings.mqtt_username,
                           settings.mqtt_password, sessions, clock, shared=shared,
                           ca_file=settings.mqtt_ca)
    exporter: TelemetryExporter | None = None
    if settings.influx_enabled:
        # Imported only when configured: the InfluxDB client is slow to import.
        from cloud.sites.telemetry import TelemetryExporter

        exporter = TelemetryExporter(sessions, settings.influx_url or "",
                                     settings.influx_token or "", settings.influx_org or "",
                                     settings.influx_bucket or "", clock=clock)

    def status() -> Mapping[str, Mapping[str, Any]]:
        out: dict[str, dict[str, Any]] = {
            "broker": ({**broker.status(), "embedded": True}
                       if broker is not None else
                       {"ok": worker.connected, "embedded": False,
                        "address": _host_port(settings.effective_mqtt_url)}),
            "ingest": {"ok": worker.connected, "connected": worker.connected,
                       "counters": worker.counters},
            "sync": publisher.status(),
            "commands": commands.status(),
            "alarms": {"ok": hub.ready, "listening": hub.ready,
                       "subscribers": hub.subscribers, "counters": dict(hub.counters)},
        }
        if exporter is not None:
            out["telemetry"] = {"ok": True, "counters": dict(exporter.counters)}
        return out

    configure_parking(app, settings.site_credentials, publisher)
    configure_commands(app, commands)
    hub = configure_alarms(app)  # the web app runs the live feed's hub
    runner = web.AppRunner(app, access_log=None, handle_signals=False)

    def wake_jobs() -> None:  # the job runner starts with the web app (cloud.jobs)
        if (jobs := app.get(JOB_RUNNER)) is not None:
            jobs.wake()

    async def web_start() -> None:
        await runner.setup()
        await web.TCPSite(runner, settings.http_host, settings.http_port,
                          reuse_port=True if worker_index is not None else None).start()

    signals = _install_signals(stop)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.TaskGroup() as tg:
            if broker is not None:
                up = asyncio.Event()
                tasks.append(tg.create_task(_hold(broker.start, broker.stop, up)))
                await up.wait()
                _say(f"内置 MQTT 代理（Mosquitto）/ managed MQTT broker (Mosquitto): {broker.url} "
                     f"(小区 sites: {', '.join(sorted(settings.site_credentials)) or '-'})")
            tasks.append(tg.create_task(worker.run()))
            tasks.append(tg.create_task(publisher.run()))
            tasks.append(tg.create_task(commands.run()))
            if exporter is not None:
                tasks.append(tg.create_task(exporter.run()))
            tasks.append(tg.create_task(run_workorder_timers(sessions, clock, rules)))
            # Escalation, SLA checks, PM generation, schedules: each tick taken by one console.
            owner = owner_id()
            for duty in console_duties(sessions, clock, alarm_policy, hub, wake_jobs):
                tasks.append(tg.create_task(duty.run(sessions, clock, owner)))
            # Rules edited through the API (newest stored version) replace the file's.
            tasks.append(tg.create_task(run_reload(sessions, rules, clock)))
            up = asyncio.Event()
            tasks.append(tg.create_task(_hold(web_start, runner.cleanup, up)))
            await up.wait()
            url = f"http://{settings.http_host}:{settings.http_port}/"
            _say(f"控制台已启动 / console running: {url}")
            _say(f"接口文档 / API: {url}api/openapi.json")
            log.info("serve.started", http=url, mqtt=_host_port(settings.effective_mqtt_url),
                     embedded_broker=broker is not None, influx=exporter is not None)
            if own_process:
                settle_heap()
            if ready is not None:
                ready.set()
            await stop.wait()
            _say("正在停止 / stopping …")
            for task in reversed(tasks):  # web, telemetry, sync, ingest, then the broker
                task.cancel()
                await asyncio.wait([task])
    finally:
        loop = asyncio.get_running_loop()
        for sig in signals:
            loop.remove_signal_handler(sig)
        await close_store(app[BLOBS])  # an S3 store's HTTP session
        await engine.dispose()
    _say("已停止 / stopped")


def settle_heap() -> None:
    """Move what start-up allocated (modules, mappers, compiled statements) out of the cyclic
    collector's view (``gc.freeze``). Otherwise every full collection walks those hundreds of
    thousands of objects: measured ~100 ms pauses every few seconds under the read benchmark,
    which were the console's p99, cut to ~6 ms. The young generation is also collected less
    often (every 20,000 net allocations, not 700): a batch of readings allocates far more than
    700 objects that reference counting frees anyway (backlog drain +6 %)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def startup_rules(settings: Settings) -> RuleSet:
    """``COURTYARD_RULES`` (a rule file or a folder of them), else the shipped defaults."""
    path = settings.rules_path
    return load_rules(path) if path else default_rules()


def main(argv: list[str]) -> int:
    """CLI entry (``courtyard cloud serve [--host H] [--port P] [--workers N]``); returns the
    exit code."""
    parser = argparse.ArgumentParser(prog="courtyard cloud serve",
                                     description="启动控制台 / serve the cloud console")
    parser.add_argument("--host", help="HTTP 监听地址 / HTTP listen address")
    parser.add_argument("--port", type=int, help="HTTP 端口 / HTTP port")
    parser.add_argument("--workers", type=int, default=1,
                        help="控制台进程数（共用端口，需 PostgreSQL）/ console processes "
                             "sharing the port (needs PostgreSQL)")
    parser.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)  # cloud.workers
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env().with_http(args.host, args.port)
        settings.check_site_secrets()
    except SettingsError as exc:
        print(f"配置错误 / configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_json)
    try:
        if args.workers != 1:
            from cloud.workers import WorkersError, check_workers, run_workers

            try:
                check_workers(settings, args.workers)
            except WorkersError as exc:
                print(f"配置错误 / configuration error: {exc}", file=sys.stderr)
                return 2
            asyncio.run(run_workers(settings, args.workers))
        else:
            asyncio.run(serve(settings, worker_index=args.worker_index, own_process=True))
    except KeyboardInterrupt:
        return 0
    except AlarmPolicyError as exc:
        print(f"告警规则文件错误 / alarm policy error: {exc}", file=sys.stderr)
        return 2
    except RulesError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("工单规则有误，控制台未启动（COURTYARD_RULES）/ the work-order rules were refused, "
              "the console did not start (COURTYARD_RULES)", file=sys.stderr)
        return 2
    except (OSError, ExceptionGroup) as exc:
        problems = _os_errors(exc)
        if not problems:
            raise
        for err in problems:
            print(f"无法启动：端口被占用或无法连接 / cannot start (port in use or unreachable): "
                  f"{err}", file=sys.stderr)
        return 1
    return 0


def _os_errors(exc: BaseException) -> list[OSError]:
    """The OSErrors (busy port, unreachable database) inside a possibly nested group."""
    if isinstance(exc, OSError):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        return [e for sub in exc.exceptions for e in _os_errors(sub)]
    return []
