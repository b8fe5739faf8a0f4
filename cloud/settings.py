"""Cloud console settings, read once from ``COURTYARD_*`` environment variables.

Everything but the site credentials has a default that makes ``courtyard cloud serve`` work
on a bare machine (SQLite file, a managed Mosquitto); production overrides them. There is no
shared default site secret: only ``courtyard demo`` (``COURTYARD_DEMO``) gets the demo site's
well-known one, and a console outside demo mode refuses to start with it or any secret shorter
than ``MIN_SITE_SECRET_LEN``. A bad value
stops start-up with an error naming the variable, instead of failing later somewhere deep.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import brokerurl
from contract.topics import SITE_RE

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/cloud/courtyard.db"
DEFAULT_BROKER_HOST = "127.0.0.1"
DEFAULT_BROKER_PORT = 18830
DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8080
#: The demo site's well-known credential: only in demo mode (``courtyard demo``).
DEMO_SITE_CREDENTIALS = "demo:demo-secret"
DEMO_SECRET = "demo-secret"
#: Outside demo mode a site secret must be at least this long (and not the demo's).
MIN_SITE_SECRET_LEN = 12
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_LOG_LEVEL = "INFO"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The cloud's own username on the managed broker. SITE_RE refuses a leading underscore, so
#: no site can ever be configured with this name.
DEFAULT_INGEST_USER = "_courtyard-cloud"

_INSTANCE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """An environment variable with a value we cannot use; ``variable`` names it."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    """Every environment variable the console reads, read here and nowhere else: the
    composition root (``cloud.serve``, ``cloud.app``) hands each feature what it needs.

    Variable → field (default):

    - ``COURTYARD_DATABASE_URL`` → database_url (SQLite file ``var/cloud/courtyard.db``)
    - ``COURTYARD_MQTT_URL`` → mqtt_url (unset: a managed Mosquitto on
      ``COURTYARD_BROKER_HOST``/``_PORT`` → broker_host/broker_port, 127.0.0.1:18830)
    - ``COURTYARD_MQTT_USERNAME``/``_PASSWORD`` → mqtt_username/mqtt_password (the URL's
      credential; with the managed broker ``_courtyard-cloud`` and a random password kept in
      the data dir)
    - ``COURTYARD_MQTT_CA`` → mqtt_ca (a CA file that signs an ``mqtts://`` broker's
      certificate; unset: the system's trust store)
    - ``COURTYARD_DATA_DIR`` → data_dir (unset: the SQLite file's folder, else ``var/cloud``;
      the managed broker keeps its config and sessions in ``mosquitto/`` below it)
    - ``COURTYARD_HTTP_HOST``/``_PORT`` → http_host/http_port (127.0.0.1:8080)
    - ``COURTYARD_SITE_CREDENTIALS`` → site_credentials (none; in demo mode
      ``demo:demo-secret``)
    - ``COURTYARD_DEMO`` → demo (false; set by ``courtyard demo``)
    - ``COURTYARD_INFLUX_URL``/``_TOKEN``/``_ORG``/``_BUCKET`` → influx_* (unset: no export)
    - ``COURTYARD_INGEST_SHARED`` → ingest_shared (false)
    - ``COURTYARD_INSTANCE`` → instance (None: the host's name alone; set it when two consoles
      share one host, so each keeps an ingest session of its own)
    - ``COURTYARD_TIMEZONE`` → timezone (Asia/Shanghai)
    - ``COURTYARD_COOKIE_SECURE`` → cookie_secure (false)
    - ``COURTYARD_LOGIN_MAX_FAILURES``/``_LOCKOUT_MINUTES`` → login_* (5 / 15)
    - ``COURTYARD_SESSION_IDLE_MINUTES``/``_MAX_HOURS`` → session_* (720 / 168)
    - ``COURTYARD_RULES`` → rules_path (unset: ``configs/rules/default.yaml``)
    - ``COURTYARD_ALARM_POLICY`` → alarm_policy_path (unset: the built-in policy)
    - ``COURTYARD_LOG_LEVEL`` → log_level (INFO); ``COURTYARD_LOG_JSON`` → log_json (false)
    - ``COURTYARD_COCKPIT_SHARE_MS`` → cockpit_share_ms (1000; 0 computes every cockpit
      request afresh)
    - ``COURTYARD_HTTP_MAX_IN_FLIGHT`` → max_in_flight (128 per process; beyond it a request
      is answered 503 ``overloaded`` at once; 0 turns the bound off)
    - ``COURTYARD_BLOB_DIR`` → blob_dir (unset: ``blobs/`` in the data dir; plate images)
    - ``COURTYARD_BLOB_S3_URL`` → blob_s3_url (``http(s)://host[:port]/bucket[/prefix]``: an
      S3-compatible store instead of the folder), with ``COURTYARD_BLOB_S3_ACCESS_KEY`` /
      ``_SECRET_KEY`` / ``_REGION`` → blob_s3_* (region ``us-east-1``)
    """

    database_url: str = DEFAULT_DATABASE_URL
    #: An external broker; None means the managed one on broker_host:broker_port.
    mqtt_url: str | None = None
    broker_host: str = DEFAULT_BROKER_HOST
    broker_port: int = DEFAULT_BROKER_PORT
    mqtt_username: str | None = DEFAULT_INGEST_USER
    mqtt_password: str | None = None
    #: CA file for an ``mqtts://`` broker with a private CA.
    mqtt_ca: str | None = None
    #: Where the console keeps files beside its database (None: see ``effective_data_dir``).
    data_dir: str | None = None
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int = DEFAULT_HTTP_PORT
    site_credentials: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: ``courtyard demo``: the demo site's well-known secret is allowed (and the default).
    demo: bool = False
    influx_url: str | None = None
    influx_token: str | None = None
    influx_org: str | None = None
    influx_bucket: str | None = None
    ingest_shared: bool = False
    instance: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    #: Session cookies only over HTTPS (set it when the console sits behind TLS).
    cookie_secure: bool = False
    #: Failed logins in a row that lock an account, and for how long.
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    #: A session ends after this long without a request, and this long after login at most.
    session_idle_minutes: int = 12 * 60
    session_max_hours: int = 7 * 24
    #: The work-order rules the console starts with: a YAML file or a folder of them (None:
    #: the shipped defaults). A version saved through the API replaces them.
    rules_path: str | None = None
    #: A YAML file overriding alarm severities and escalation (None: the built-in policy).
    alarm_policy_path: str | None = None
    log_level: str = DEFAULT_LOG_LEVEL
    #: One JSON object per log line, for log shippers (else lines a person reads).
    log_json: bool = False
    #: Cockpit requests for the same view within this many ms share one computation
    #: (cloud/cockpit/cache.py). 0 here, so an app built in code sees every change at once;
    #: ``from_env`` (the served console) defaults to 1000.
    cockpit_share_ms: int = 0
    #: Requests in flight per process before the excess is refused (cloud/web/shedding.py).
    #: 0 (no bound) here; ``from_env`` (the served console) defaults to 128.
    max_in_flight: int = 0
    #: The filesystem blob store's folder (None: ``effective_data_dir / "blobs"``).
    blob_dir: str | None = None
    #: An S3-compatible blob store (path-style URL with the bucket), its keys and region.
    blob_s3_url: str | None = None
    blob_s3_access_key: str | None = None
    blob_s3_secret_key: str | None = field(default=None, repr=False)
    blob_s3_region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable; raise SettingsError naming the first bad one."""
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name)
            return value.strip() if value is not None and value.strip() else None

        database_url = get("COURTYARD_DATABASE_URL") or DEFAULT_DATABASE_URL
        if "://" not in database_url:
            raise SettingsError("COURTYARD_DATABASE_URL",
                                "不是数据库 URL / not a database URL "
                                "(e.g. sqlite+aiosqlite:///var/cloud/courtyard.db)")
        mqtt_url = get("COURTYARD_MQTT_URL")
        external = _check_mqtt_url(mqtt_url) if mqtt_url is not None else None
        if mqtt_url is not None and external is not None:
            # tcp:// and ssl:// are read as mqtt:// and mqtts:// from here on.
            mqtt_url = external.scheme + mqtt_url[mqtt_url.index("://"):]
        broker_host = get("COURTYARD_BROKER_HOST") or DEFAULT_BROKER_HOST
        broker_port = _port(get("COURTYARD_BROKER_PORT"), "COURTYARD_BROKER_PORT",
                            DEFAULT_BROKER_PORT)
        # A credential in the URL (mqtts://user:pw@host) counts when the variables are unset.
        username = get("COURTYARD_MQTT_USERNAME") or (external.username if external else None)
        password = get("COURTYARD_MQTT_PASSWORD") or (external.password if external else None)
        if mqtt_url is None:
            # Managed broker: without a password set, serve makes one and keeps it in the
            # data dir (cloud.broker.cloud_secret).
            username = username or DEFAULT_INGEST_USER
        mqtt_ca = get("COURTYARD_MQTT_CA")
        if mqtt_ca is not None and not Path(mqtt_ca).is_file():
            raise SettingsError("COURTYARD_MQTT_CA",
                                f"找不到 CA 文件 / CA file not found: {mqtt_ca}")
        demo = _bool(get("COURTYARD_DEMO"), "COURTYARD_DEMO")
        http_host = get("COURTYARD_HTTP_HOST") or DEFAULT_HTTP_HOST
        http_port = _port(get("COURTYARD_HTTP_PORT"), "COURTYARD_HTTP_PORT", DEFAULT_HTTP_PORT)
        raw_creds = get("COURTYARD_SITE_CREDENTIALS")
        creds = parse_site_credentials(
            raw_creds if raw_creds is not None else (DEMO_SITE_CREDENTIALS if demo else ""))
        if username in creds:
            raise SettingsError("COURTYARD_MQTT_USERNAME",
                                f"与小区凭据重名 / same name as a site credential: {username}")
        influx_url = get("COURTYARD_INFLUX_URL")
        if influx_url is not None and urlparse(influx_url).scheme not in ("http", "https"):
            raise SettingsError("COURTYARD_INFLUX_URL",
                                "必须是 http(s):// 地址 / must be an http(s):// URL")
        timezone = get("COURTYARD_TIMEZONE") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError("COURTYARD_TIMEZONE",
                                f"未知时区 / unknown time zone {timezone!r} "
                                "(e.g. Asia/Shanghai)") from None
        return cls(
            database_url=database_url,
            mqtt_url=mqtt_url,
            broker_host=broker_host,
            broker_port=broker_port,
            mqtt_username=username,
            mqtt_password=password,
            mqtt_ca=mqtt_ca,
            data_dir=get("COURTYARD_DATA_DIR"),
            http_host=http_host,
            http_port=http_port,
            site_credentials=creds,
            demo=demo,
            influx_url=influx_url,
            influx_token=get("COURTYARD_INFLUX_TOKEN"),
            influx_org=get("COURTYARD_INFLUX_ORG"),
            influx_bucket=get("COURTYARD_INFLUX_BUCKET"),
            ingest_shared=_bool(get("COURTYARD_INGEST_SHARED"), "COURTYARD_INGEST_SHARED"),
            instance=_instance(get("COURTYARD_INSTANCE")),
            timezone=timezone,
            cookie_secure=_bool(get("COURTYARD_COOKIE_SECURE"), "COURTYARD_COOKIE_SECURE"),
            login_max_failures=_positive(get("COURTYARD_LOGIN_MAX_FAILURES"),
                                         "COURTYARD_LOGIN_MAX_FAILURES", 5),
            login_lockout_minutes=_positive(get("COURTYARD_LOGIN_LOCKOUT_MINUTES"),
                                            "COURTYARD_LOGIN_LOCKOUT_MINUTES", 15),
            session_idle_minutes=_positive(get("COURTYARD_SESSION_IDLE_MINUTES"),
                                           "COURTYARD_SESSION_IDLE_MINUTES", 12 * 60),
            session_max_hours=_positive(get("COURTYARD_SESSION_MAX_HOURS"),
                                        "COURTYARD_SESSION_MAX_HOURS", 7 * 24),
            rules_path=get("COURTYARD_RULES"),
            alarm_policy_path=get("COURTYARD_ALARM_POLICY"),
            log_level=_log_level(get("COURTYARD_LOG_LEVEL")),
            log_json=_bool(get("COURTYARD_LOG_JSON"), "COURTYARD_LOG_JSON"),
            cockpit_share_ms=_non_negative(get("COURTYARD_COCKPIT_SHARE_MS"),
                                           "COURTYARD_COCKPIT_SHARE_MS", 1000),
            max_in_flight=_non_negative(get("COURTYARD_HTTP_MAX_IN_FLIGHT"),
                                        "COURTYARD_HTTP_MAX_IN_FLIGHT", 128),
            blob_dir=get("COURTYARD_BLOB_DIR"),
            blob_s3_url=_s3_url(get("COURTYARD_BLOB_S3_URL"), get("COURTYARD_BLOB_S3_ACCESS_KEY"),
                                get("COURTYARD_BLOB_S3_SECRET_KEY")),
            blob_s3_access_key=get("COURTYARD_BLOB_S3_ACCESS_KEY"),
            blob_s3_secret_key=get("COURTYARD_BLOB_S3_SECRET_KEY"),
            blob_s3_region=get("COURTYARD_BLOB_S3_REGION") or "us-east-1",
        )

    @property
    def embedded_broker(self) -> bool:
        """No broker URL given: the console runs its own (a managed Mosquitto)."""
        return self.mqtt_url is None

    @property
    def effective_data_dir(self) -> Path:
        """``data_dir``, else the SQLite file's folder, else ``var/cloud``."""
        if self.data_dir:
            return Path(self.data_dir)
        path = sqlite_path(self.database_url)
        return path.parent if path is not None else Path("var/cloud")

    @property
    def effective_blob_dir(self) -> Path:
        """``blob_dir``, else ``blobs`` in the data dir."""
        return Path(self.blob_dir) if self.blob_dir else self.effective_data_dir / "blobs"

    def check_site_secrets(self) -> None:
        """Refuse the demo's well-known secret, and short ones, outside demo mode.

        Anyone who read the docs knows ``demo-secret``: with it a stranger could publish as
        the site (events that feed bills and alarms) and pull its parking data.
        """
        if self.demo:
            return
        for site, secret in self.site_credentials.items():
            if secret == DEMO_SECRET or len(secret) < MIN_SITE_SECRET_LEN:
                raise SettingsError(
                    "COURTYARD_SITE_CREDENTIALS",
                    f"小区 {site} 的密码是演示密码或短于 {MIN_SITE_SECRET_LEN} 个字符，控制台未启动"
                    f"（演示请用 courtyard demo）/ the secret of site {site} is the demo secret "
                    f"or shorter than {MIN_SITE_SECRET_LEN} characters; the console did not "
                    "start (use courtyard demo for a demo)")

    @property
    def effective_mqtt_url(self) -> str:
        """Where ingest connects: the external broker, or the embedded one."""
        return self.mqtt_url or f"mqtt://{self.broker_host}:{self.broker_port}"

    @property
    def influx_enabled(self) -> bool:
        return self.influx_url is not None

    def with_http(self, host: str | None = None, port: int | None = None) -> Settings:
        """A copy with the command line's --host/--port applied."""
        return replace(self, http_host=host or self.http_host,
                       http_port=self.http_port if port is None else port)


def parse_site_credentials(raw: str) -> dict[str, str]:
    """``site:secret,site2:secret2`` → {site: secret}; the site is its MQTT username."""
    creds: dict[str, str] = {}
    for i, item in enumerate(p.strip() for p in raw.split(",")):
        if not item:
            continue
        site, sep, secret = item.partition(":")
        site = site.strip()
        if not sep or not secret:
            raise SettingsError("COURTYARD_SITE_CREDENTIALS",
                                f"第 {i + 1} 项缺少密码 / entry {i + 1} needs site:secret")
        if not SITE_RE.match(site):
            raise SettingsError("COURTYARD_SITE_CREDENTIALS",
                                f"小区标识无效 / invalid site slug {site!r} "
                                "(a-z, 0-9, - and _, at most 63)")
        if site in creds:
            raise SettingsError("COURTYARD_SITE_CREDENTIALS",
                                f"小区重复 / site listed twice: {site}")
        creds[site] = secret
    return creds


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory or other databases)."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def ensure_database_dir(url: str) -> None:
    """Create the folder of a SQLite file, so the default works from a fresh checkout."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _check_mqtt_url(url: str) -> brokerurl.BrokerURL:
    try:
        return brokerurl.parse(url, aliases=True)  # tcp:// and ssl:// as always
    except brokerurl.BrokerURLError as exc:
        raise SettingsError("COURTYARD_MQTT_URL",
                            f"{exc.zh}（形如 mqtt://主机:端口）/ {exc.en} "
                            "(like mqtt://host:port)") from None


def _s3_url(url: str | None, access_key: str | None, secret_key: str | None) -> str | None:
    """``COURTYARD_BLOB_S3_URL`` checked: http(s), a bucket in the path, both keys set."""
    if url is None:
        return None
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.strip("/"):
        raise SettingsError("COURTYARD_BLOB_S3_URL",
                            "须为 http(s)://主机[:端口]/存储桶[/前缀] / must be "
                            "http(s)://host[:port]/bucket[/prefix]")
    for name, value in (("ACCESS_KEY", access_key), ("SECRET_KEY", secret_key)):
        if not value:
            raise SettingsError(f"COURTYARD_BLOB_S3_{name}",
                                "设置了 COURTYARD_BLOB_S3_URL 时必填 / required with "
                                "COURTYARD_BLOB_S3_URL")
    return url


def _port(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(name, f"不是整数 / not an integer: {raw!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(name, f"端口须在 0–65535 / port must be 0–65535, got {port}")
    return port


def _positive(raw: str | None, name: str, default: int) -> int:
    return _integer(raw, name, default, 1, "须为正整数 / must be a positive integer")


def _non_negative(raw: str | None, name: str, default: int) -> int:
    return _integer(raw, name, default, 0, "不能为负数 / must not be negative")


def _integer(raw: str | None, name: str, default: int, least: int, why: str) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"不是整数 / not an integer: {raw!r}") from None
    if value < least:
        raise SettingsError(name, f"{why}, got {value}")
    return value


def _instance(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not _INSTANCE_RE.fullmatch(raw):
        raise SettingsError("COURTYARD_INSTANCE", "须为 1–32 个字母、数字、- 或 _ / must be 1-32 "
                            "letters, digits, '-' or '_'")
    return raw


def _log_level(raw: str | None) -> str:
    level = (raw or DEFAULT_LOG_LEVEL).upper()
    if level not in LOG_LEVELS:
        raise SettingsError("COURTYARD_LOG_LEVEL",
                            f"未知日志级别 / unknown log level {raw!r} "
                            f"(one of {', '.join(LOG_LEVELS)})")
    return level


def _bool(raw: str | None, name: str) -> bool:
    value = (raw or "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(name, f"应为 true 或 false / expected true or false, got {raw!r}")
