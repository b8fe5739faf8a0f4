"""Real services for tests: Mosquitto and PostgreSQL (and brokers started per test).

`make test` (scripts/test.sh) makes sure a broker and a database are reachable and exports
COURTYARD_TEST_MQTT_URL / COURTYARD_TEST_PG_URL. Without them the defaults are the machine's
own services on 127.0.0.1. With CI=true a missing service fails the test instead of skipping.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, what: str) -> None:
    """Skip locally, fail in CI: no test is skipped in CI for a missing service."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required service missing in CI: {what}")
    pytest.skip(f"service not available: {what}")


#: Ports this process has handed out: the kernel may offer a just-closed port again, and a
#: test asking for three ports must get three different ones.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before by this process."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


def mqtt_url() -> str:
    url = os.environ.get("COURTYARD_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    u = urlparse(url)
    need(port_open(u.hostname or "127.0.0.1", u.port or 1883), f"MQTT broker at {url}")
    return url


def pg_admin_url() -> str:
    """asyncpg-style DSN of a PostgreSQL server where we may CREATE DATABASE."""
    url = os.environ.get("COURTYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    u = urlparse(url)
    need(port_open(u.hostname or "127.0.0.1", u.port or 5432), f"PostgreSQL at {url}")
    return url


def _psql_base(admin: str) -> list[str]:
    psql = shutil.which("psql") or ""
    need(bool(psql), "psql client")
    return [psql, "-v", "ON_ERROR_STOP=1", "-q", admin]


def _migrate_in_thread(url: str) -> None:
    """Run the console's migrations from sync code that may sit under a running loop."""
    import asyncio
    import threading

    from cloud.db.engine import migrate

    errors: list[BaseException] = []

    def work() -> None:
        try:
            asyncio.run(migrate(url))
        except BaseException as exc:  # re-raised below in the caller's thread
            errors.append(exc)

    t = threading.Thread(target=work, name="migrate-template")
    t.start()
    t.join()
    if errors:
        raise errors[0]


_templates: dict[str, str] = {}


def _migrated_pg_template(admin: str) -> str:
    """A PostgreSQL database migrated to head once per test process, to copy from.

    ``CREATE DATABASE … TEMPLATE`` copies it in a few milliseconds, where running the
    migrations for every test took about a second each.
    """
    if admin in _templates:
        return _templates[admin]
    u = urlparse(admin)
    name = f"cy_tpl_{uuid.uuid4().hex[:10]}"
    base = _psql_base(admin)
    subprocess.run([*base, "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    atexit.register(subprocess.run, [*base, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                    check=False, capture_output=True)
    _migrate_in_thread(f"postgresql+asyncpg://{u.netloc}/{name}")
    _templates[admin] = name
    return name


_sqlite_template: list[Path] = []


def migrated_sqlite_copy(target: Path) -> str:
    """A SQLite database at ``target`` already migrated to head (copied from a per-process
    template); its SQLAlchemy URL."""
    if not _sqlite_template:
        folder = Path(tempfile.mkdtemp(prefix="cy-sqlite-tpl-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / "template.db"
        _migrate_in_thread(f"sqlite+aiosqlite:///{template}")
        _sqlite_template.append(template)
    shutil.copyfile(_sqlite_template[0], target)
    return f"sqlite+aiosqlite:///{target}"


@contextmanager
def fresh_pg_database(migrated: bool = False) -> Iterator[str]:
    """Create a database for one test — empty, or already ``migrated`` to head (copied from a
    template) — and yield its SQLAlchemy asyncpg URL."""
    admin = pg_admin_url()
    u = urlparse(admin)
    name = f"cy_{uuid.uuid4().hex[:12]}"
    base = _psql_base(admin)
    create = f'CREATE DATABASE "{name}"'
    if migrated:
        create += f' TEMPLATE "{_migrated_pg_template(admin)}"'
    subprocess.run([*base, "-c", create], check=True, capture_output=True)
    try:
        netloc = u.netloc
        yield f"postgresql+asyncpg://{netloc}/{name}"
    finally:
        subprocess.run([*base, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                       check=False, capture_output=True)


@dataclass
class Mosquitto:
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    conf: Path
    log: Path

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def start(self) -> None:
        """(Re)start on the same port with the same config, keeping its persistence file."""
        self.proc = _spawn_mosquitto(self.conf, self.log)
        wait_port(self.host, self.port)

    def restart(self) -> None:
        self.stop()
        self.start()


def has_mosquitto() -> bool:
    return Path(shutil.which("mosquitto") or "/usr/sbin/mosquitto").exists()


def _spawn_mosquitto(conf: Path, log: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    need(Path(exe).exists(), "mosquitto binary")
    return subprocess.Popen([exe, "-c", str(conf)], stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


@contextmanager
def own_mosquitto(users: dict[str, str] | None = None, acl: str | None = None,
                  persistence: bool = True) -> Iterator[Mosquitto]:
    """Start a private Mosquitto on a free loopback port.

    ``users`` maps username → password (written with mosquitto_passwd); ``acl`` is the text of
    an ACL file (e.g. ``pattern write courtyard/v1/%u/up/#``). Anonymous access is refused when
    users are given.
    """
    d = Path(tempfile.mkdtemp(prefix="cy-mosq-"))
    os.chmod(d, 0o777)
    port = free_port()
    lines = [f"listener {port} 127.0.0.1", "max_queued_messages 100000",
             "max_inflight_messages 100"]
    if persistence:
        lines += ["persistence true", f"persistence_location {d}/",
                  "autosave_interval 1"]
    if users:
        pw = d / "passwd"
        pw.write_text("")
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True,
                           capture_output=True)
        os.chmod(pw, 0o644)
        lines += ["allow_anonymous false", f"password_file {pw}"]
    else:
        lines += ["allow_anonymous true"]
    if acl is not None:
        acl_file = d / "acl"
        acl_file.write_text(acl)
        os.chmod(acl_file, 0o644)
        lines += [f"acl_file {acl_file}"]
    conf = d / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    log = d / "mosquitto.log"
    m = Mosquitto("127.0.0.1", port, _spawn_mosquitto(conf, log), conf, log)
    try:
        wait_port(m.host, m.port)
        yield m
    finally:
        m.stop()
        shutil.rmtree(d, ignore_errors=True)
