"""Pulling the parking dataset from the console when it announces a new version.

DESIGN §2: ``down/sync {"dataset": "parking", "version": N}`` only says that version N exists;
the edge fetches the document itself (``GET {cloud.http_url}/api/sites/{site}/parking/dataset``
with the site credential and ``If-None-Match``) and swaps it in whole. Why it works this way:

* ``notify`` runs on the MQTT receive loop, which also carries the acks: it only records the
  wanted version and wakes the puller, so a slow or unreachable console never delays an ack.
* The document is persisted (``DatasetStore.accept``) before the lanes use it, so after a
  restart with the console down the lanes decide from the last version that was in use.
* Whatever goes wrong (timeout, refused credential, 5xx, bad JSON, a document the edge cannot
  use) leaves the current dataset in force, is logged and counted, and the pull is retried
  with backoff until the announced version is in use. A notice for a version that is not newer
  than the one in use is ignored: the console's retained notice arrives on every reconnect.
* At start one pull catches up with versions published while the edge was off; the retained
  notice usually says the same, and whichever comes second gets a cheap 304.
* The last ETag is kept next to the dataset cache with the version it belongs to, and sent
  only while that version is the one in use (a cache that failed to load must not make the
  console answer 304 for a document the edge no longer has).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import ssl
from enum import StrEnum
from pathlib import Path

import aiohttp
import structlog

from contract import ContractError, jsoncodec
from contract.datasets import PARKING, document_version
from drivers.base import DriverStats
from edge.dataset_pull import SyncFailure, basic_auth, dataset_url
from edge.parking.dataset_store import DatasetStore
from edge.parking.lanes import ParkingLanes

log = structlog.get_logger("edge.parking.sync")

DATASET = PARKING
ETAG_NAME = "parking.etag.json"
MAX_BYTES = 64 * 1024 * 1024
"""A dataset larger than this is refused rather than read into memory (100,000 plates with
holders and units are about 15 MB)."""


class Outcome(StrEnum):
    UPDATED = "updated"  # a newer version is in use
    NOT_MODIFIED = "not_modified"  # 304: the console has what the edge uses
    SAME = "same"  # 200 with a version that is not newer
    ABSENT = "absent"  # 404 at start: the console has no dataset for this site yet


class DatasetSync:
    """Keeps the lanes on the newest parking dataset the console serves; see the module doc."""

    def __init__(self, site: str, base_url: str, username: str, password: str,
                 store: DatasetStore, *, stats: DriverStats | None = None,
                 timeout: float = 10.0, backoff_initial: float = 1.0, backoff_cap: float = 60.0,
                 max_bytes: int = MAX_BYTES, ca_file: str | None = None) -> None:
        self.url = dataset_url(base_url, site, DATASET)
        #: A private CA for an https:// console; None: the system's trust store.
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self.store = store
        self.stats = stats or DriverStats()
        self.timeout = timeout
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.max_bytes = max_bytes
        self.etag_file = store.cache.parent / ETAG_NAME
        self._headers = {"Authorization": basic_auth(username, password)}
        self._lanes: ParkingLanes | None = None
        self._wanted = 0
        self._early = 0  # the newest notice that arrived before the lanes existed
        self._wake = asyncio.Event()
        self._forced = False  # pull_now: one pull even when no newer version was announced
        self._etag: str | None = None
        self.last_outcome: Outcome | None = None
        self.last_failure: SyncFailure | None = None
        self._log = log.bind(site=site, url=self.url)

    # -- the MQTT side ---------------------------------------------------------------------

    @property
    def current_version(self) -> int | None:
        """The version the lanes decide from; None before the lanes are built."""
        return self._lanes.chain.data.version if self._lanes is not None else None

    @property
    def wanted_version(self) -> int:
        return self._wanted

    def notify(self, dataset: str, version: int) -> None:
        """A ``down/sync`` notice (the uplink's ``on_sync``): never blocks, never raises."""
        self.stats.inc("dataset_sync_notices")
        if dataset != DATASET:
            self.stats.inc("dataset_sync_other_dataset")
            self._log.info("不处理的数据集 / a dataset this edge does not use",
                           dataset=dataset, version=version)
            return
        current = self.current_version
        if current is None:  # the retained notice can beat the lanes: run() weighs it
            self._early = max(self._early, version)
            return
        self._consider(version, current)

    def pull_now(self) -> bool:
        """Pull once more now, whatever the versions say (the console's ``dataset.resync``);
        False before the lanes exist (the pull at start is still to come then)."""
        if self._lanes is None:
            return False
        self._forced = True
        self._wake.set()
        return True

    def _consider(self, version: int, current: int) -> None:
        if version <= max(self._wanted, current):
            self.stats.inc("dataset_sync_ignored")
            self._log.info("数据集版本不比当前新，忽略 / dataset version not newer: ignored",
                           version=version, current=current)
            return
        self._wanted = version
        self._log.info("收到数据集更新通知 / dataset update announced", version=version,
                       current=current)
        self._wake.set()

    # -- the puller ------------------------------------------------------------------------

    async def run(self, lanes: ParkingLanes) -> None:
        """Pull at start, then whenever a newer version is announced; until cancelled."""
        self._lanes = lanes
        if self._early:
            early, self._early = self._early, 0
            self._consider(early, lanes.chain.data.version)
        self._etag = await asyncio.to_thread(self._read_etag, lanes.chain.data.version)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(headers=self._headers, timeout=timeout,
                                         connector=aiohttp.TCPConnector(ssl=self._ssl)
                                         ) as session:
            at_start = True
            delay = self.backoff_initial
            while True:
                if not at_start and not self._behind() and not self._forced:
                    self._wake.clear()
                    if not self._behind() and not self._forced:
                        await self._wake.wait()
                    continue
                self._forced = False
                try:
                    outcome = await self._pull(session, at_start)
                except SyncFailure as failure:
                    self._failed(failure)
                else:
                    self.last_outcome, self.last_failure = outcome, None
                    at_start = False
                    if not self._behind():
                        delay = self.backoff_initial
                        continue
                    # The console has not got the announced version yet (a replica behind
                    # the one that sent the notice): ask again later.
                    self.stats.inc("dataset_sync_behind")
                    self._log.info("控制台尚未提供所通知的版本 / the console does not serve the "
                                   "announced version yet", wanted=self._wanted,
                                   current=self.current_version, outcome=str(outcome))
                wait = random.uniform(delay / 2, delay)
                self._log.info("稍后重试拉取数据集 / will pull the dataset again",
                               retry_in_s=round(wait, 2))
                await asyncio.sleep(wait)
                delay = min(self.backoff_cap, delay * 2)

    def _behind(self) -> bool:
        current = self.current_version
        return current is not None and self._wanted > current

    def _failed(self, failure: SyncFailure) -> None:
        self.last_failure = failure
        self.stats.inc("dataset_sync_errors")
        self.stats.inc(f"dataset_sync_error_{failure.reason}")
        self._log.warning(f"数据集拉取失败，继续使用当前版本 / dataset pull failed, the current "
                          f"version stays in force: {failure}", reason=failure.reason,
                          current=self.current_version, wanted=self._wanted, **failure.detail)

    async def _pull(self, session: aiohttp.ClientSession, at_start: bool) -> Outcome:
        lanes = self._lanes
        assert lanes is not None, "run() sets the lanes first"
        self.stats.inc("dataset_sync_pulls")
        status, etag, body = await self._fetch(session, at_start)
        if status == 304:
            self.stats.inc("dataset_sync_not_modified")
            self._log.debug("数据集未变化 / dataset not modified", etag=self._etag)
            return Outcome.NOT_MODIFIED
        if status == 404:
            self._log.info("控制台没有本站的停车数据集，继续使用本地数据 / the console has no "
                           "parking dataset for this site: the local one stays in use")
            return Outcome.ABSENT
        try:
            doc = await asyncio.to_thread(jsoncodec.loads, body)  # large: off the loop
        except jsoncodec.JSONDecodeError as exc:
            raise SyncFailure("bad_json", "数据集不是有效的 JSON", "the dataset is not valid JSON",
                              error=str(exc)) from None
        try:
            version = document_version(doc)
        except ContractError:
            raise SyncFailure("bad_document", "数据集缺少整数版本号",
                              "the dataset has no integer version") from None
        current = lanes.chain.data
        if version <= current.version:
            self.stats.inc("dataset_sync_same")
            self._log.info("控制台的数据集不比当前新 / the console's dataset is not newer",
                           version=version, current=current.version)
            if version == current.version and etag:
                await self._remember(etag, version)
            return Outcome.SAME
        data = await self.store.accept(doc, current)  # on disk before any lane uses it
        if data is None:
            raise SyncFailure("bad_document", "数据集无法使用（见上一条日志）",
                              "the dataset cannot be used (see the log line above)",
                              version=version)
        if etag:  # the cache already holds this version, so the pair stays consistent
            await self._remember(etag, data.version)
        lanes.use(data)  # nothing awaits from here on: the swap and the status move together
        self.stats.inc("dataset_sync_updated")
        self.stats.set_gauge("dataset_version", data.version)
        self._log.info("新数据集已启用 / new dataset in use", version=data.version,
                       previous=current.version, **data.counts())
        return Outcome.UPDATED

    async def _fetch(self, session: aiohttp.ClientSession, at_start: bool
                     ) -> tuple[int, str | None, bytes]:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        try:
            async with asyncio.timeout(self.timeout):  # the whole exchange, body included
                async with session.get(self.url, headers=headers, allow_redirects=False) as resp:
                    status = resp.status
                    if status == 304 or (status == 404 and at_start):
                        return status, None, b""
                    _check_status(status)
                    body = bytearray()
                    async for chunk in resp.content.iter_chunked(256 * 1024):
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise SyncFailure("too_large", "数据集过大", "the dataset is too large",
                                              limit=self.max_bytes)
                    return status, resp.headers.get("ETag"), bytes(body)
        except TimeoutError:
            raise SyncFailure("timeout", f"控制台 {self.timeout:g} 秒内未应答",
                              f"the console did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise SyncFailure("unreachable", "无法连接控制台", "cannot reach the console",
                              error=repr(exc)) from None

    # -- the ETag --------------------------------------------------------------------------

    def _read_etag(self, version: int) -> str | None:
        try:
            saved = jsoncodec.loads(self.etag_file.read_bytes())
        except (OSError, ValueError):
            return None
        if (isinstance(saved, dict) and saved.get("version") == version
                and isinstance(saved.get("etag"), str)):
            return str(saved["etag"])
        return None

    async def _remember(self, etag: str, version: int) -> None:
        self._etag = etag
        try:
            await asyncio.to_thread(_write_atomic, self.etag_file,
                                    jsoncodec.dumpb({"etag": etag, "version": version}))
        except OSError as exc:  # only costs a full download next time
            self._log.warning("无法保存 ETag / cannot store the ETag", error=str(exc))


def _check_status(status: int) -> None:
    if status == 200:
        return
    if status == 401:
        raise SyncFailure("refused", "控制台拒绝了站点凭据（检查 cloud.username / password）",
                          "the console refused the site credential (check cloud.username / "
                          "password)", status=status)
    if status == 403:
        raise SyncFailure("refused", "控制台不接受本站（控制台须为本站配置凭据）",
                          "the console does not accept this site (it needs this site's "
                          "credential configured)", status=status)
    if status >= 500:
        raise SyncFailure("server_error", f"控制台出错（HTTP {status}）",
                          f"the console failed (HTTP {status})", status=status)
    raise SyncFailure("http_status", f"控制台返回意外状态 HTTP {status}",
                      f"unexpected answer from the console: HTTP {status}", status=status)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable where we can
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
