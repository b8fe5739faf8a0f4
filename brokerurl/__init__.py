"""The one reader of MQTT broker URLs (``mqtt://user:pw@host:1883``), for the edge and the cloud.

Every part that connects to a broker (the edge's uplink, the console's ingest worker and sync
publisher, the console's settings and the site file's schema) reads the URL here, so they agree
on what a URL means: ``mqtt`` is plain TCP (port 1883 unless given), ``mqtts`` is TLS (8883);
a username and password in the URL are percent-decoded (``%40`` → ``@``). A URL we cannot use
raises ``BrokerURLError`` naming the part that is wrong, instead of a connection failing later
to some default host. Depends on nothing of ours, so both sides may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["ALIASES", "DEFAULT_PORTS", "SCHEMES", "BrokerURL", "BrokerURLError", "parse"]

#: Scheme → default port. ``mqtts`` means TLS.
DEFAULT_PORTS: dict[str, int] = {"mqtt": 1883, "mqtts": 8883}
SCHEMES: tuple[str, ...] = tuple(DEFAULT_PORTS)
#: Older spellings the console has always accepted in COURTYARD_MQTT_URL (paho's own names).
ALIASES: dict[str, str] = {"tcp": "mqtt", "ssl": "mqtts"}


class BrokerURLError(ValueError):
    """A broker URL we cannot use; ``part`` names what is wrong (scheme, host, port, path).

    ``zh`` and ``en`` are predicates ("needs a port") so a caller can prefix its own name for
    the URL (``"cloud.mqtt_url" needs a port``); ``str()`` is both, zh-CN first. The URL's
    password never appears in the message.
    """

    def __init__(self, part: str, zh: str, en: str) -> None:
        super().__init__(f"MQTT 地址{zh} / MQTT URL {en}")
        self.part = part
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class BrokerURL:
    """Where and how to connect. ``password`` stays out of ``repr`` (logs)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return "mqtts" if self.tls else "mqtt"

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 in brackets), for logs and status pages: no credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        """The URL without its credentials."""
        return f"{self.scheme}://{self.address}"


def parse(url: str, *, require_port: bool = False, aliases: bool = False) -> BrokerURL:
    """Read ``url``; with ``require_port`` a missing port is an error, not the default; with
    ``aliases`` the older ``tcp://`` and ``ssl://`` spellings are read as mqtt and mqtts.

    Raises BrokerURLError naming the bad part.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" of an IPv6 address
        raise BrokerURLError("host", "主机无效", "has an invalid host") from None
    scheme = parts.scheme.lower()
    if aliases:
        scheme = ALIASES.get(scheme, scheme)
    if scheme not in DEFAULT_PORTS:
        raise BrokerURLError("scheme", "须以 mqtt:// 或 mqtts:// 开头",
                             "must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise BrokerURLError("host", "缺少主机", "needs a host")
    try:
        port = parts.port
    except ValueError:
        raise BrokerURLError("port", "端口无效（1–65535）",
                             "has an invalid port (1–65535)") from None
    if port is None:
        if require_port or parts.netloc.endswith(":"):
            raise BrokerURLError("port", "缺少端口", "needs a port")
        port = DEFAULT_PORTS[scheme]
    elif port == 0:
        raise BrokerURLError("port", "端口无效（1–65535）", "has an invalid port (1–65535)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerURLError("path", "不能带路径、查询或片段",
                             "must not have a path, query or fragment")
    return BrokerURL(
        host=parts.hostname,
        port=port,
        tls=scheme == "mqtts",
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
    )
