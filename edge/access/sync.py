"""Pulling the access dataset from the console when it announces a new version.

The same rules as the parking dataset (``edge.parking.sync``, DESIGN §2): ``down/sync
{"dataset": "access", "version": N}`` only says version N exists; the edge fetches
``GET {cloud.http_url}/api/sites/{site}/access/dataset`` with the site credential and
``If-None-Match`` and swaps the whole version in. ``notify`` runs on the MQTT receive loop, so
it only records the wanted version and wakes the puller. A pulled version is checked and
written to disk (``AccessStore.accept``) before any consumer sees it; then the readers' decision
swaps to it (one assignment) and the controllers are synced (``ControllerCards.apply``).
At start the persisted version is handed to the consumers before any pull, so with the
console or the broker down the doors keep deciding from the last version that got through.
Any failure leaves the version in force, is logged and counted, and is retried with backoff
while the announced version is not in use. ``pull_now`` (the console's ``dataset.resync``)
pulls whatever the versions say and, when the console has nothing newer, hands the version in
use to the consumers again: a controller that lost its cards (reset, replaced) gets them back.
"""

from __future__ import annotations

import asyncio
import base64
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import structlog

from contract import ContractError, jsoncodec
from contract.datasets import ACCESS, document_version, etag
from drivers.base import DriverStats
from edge.access.credentials import DatasetError
from edge.access.dataset_store import AccessStore, Loaded

log = structlog.get_logger("edge.access.sync")

MAX_BYTES = 64 * 1024 * 1024
Consumer = Callable[[Loaded], Awaitable[Any]]


class PullFailed(Exception):
    """One failed pull; ``reason`` is a metric-friendly word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AccessSync:
    """Keeps the readers and controllers on the newest access dataset; see the module doc."""

    def __init__(self, site: str, base_url: str, username: str, password: str,
                 store: AccessStore, consumers: Sequence[Consumer], *,
                 stats: DriverStats | None = None, timeout: float = 10.0,
                 backoff_initial: float = 1.0, backoff_cap: float = 60.0,
                 ca_file: str | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/api/sites/{site}/{ACCESS}/dataset"
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else True
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self.store = store
        self.consumers = list(consumers)
        self.stats = stats or DriverStats()
        self.timeout = timeout
        self.backoff_initial, self.backoff_cap = backoff_initial, backoff_cap
        self.current: Loaded | None = None
        self._wanted = 0
        self._wake = asyncio.Event()
        self._forced = False
        self.last_failure: PullFailed | None = None
        self._log = log.bind(site=site, url=self.url)

    @property
    def version(self) -> int | None:
        """The version in use; None before any."""
        return self.current.version if self.current is not None else None

    def notify(self, dataset: str, version: int) -> None:
        """A ``down/sync`` notice: never blocks, never raises; other datasets are not ours."""
        if dataset != ACCESS:
            return
        self.stats.inc("access_sync_notices")
        if version <= max(self._wanted, self.version or 0):
            self.stats.inc("access_sync_ignored")
            return
        self._wanted = version
        self._log.info("收到门禁数据更新通知 / access dataset update announced", version=version,
                       current=self.version)
        self._wake.set()

    def pull_now(self) -> bool:
        """One more pull whatever the versions say (the console's ``dataset.resync``)."""
        self._forced = True
        self._wake.set()
        return True

    def status(self) -> dict[str, Any]:
        return {"version": self.version, "wanted": self._wanted,
                "last_failure": str(self.last_failure) if self.last_failure else None}

    def _behind(self) -> bool:
        return self._wanted > (self.version or 0)

    async def run(self) -> None:
        """Use the persisted version, pull at start, then on every newer notice; until
        cancelled."""
        persisted = await self.store.load()
        if persisted is not None:
            await self._use(persisted)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(headers=self._headers, timeout=timeout,
                                         connector=aiohttp.TCPConnector(ssl=self._ssl)
                                         ) as session:
            pull = True
            delay = self.backoff_initial
            while True:
                if not (pull or self._behind() or self._forced):
                    self._wake.clear()
                    if not (self._behind() or self._forced):
                        await self._wake.wait()
                    continue
                forced, self._forced = self._forced, False
                try:
                    await self._pull(session, reapply=forced)
                except PullFailed as failure:
                    self.last_failure = failure
                    self.stats.inc(f"access_sync_error_{failure.reason}")
                    self._log.warning(f"门禁数据拉取失败，当前版本继续生效 / access dataset pull "
                                      f"failed, the version in use stays: {failure}",
                                      current=self.version, wanted=self._wanted)
                else:
                    self.last_failure, pull = None, False
                    if not self._behind():
                        delay = self.backoff_initial
                        continue
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(self.backoff_cap, delay * 2)

    async def _pull(self, session: aiohttp.ClientSession, *, reapply: bool = False) -> None:
        """Fetch and use a newer version; ``reapply``: the version in use again when the
        console has nothing newer."""
        self.stats.inc("access_sync_pulls")
        headers = {"If-None-Match": etag(ACCESS, self.version)} if self.version else {}
        try:
            async with asyncio.timeout(self.timeout), session.get(
                    self.url, headers=headers, allow_redirects=False) as resp:
                if resp.status == 304:
                    await self._again(reapply)
                    return
                if resp.status != 200:
                    raise PullFailed("http_status", f"控制台返回 HTTP {resp.status} / the "
                                     f"console answered HTTP {resp.status}")
                body = await resp.content.read(MAX_BYTES + 1)
        except TimeoutError:
            raise PullFailed("timeout", "控制台未应答 / the console did not answer") from None
        except aiohttp.ClientError as exc:
            raise PullFailed("unreachable", f"无法连接控制台 / cannot reach the console: "
                             f"{exc!r}") from None
        if len(body) > MAX_BYTES:
            raise PullFailed("too_large", "门禁数据过大 / the dataset is too large")
        try:
            doc = await asyncio.to_thread(jsoncodec.loads, body)
            version = document_version(doc)
        except (jsoncodec.JSONDecodeError, ContractError) as exc:
            raise PullFailed("bad_document", f"数据集无效 / bad dataset: {exc}") from None
        if version <= (self.version or 0) and self.current is not None:
            await self._again(reapply)
            return
        try:
            loaded = await self.store.accept(doc)  # on disk before anything uses it
        except DatasetError as exc:
            raise PullFailed("bad_document", f"数据集无法使用 / unusable dataset: {exc}") from None
        await self._use(loaded)

    async def _again(self, reapply: bool) -> None:
        if reapply and self.current is not None:
            self.stats.inc("access_sync_reapplied")
            self._log.info("重新下发当前门禁数据 / the version in use handed out again",
                           version=self.current.version)
            await self._use(self.current)

    async def _use(self, loaded: Loaded) -> None:
        previous = self.version
        self.current = loaded
        self.stats.set_gauge("access_dataset_version", loaded.version)
        self._log.info("门禁数据新版本已启用 / access dataset version in use",
                       version=loaded.version, previous=previous,
                       cards=len(loaded.doc.get("cards") or {}))
        for consumer in self.consumers:  # readers first: a swap; then the controllers
            try:
                await consumer(loaded)
            except Exception as exc:  # one consumer must not starve the others
                self.stats.inc("access_sync_consumer_errors")
                self._log.error("门禁数据下发失败 / a consumer failed to take the dataset",
                                error=repr(exc), version=loaded.version)
