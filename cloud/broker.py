"""The embedded MQTT broker for a single-site install (amqtt, MQTT 3.1.1 only).

Production uses Mosquitto or another clustered broker; this one exists so ``courtyard cloud
serve`` works with nothing else installed. It enforces the same rules as the production ACL
(DESIGN §2 security): every client logs in (amqtt drops the persistent session of anonymous
clients, and the edge relies on its session to get acks it missed), a site publishes only under
``courtyard/v1/{site}/up/#`` and reads only ``courtyard/v1/{site}/down/#``, and the cloud's own
credential may do both for every site.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field

import structlog
from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from contract.topics import PREFIX

log = structlog.get_logger(__name__)

_PREFIX_PARTS = PREFIX.split("/")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def site_may(site: str, topic: str, action: Action) -> bool:
    """May the site with this username ``action`` on ``topic`` (a name or a filter)?

    Publishing goes only to the site's own ``up/…``; subscribing and receiving only from its
    own ``down/…``. Wildcards are allowed below ``down/`` only, so ``courtyard/v1/+/down/#``
    (every site's commands) is refused.
    """
    parts = topic.split("/")
    if len(parts) < 5 or parts[:2] != _PREFIX_PARTS or parts[2] != site:
        return False
    direction = "up" if action == Action.PUBLISH else "down"
    return parts[3] == direction


def cloud_may(topic: str) -> bool:
    """The cloud's credential works on every site's topics, and nothing else."""
    parts = topic.split("/")
    if parts[:1] == ["$share"] and len(parts) > 2:
        parts = parts[2:]
    return len(parts) >= 3 and parts[:2] == _PREFIX_PARTS


class SiteAuthPlugin(BaseAuthPlugin):
    """Username/password login; the username of a site is its slug."""

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._users: dict[str, str] = dict(self.config.users)

    async def authenticate(self, *, session: Session) -> bool | None:
        username = session.username or ""
        expected = self._users.get(username)
        given = session.password or ""
        # Compare even for unknown users so timing does not tell which usernames exist.
        ok = hmac.compare_digest(given.encode(), (expected or "\x00" + given).encode())
        if not (ok and expected is not None):
            log.warning("broker.auth_refused", username=username[:64],
                        client_id=session.client_id)
            return False
        return True


class SiteTopicPlugin(BaseTopicPlugin):
    """The per-site topic ACL (publish, subscribe and delivery are each checked)."""

    @dataclass
    class Config:
        cloud_user: str = ""

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        if session is None or topic is None or action is None or not session.username:
            return False
        if session.username == self.config.cloud_user:
            allowed = cloud_may(topic)
        else:
            allowed = site_may(session.username, topic, action)
        if not allowed and action != Action.RECEIVE:
            log.warning("broker.topic_refused", username=session.username, topic=topic[:200],
                        action=action.value)
        return allowed


class EmbeddedBroker:
    """An in-process broker listening on ``host:port`` for the given site credentials."""

    def __init__(self, host: str, port: int, credentials: dict[str, str], ingest_user: str,
                 ingest_password: str) -> None:
        if ingest_user in credentials:
            raise ValueError(f"ingest user {ingest_user!r} collides with a site credential")
        self.host = host
        self.port = port
        self._users = {**credentials, ingest_user: ingest_password}
        self._ingest_user = ingest_user
        self._broker: Broker | None = None
        self._log = log.bind(host=host, port=port)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._broker is not None and self._broker.transitions.state == "started"

    def _config(self) -> dict[str, object]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "timeout_disconnect_delay": 2,
            "plugins": {
                f"{__name__}.SiteAuthPlugin": {"users": dict(self._users)},
                f"{__name__}.SiteTopicPlugin": {"cloud_user": self._ingest_user},
            },
        }

    async def start(self) -> None:
        if self._broker is not None:
            return
        # amqtt logs every packet at INFO through stdlib logging; keep only its warnings.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        broker = Broker(self._config(), loop=asyncio.get_running_loop())
        async with asyncio.timeout(START_TIMEOUT_S):
            await broker.start()
        self._broker = broker
        self._log.info("broker.started", sites=sorted(u for u in self._users
                                                      if u != self._ingest_user))

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is None:
            return
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await broker.shutdown()
        except TimeoutError:
            self._log.warning("broker.stop_timeout")
        self._log.info("broker.stopped")
