"""The part every pulled dataset shares: announce, pull, keep the version in force.

DESIGN §2: ``down/sync {"dataset": D, "version": N}`` only says version N exists; the edge
fetches ``GET {cloud.http_url}/api/sites/{site}/{D}/dataset`` with the site credential and
``If-None-Match: "D-<version in use>"`` and swaps the whole document in. ``notify`` runs on the
MQTT receive loop (which also carries the acks), so it only records the wanted version and
wakes the puller. The last accepted document is handed to the consumers before any pull, so a
box restarted with the console unreachable keeps working from it. Any failure leaves the
version in force, is logged and counted, and is retried with backoff; so is a console that
does not serve the announced version yet. ``every_s`` adds a periodic pull for a version
published while the broker was down.

``DatasetPuller`` holds that loop; each dataset says how its document is checked, where the
accepted one is kept (``_stored``/``_cached``) and who consumes it. The parking dataset keeps
its own puller (``edge.parking.sync``): its lanes, ETag file and early notices are its own.
"""

from __future__ import annotations

import asyncio
import base64
import random
import ssl
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import aiohttp
import structlog

from contract import jsoncodec
from contract.datasets import etag
from drivers.base import DriverStats

log = structlog.get_logger("edge.dataset_pull")

T = TypeVar("T")


class SyncFailure(Exception):
    """One failed pull: ``reason`` is a metric-friendly word, the message is zh / en."""

    def __init__(self, reason: str, zh: str, en: str, **detail: Any) -> None:
        super().__init__(f"{zh} / {en}")
        self.reason = reason
        self.detail = detail


def basic_auth(username: str, password: str) -> str:
    """HTTP Basic credentials, UTF-8 (RFC 7617): a Chinese password must survive the trip."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def dataset_url(base_url: str, site: str, dataset: str) -> str:
    return f"{base_url.rstrip('/')}/api/sites/{site}/{dataset}/dataset"


class DatasetPuller(ABC, Generic[T]):
    """Keeps the consumers on the newest version of one dataset; see the module doc.

    ``T`` is what the store hands back for an accepted document (the document itself, or a
    loaded form of it)."""

    #: 404 means "the console has none for this site yet" rather than a failure.
    absent_is_empty = False
    #: ``pull_now`` with nothing newer hands the version in use to the consumers again.
    reapply_on_resync = False

    def __init__(self, dataset: str, noun: tuple[str, str], site: str, base_url: str | None,
                 username: str, password: str, consumers: Sequence[Callable[[T], Awaitable[Any]]],
                 *, every_s: float | None, max_bytes: int, stats: DriverStats | None,
                 timeout: float, backoff_initial: float, backoff_cap: float,
                 ca_file: str | None) -> None:
        self.dataset = dataset
        self._zh, self._en = noun  # "巡更数据", "patrol dataset": for the log and failures
        #: None: no ``cloud.http_url``: the cached document only.
        self.url = dataset_url(base_url, site, dataset) if base_url else None
        #: A private CA for an https:// console; None: the system's trust store.
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._headers = {"Authorization": basic_auth(username, password)}
        self.consumers = list(consumers)
        self.every_s, self.max_bytes = every_s, max_bytes
        self.stats = stats or DriverStats()
        self.timeout = timeout
        self.backoff_initial, self.backoff_cap = backoff_initial, backoff_cap
        self.current: T | None = None
        self._wanted = 0
        self._wake = asyncio.Event()
        self._forced = False
        self.last_failure: SyncFailure | None = None
        self._log = log.bind(site=site, dataset=dataset, url=self.url)

    # -- what each dataset says ------------------------------------------------------------

    @abstractmethod
    def _version_of(self, item: T) -> int: ...

    @abstractmethod
    async def _cached(self) -> T | None:
        """The last accepted version, from disk; None: none yet."""

    @abstractmethod
    def _checked(self, raw: Any) -> tuple[int, Any]:
        """(version, document) of a pulled body, or ``SyncFailure("bad_document", ...)``."""

    @abstractmethod
    async def _stored(self, doc: Any) -> T:
        """Persist a newer document before anything uses it (``SyncFailure`` if unusable)."""

    def _summary(self, item: T) -> dict[str, Any]:
        """Counts for the "version in use" log line."""
        return {}

    # -- the MQTT side ---------------------------------------------------------------------

    @property
    def version(self) -> int | None:
        """The version in use; None before any."""
        return self._version_of(self.current) if self.current is not None else None

    def notify(self, dataset: str, version: int) -> None:
        """A ``down/sync`` notice: never blocks, never raises; other datasets are not ours."""
        if dataset != self.dataset:
            return
        self.stats.inc(f"{self.dataset}_sync_notices")
        if version <= max(self._wanted, self.version or 0):
            self.stats.inc(f"{self.dataset}_sync_ignored")
            return  # the retained notice again, on every reconnect
        self._wanted = version
        self._log.info(f"收到{self._zh}更新通知 / {self._en} update announced",
                       version=version, current=self.version)
        self._wake.set()

    def pull_now(self) -> bool:
        """One more pull whatever the versions say (the console's ``dataset.resync``)."""
        self._forced = True
        self._wake.set()
        return True

    def status(self) -> dict[str, Any]:
        return {"version": self.version, "wanted": self._wanted or None,
                "pulls": self.stats.get(f"{self.dataset}_sync_pulls"),
                "last_failure": str(self.last_failure) if self.last_failure else None}

    def _behind(self) -> bool:
        return self._wanted > (self.version or 0)

    # -- the puller ------------------------------------------------------------------------

    async def run(self) -> None:
        """The cached version first, then pull at start, on notices and periodically."""
        cached = await self._cached()
        if cached is not None:
            await self._use(cached, source="cache")
        if self.url is None:
            self._log.warning(f"站点文件没有 cloud.http_url：{self._zh}只用本地缓存 / no "
                              f"cloud.http_url: the {self._en} is the cached one only")
            await asyncio.Event().wait()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(headers=self._headers, timeout=timeout,
                                         connector=aiohttp.TCPConnector(ssl=self._ssl)
                                         ) as session:
            delay = self.backoff_initial
            while True:
                forced, self._forced = self._forced, False
                wait: float | None
                try:
                    await self._pull(session, reapply=forced)
                except SyncFailure as failure:
                    self.last_failure = failure
                    self.stats.inc(f"{self.dataset}_sync_error_{failure.reason}")
                    self._log.warning(f"{self._zh}拉取失败，当前版本继续生效 / {self._en} pull "
                                      f"failed, the version in use stays: {failure}",
                                      current=self.version, wanted=self._wanted)
                    behind = True
                else:
                    self.last_failure = None
                    behind = self._behind()  # the console may not serve the notice's yet
                if behind:
                    wait = random.uniform(delay / 2, delay)
                    delay = min(self.backoff_cap, delay * 2)
                else:
                    delay, wait = self.backoff_initial, self.every_s
                await self._idle(wait)

    async def _idle(self, seconds: float | None) -> None:
        """Until a newer notice, a forced pull, or ``seconds`` (None: no periodic pull)."""
        self._wake.clear()
        if self._forced:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _pull(self, session: aiohttp.ClientSession, *, reapply: bool) -> None:
        """Fetch and use a newer version; ``reapply``: the version in use again when the
        console has nothing newer (and this dataset wants that)."""
        assert self.url is not None
        self.stats.inc(f"{self.dataset}_sync_pulls")
        headers = {"If-None-Match": etag(self.dataset, self.version)} if self.version else {}
        status, body = await self._fetch(session, headers)
        if status == 304:
            self.stats.inc(f"{self.dataset}_sync_not_modified")
            await self._again(reapply)
            return
        if status == 404 and self.absent_is_empty:
            return
        try:
            raw = await asyncio.to_thread(jsoncodec.loads, body)  # large: off the loop
        except jsoncodec.JSONDecodeError:
            raise SyncFailure("bad_document", f"{self._zh}不是有效的 JSON",
                              f"the {self._en} is not valid JSON") from None
        version, doc = self._checked(raw)
        if self.current is not None and version <= self._version_of(self.current):
            await self._again(reapply)
            return
        await self._use(await self._stored(doc), source="console")

    async def _fetch(self, session: aiohttp.ClientSession, headers: dict[str, str]
                     ) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(self.timeout), session.get(
                    self.url or "", headers=headers, allow_redirects=False) as resp:
                if resp.status == 304 or (resp.status == 404 and self.absent_is_empty):
                    return resp.status, b""
                if resp.status != 200:
                    raise SyncFailure("http_status", f"控制台返回 HTTP {resp.status}",
                                      f"the console answered HTTP {resp.status}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise SyncFailure("too_large", f"{self._zh}过大",
                                          f"the {self._en} is too large")
                return resp.status, bytes(body)
        except TimeoutError:
            raise SyncFailure("timeout", "控制台未应答", "the console did not answer") from None
        except aiohttp.ClientError as exc:
            raise SyncFailure("unreachable", "无法连接控制台",
                              f"cannot reach the console: {exc!r}") from None

    async def _again(self, reapply: bool) -> None:
        if reapply and self.reapply_on_resync and self.current is not None:
            self.stats.inc(f"{self.dataset}_sync_reapplied")
            self._log.info(f"重新下发当前{self._zh} / the {self._en} in use handed out again",
                           version=self.version)
            await self._use(self.current, source="again")

    async def _use(self, item: T, *, source: str) -> None:
        previous = self.version
        self.current = item
        version = self._version_of(item)
        self.stats.set_gauge(f"{self.dataset}_dataset_version", version)
        self._log.info(f"{self._zh}新版本已启用 / {self._en} version in use", version=version,
                       previous=previous, source=source, **self._summary(item))
        for consumer in self.consumers:  # in order; one failing must not starve the others
            try:
                await consumer(item)
            except Exception as exc:  # the consumer keeps its previous version; we live on
                self.stats.inc(f"{self.dataset}_sync_consumer_errors")
                self._log.error(f"{self._zh}下发失败 / a consumer could not take the "
                                f"{self._en}", error=repr(exc), version=version)
