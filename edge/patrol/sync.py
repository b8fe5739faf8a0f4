"""Pulling the patrol dataset (checkpoints, routes, plans, tags) from the console.

The same rules as the parking and access datasets (DESIGN §2): ``down/sync {"dataset":
"patrol", "version": N}`` only says version N exists; the edge fetches
``GET {cloud.http_url}/api/sites/{site}/patrol/dataset`` with the site credential and
``If-None-Match: "patrol-<version in use>"`` and swaps the whole document in. Pulls happen at
start, on each newer notice, on ``pull_now`` (``dataset.resync``) and every ``every_s``
besides, because a patrol plan edited while the broker was down must still reach the rounds
before the shift it changes. The document is cached (``DatasetCache``: the patrol store)
before the consumer sees it, and the cached one is handed over before any pull, so a box
restarted with the console unreachable keeps tracking rounds from the last version it had.
Any failure leaves the version in force, is logged and counted, and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import aiohttp
import structlog

from contract import ContractError, jsoncodec
from contract.datasets import document_version, etag
from contract.patrol import PATROL, PatrolDocument
from drivers.base import DriverStats
from edge.parking.sync import SyncFailure, basic_auth

log = structlog.get_logger("edge.patrol.sync")

MAX_BYTES = 16 * 1024 * 1024
"""Larger than any site's plan (a thousand checkpoints and tags are ~300 kB)."""
SECTIONS = ("checkpoints", "routes", "plans", "tags")
Consumer = Callable[[PatrolDocument], Awaitable[None]]


class DatasetCache(Protocol):
    """Where the last accepted document lives across restarts (the patrol store)."""

    async def load_dataset(self) -> PatrolDocument | None: ...

    async def save_dataset(self, doc: PatrolDocument) -> None: ...


def checked(doc: Any) -> PatrolDocument:
    """A document the rounds can read: an integer version and each section an object
    (absent: empty). Entries inside are the planner's to skip one by one."""
    try:
        version = document_version(doc)
    except ContractError as exc:
        raise SyncFailure("bad_document", f"巡更数据集无效：{exc}",
                          f"the patrol dataset is not usable: {exc}") from None
    out: dict[str, Any] = {"version": version}
    for key in SECTIONS:
        section = doc.get(key)
        section = {} if section is None else section
        if not isinstance(section, dict):
            raise SyncFailure("bad_document", f"巡更数据集的 {key} 应为对象",
                              f"the patrol dataset's {key} must be an object")
        out[key] = section
    return cast(PatrolDocument, out)


class PatrolSync:
    """Keeps the round tracker on the newest patrol dataset; see the module doc."""

    def __init__(self, site: str, base_url: str | None, username: str, password: str,
                 cache: DatasetCache, consumer: Consumer, *, every_s: float = 300.0,
                 stats: DriverStats | None = None, timeout: float = 10.0,
                 backoff_initial: float = 1.0, backoff_cap: float = 60.0,
                 ca_file: str | None = None) -> None:
        #: None: no ``cloud.http_url``: the cached document only (QR/BLE rounds still run).
        self.url = (f"{base_url.rstrip('/')}/api/sites/{site}/{PATROL}/dataset"
                    if base_url else None)
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._headers = {"Authorization": basic_auth(username, password)}
        self.cache, self.consumer = cache, consumer
        self.every_s = every_s
        self.stats = stats or DriverStats()
        self.timeout = timeout
        self.backoff_initial, self.backoff_cap = backoff_initial, backoff_cap
        self.current: PatrolDocument | None = None
        self._wanted = 0
        self._wake = asyncio.Event()
        self._forced = False
        self.last_failure: SyncFailure | None = None
        self._log = log.bind(site=site, url=self.url)

    @property
    def version(self) -> int | None:
        return self.current["version"] if self.current is not None else None

    def notify(self, dataset: str, version: int) -> None:
        """A ``down/sync`` notice (on the MQTT loop): never blocks, never raises."""
        if dataset != PATROL:
            return
        self.stats.inc("patrol_sync_notices")
        if version <= max(self._wanted, self.version or 0):
            return  # the retained notice again, on every reconnect
        self._wanted = version
        self._log.info("收到巡更数据更新通知 / patrol dataset update announced",
                       version=version, current=self.version)
        self._wake.set()

    def pull_now(self) -> bool:
        """One more pull whatever the versions say (``dataset.resync``)."""
        self._forced = True
        self._wake.set()
        return True

    def status(self) -> dict[str, Any]:
        return {"version": self.version, "wanted": self._wanted or None,
                "pulls": self.stats.get("patrol_sync_pulls"),
                "last_failure": str(self.last_failure) if self.last_failure else None}

    def _behind(self) -> bool:
        return self._wanted > (self.version or 0)

    async def run(self) -> None:
        """The cached version first, then pull at start, on notices and periodically."""
        cached = await self.cache.load_dataset()
        if cached is not None:
            await self._use(cached, source="cache")
        if self.url is None:
            self._log.warning("站点文件没有 cloud.http_url：巡更数据只用本地缓存 / no "
                              "cloud.http_url: the patrol dataset is the cached one only")
            await asyncio.Event().wait()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(headers=self._headers, timeout=timeout,
                                         connector=aiohttp.TCPConnector(ssl=self._ssl)
                                         ) as session:
            delay = self.backoff_initial
            while True:
                self._forced = False
                try:
                    await self._pull(session)
                except SyncFailure as failure:
                    self.last_failure = failure
                    self.stats.inc(f"patrol_sync_error_{failure.reason}")
                    self._log.warning(f"巡更数据拉取失败，当前版本继续生效 / patrol dataset pull "
                                      f"failed, the version in use stays: {failure}",
                                      current=self.version, wanted=self._wanted)
                    wait = random.uniform(delay / 2, delay)
                    delay = min(self.backoff_cap, delay * 2)
                else:
                    self.last_failure = None
                    delay = self.backoff_initial
                    wait = self.every_s if not self._behind() else self.backoff_initial
                await self._idle(wait)

    async def _idle(self, seconds: float) -> None:
        """Until a newer notice, a forced pull, or ``seconds`` (the periodic pull)."""
        self._wake.clear()
        if self._forced:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _pull(self, session: aiohttp.ClientSession) -> None:
        assert self.url is not None
        self.stats.inc("patrol_sync_pulls")
        headers = {"If-None-Match": etag(PATROL, self.version)} if self.version else {}
        try:
            async with asyncio.timeout(self.timeout), session.get(
                    self.url, headers=headers, allow_redirects=False) as resp:
                if resp.status == 304:
                    self.stats.inc("patrol_sync_not_modified")
                    return
                if resp.status == 404:  # the console has no patrol for this site yet
                    return
                if resp.status != 200:
                    raise SyncFailure("http_status", f"控制台返回 HTTP {resp.status}",
                                      f"the console answered HTTP {resp.status}")
                body = await resp.content.read(MAX_BYTES + 1)
        except TimeoutError:
            raise SyncFailure("timeout", "控制台未应答", "the console did not answer") from None
        except aiohttp.ClientError as exc:
            raise SyncFailure("unreachable", "无法连接控制台",
                              f"cannot reach the console: {exc!r}") from None
        if len(body) > MAX_BYTES:
            raise SyncFailure("too_large", "巡更数据集过大", "the patrol dataset is too large")
        try:
            raw = jsoncodec.loads(body)
        except jsoncodec.JSONDecodeError:
            raise SyncFailure("bad_document", "巡更数据集不是有效的 JSON",
                              "the patrol dataset is not valid JSON") from None
        doc = checked(raw)
        if self.current is not None and doc["version"] <= self.current["version"]:
            return
        await self.cache.save_dataset(doc)  # on disk before the rounds use it
        await self._use(doc, source="console")

    async def _use(self, doc: PatrolDocument, *, source: str) -> None:
        previous = self.version
        self.current = doc
        self.stats.set_gauge("patrol_dataset_version", doc["version"])
        self._log.info("巡更数据新版本已启用 / patrol dataset version in use",
                       version=doc["version"], previous=previous, source=source,
                       checkpoints=len(doc["checkpoints"]), plans=len(doc["plans"]),
                       tags=len(doc["tags"]))
        try:
            await self.consumer(doc)
        except Exception as exc:  # the rounds keep the previous version; the pull loop lives
            self.stats.inc("patrol_sync_consumer_errors")
            self._log.error("巡更数据无法启用 / the rounds could not take the dataset",
                            error=repr(exc), version=doc["version"])
