"""Pulling the access dataset from the console when it announces a new version.

The same rules as the other datasets (``edge.dataset_pull``, DESIGN §2). A pulled version is
checked and written to disk (``AccessStore.accept``) before any consumer sees it; then the
readers' decision swaps to it (one assignment) and the controllers are synced
(``ControllerCards.apply``). At start the persisted version is handed to the consumers before
any pull, so with the console or the broker down the doors keep deciding from the last version
that got through. There is no periodic pull: the retained notice is enough. ``pull_now`` (the
console's ``dataset.resync``) pulls whatever the versions say and, when the console has
nothing newer, hands the version in use to the consumers again: a controller that lost its
cards (reset, replaced) gets them back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from contract import ContractError
from contract.datasets import ACCESS, document_version
from drivers.base import DriverStats
from edge.access.credentials import DatasetError
from edge.access.dataset_store import AccessStore, Loaded
from edge.dataset_pull import DatasetPuller, SyncFailure

MAX_BYTES = 64 * 1024 * 1024
Consumer = Callable[[Loaded], Awaitable[Any]]


class AccessSync(DatasetPuller[Loaded]):
    """Keeps the readers and controllers on the newest access dataset; see the module doc."""

    reapply_on_resync = True

    def __init__(self, site: str, base_url: str, username: str, password: str,
                 store: AccessStore, consumers: Sequence[Consumer], *,
                 stats: DriverStats | None = None, timeout: float = 10.0,
                 backoff_initial: float = 1.0, backoff_cap: float = 60.0,
                 ca_file: str | None = None) -> None:
        super().__init__(ACCESS, ("门禁数据", "access dataset"), site, base_url, username,
                         password, consumers, every_s=None, max_bytes=MAX_BYTES, stats=stats,
                         timeout=timeout, backoff_initial=backoff_initial,
                         backoff_cap=backoff_cap, ca_file=ca_file)
        self.store = store

    def _version_of(self, item: Loaded) -> int:
        return item.version

    async def _cached(self) -> Loaded | None:
        return await self.store.load()

    def _checked(self, raw: Any) -> tuple[int, Any]:
        try:
            return document_version(raw), raw
        except ContractError as exc:
            raise SyncFailure("bad_document", "数据集无效", f"bad dataset: {exc}") from None

    async def _stored(self, doc: Any) -> Loaded:
        try:
            return await self.store.accept(doc)  # on disk before anything uses it
        except DatasetError as exc:
            raise SyncFailure("bad_document", "数据集无法使用",
                              f"unusable dataset: {exc}") from None

    def _summary(self, item: Loaded) -> dict[str, Any]:
        return {"cards": len(item.doc.get("cards") or {})}
