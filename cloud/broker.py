"""The console's own Mosquitto, for installs that name no broker (``COURTYARD_MQTT_URL`` unset).

``courtyard cloud serve`` starts ``/usr/sbin/mosquitto`` as a child process with a generated
config: a loopback-only listener, logins required (one per site, the site's slug as username,
plus the console's own), and the Courtyard ACL (``cloud.mosquitto_acl``), which Mosquitto also
applies to Last Wills and retained messages. Its files live in the console's data dir
(``COURTYARD_DATA_DIR``/mosquitto), written 0600 and run as the console's own user; sessions
persist there, so an edge's queued acks survive a broker restart. If the broker dies it is
logged and started again (the back-off doubles from 0.5 s to 10 s and resets once it has
stayed up a minute); it is stopped with the console (SIGTERM, then SIGKILL after a timeout).
A broker left running by a console that was killed (SIGKILL leaves no time to stop it) is found
by its pid file at the next start and stopped, so it cannot hold the port with old logins.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from cloud.mosquitto_acl import acl_text, conf_text, password_file_text

log = structlog.get_logger(__name__)

MOSQUITTO_PATH = "/usr/sbin/mosquitto"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
#: A broker that stayed up this long restarts with the shortest back-off again.
STABLE_AFTER_S = 60.0


class BrokerError(OSError):
    """The managed broker cannot run (missing program, busy port, bad config)."""


def find_mosquitto() -> str:
    """The mosquitto program: on PATH, else the Debian location; a clear error otherwise."""
    found = shutil.which("mosquitto") or (MOSQUITTO_PATH if os.access(MOSQUITTO_PATH, os.X_OK)
                                          else None)
    if found is None:
        raise BrokerError(
            "找不到 Mosquitto：请安装 Debian 软件包 mosquitto（apt-get install mosquitto），"
            "或用 COURTYARD_MQTT_URL 指定外部代理 / Mosquitto not found: install the Debian "
            "package mosquitto (apt-get install mosquitto), or set COURTYARD_MQTT_URL to an "
            "external broker")
    return found


def cloud_secret(directory: Path) -> str:
    """The console's own broker password, made once and kept in ``directory`` (0600), so the
    ingest's persistent session keeps its name across console restarts."""
    path = directory / "cloud.secret"
    with contextlib.suppress(FileNotFoundError):
        secret = path.read_text().strip()
        if len(secret) >= 24:
            return secret
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(24)
    _write_private(path, secret + "\n")
    return secret


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by this user only (created 0600, never briefly wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def write_config(directory: Path, host: str, port: int, users: Mapping[str, str],
                 ingest_user: str) -> Path:
    """Write mosquitto.conf, the password file and the ACL into ``directory``; the conf path."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    passwd, acl = directory / "passwd", directory / "acl"
    _write_private(passwd, password_file_text(users))
    _write_private(acl, acl_text([ingest_user]))
    conf = directory / "mosquitto.conf"
    # ``user``: as root Mosquitto would switch to user "mosquitto", which cannot read these
    # 0600 files; it runs as the console's user instead (ignored when not root).
    _write_private(conf, conf_text(
        port=port, host=host, password_file=str(passwd), acl_file=str(acl),
        persistence_dir=str(directory), user=pwd.getpwuid(os.geteuid()).pw_name,
        log_file=str(directory / "mosquitto.log")))
    return conf


class ManagedMosquitto:
    """A private Mosquitto on ``host:port`` for the given site credentials, supervised."""

    def __init__(self, host: str, port: int, credentials: Mapping[str, str], ingest_user: str,
                 ingest_password: str, directory: Path, *, min_backoff: float = 0.5,
                 max_backoff: float = 10.0, stop_timeout: float = STOP_TIMEOUT_S) -> None:
        if ingest_user in credentials:
            raise ValueError(f"ingest user {ingest_user!r} collides with a site credential")
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"the managed broker listens on loopback only, not {host!r}")
        self.host = host
        self.port = port
        self.directory = directory
        self._users = {**credentials, ingest_user: ingest_password}
        self._ingest_user = ingest_user
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self._stop_timeout = stop_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = False
        self._stopping = False
        self._drain: asyncio.Task[None] | None = None
        self.restarts = 0
        self._log = log.bind(host=host, port=port)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def running(self) -> bool:
        """Started, accepting connections, and not exited since."""
        return self._ready and self.pid is not None

    @property
    def log_file(self) -> Path:
        return self.directory / "mosquitto.log"

    def status(self) -> dict[str, Any]:
        """The ``broker`` part of /healthz."""
        return {"ok": self.running, "managed": True, "pid": self.pid, "address": self.address,
                "restarts": self.restarts}

    @property
    def _pid_file(self) -> Path:
        return self.directory / "mosquitto.pid"

    def _leftover_pid(self) -> int | None:
        """The pid of a broker a killed console left behind: its pid file names a live
        process whose command line holds our config path (else the pid was reused)."""
        try:
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.directory / "mosquitto.conf").encode() in cmdline else None

    async def _stop_leftover(self) -> None:
        pid = self._leftover_pid()
        if pid is None:
            return
        self._log.warning("broker.leftover_stopped", pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        while self._leftover_pid() == pid and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self._leftover_pid() == pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def start(self) -> None:
        if self._supervisor is not None:
            return
        self._stopping = False
        self._exe = find_mosquitto()
        await self._stop_leftover()
        self._conf = write_config(self.directory, self.host, self.port, self._users,
                                  self._ingest_user)
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="mosquitto-supervisor")
        self._log.info("broker.started", pid=self.pid, sites=sorted(
            u for u in self._users if u != self._ingest_user))

    def _check_port_free(self) -> None:
        """Another program on our port would answer for Mosquitto: refuse to start instead."""
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.port))
            except OSError as exc:
                raise BrokerError(
                    f"Mosquitto 无法监听 {self.address}（端口被占用）/ Mosquitto cannot listen "
                    f"on {self.address} (port in use): {exc.strerror}") from None

    async def _spawn(self) -> None:
        """Start the process and wait until it accepts connections (or say why not)."""
        self._ready = False
        self._check_port_free()
        proc = await asyncio.create_subprocess_exec(
            self._exe, "-c", str(self._conf), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        self._proc = proc
        _write_private(self._pid_file, f"{proc.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.returncode is not None or time.monotonic() > deadline:
                reason = await self._why(proc)
                if proc.returncode is None:
                    await self._terminate(proc)
                raise BrokerError(
                    f"Mosquitto 未能在 {self.address} 启动（端口被占用？）/ Mosquitto did not "
                    f"start on {self.address} (port in use?): {reason}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            break
        self._ready = True
        self._drain = asyncio.create_task(self._drain_stderr(proc))

    async def _why(self, proc: asyncio.subprocess.Process) -> str:
        err = b""
        if proc.returncode is not None and proc.stderr is not None:
            with contextlib.suppress(Exception):
                err = await asyncio.wait_for(proc.stderr.read(4000), 1.0)
        text = err.decode(errors="replace").strip() or self._log_tail()
        return f"exit {proc.returncode}: {text[-800:]}"

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        return ""

    @staticmethod
    async def _drain_stderr(proc: asyncio.subprocess.Process) -> None:
        # Mosquitto logs to its file; anything on stderr is read so the pipe never fills.
        if proc.stderr is not None:
            with contextlib.suppress(Exception):
                while await proc.stderr.read(4096):
                    pass

    async def _supervise(self) -> None:
        """Restart the broker whenever it exits unasked."""
        backoff = self._min_backoff
        while True:
            proc = self._proc
            assert proc is not None
            up_since = time.monotonic()
            code = await proc.wait()
            self._ready = False
            if self._stopping:
                return
            if time.monotonic() - up_since > STABLE_AFTER_S:
                backoff = self._min_backoff
            self._log.error("broker.exited", exit_code=code, restart_in=round(backoff, 2),
                            log_tail=self._log_tail()[-500:])
            while True:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                try:
                    await self._spawn()
                except (BrokerError, OSError) as exc:
                    self._log.error("broker.restart_failed", error=str(exc)[:500])
                    continue
                self.restarts += 1
                self._log.warning("broker.restarted", pid=self.pid, restarts=self.restarts)
                break

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), self._stop_timeout)
        except TimeoutError:
            self._log.warning("broker.stop_timeout", note="killed")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def stop(self) -> None:
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        proc, self._proc = self._proc, None
        self._ready = False
        if proc is not None:
            await self._terminate(proc)
            self._log.info("broker.stopped", exit_code=proc.returncode)
