"""Pulling the patrol dataset (checkpoints, routes, plans, tags) from the console.

The same rules as the access dataset (``edge.dataset_pull``, DESIGN §2), with a periodic pull
every ``every_s`` besides, because a patrol plan edited while the broker was down must still
reach the rounds before the shift it changes. The document is cached (``DatasetCache``: the
patrol store) before the consumer sees it, and the cached one is handed over before any pull,
so a box restarted with the console unreachable keeps tracking rounds from the last version it
had. A 404 means the console has no patrol for this site yet, not a failure; ``pull_now`` with
nothing newer does not reload the rounds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from contract import ContractError
from contract.datasets import document_version
from contract.patrol import PATROL, PatrolDocument
from drivers.base import DriverStats
from edge.dataset_pull import DatasetPuller, SyncFailure

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


class PatrolSync(DatasetPuller[PatrolDocument]):
    """Keeps the round tracker on the newest patrol dataset; see the module doc."""

    absent_is_empty = True

    def __init__(self, site: str, base_url: str | None, username: str, password: str,
                 cache: DatasetCache, consumer: Consumer, *, every_s: float = 300.0,
                 stats: DriverStats | None = None, timeout: float = 10.0,
                 backoff_initial: float = 1.0, backoff_cap: float = 60.0,
                 ca_file: str | None = None) -> None:
        super().__init__(PATROL, ("巡更数据", "patrol dataset"), site, base_url, username,
                         password, [consumer], every_s=every_s, max_bytes=MAX_BYTES,
                         stats=stats, timeout=timeout, backoff_initial=backoff_initial,
                         backoff_cap=backoff_cap, ca_file=ca_file)
        self.cache = cache

    def _version_of(self, item: PatrolDocument) -> int:
        return item["version"]

    async def _cached(self) -> PatrolDocument | None:
        return await self.cache.load_dataset()

    def _checked(self, raw: Any) -> tuple[int, PatrolDocument]:
        doc = checked(raw)
        return doc["version"], doc

    async def _stored(self, doc: PatrolDocument) -> PatrolDocument:
        await self.cache.save_dataset(doc)  # on disk before the rounds use it
        return doc

    def _summary(self, item: PatrolDocument) -> dict[str, Any]:
        return {"checkpoints": len(item["checkpoints"]), "plans": len(item["plans"]),
                "tags": len(item["tags"])}
