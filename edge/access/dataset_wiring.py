"""Who takes each access dataset version at this site: the OSDP readers' decision (a swap)
and the 微耕/UHPPOTE controllers (``ControllerCards.apply``: diff, put / delete, verify).

Kept out of ``edge.app`` so the daemon only asks "is there an access sync, and what does it
feed"; None when the site has neither readers nor controllers, or no ``cloud.http_url`` to
pull from (the readers then refuse every card as unknown, the controllers keep their lists).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from drivers.access.uhppote import UhppoteDriver
from edge.access.dataset_store import AccessStore, Loaded
from edge.access.reader_service import ReaderService
from edge.access.sync import AccessSync
from edge.access_cards import ControllerCards
from edge.config.model import SiteConfig

log = structlog.get_logger(__name__)


def access_sync(cfg: SiteConfig, readers: ReaderService | None,
                controllers: UhppoteDriver | None) -> AccessSync | None:
    consumers: list[Callable[[Loaded], Awaitable[Any]]] = []
    if readers is not None:
        async def to_readers(loaded: Loaded) -> None:
            readers.set_credentials(loaded.credentials)
        consumers.append(to_readers)
    if controllers is not None:
        cards = ControllerCards(controllers, ZoneInfo(cfg.site.timezone))

        async def to_controllers(loaded: Loaded) -> None:
            await cards.apply(loaded.doc)
        consumers.append(to_controllers)
    if not consumers:
        return None
    cloud = cfg.cloud
    if not cloud.http_url:
        log.warning("站点文件没有 cloud.http_url：门禁数据无法从控制台拉取 / the site file "
                    "sets no cloud.http_url: the access dataset cannot be pulled",
                    site=cfg.site.id)
        return None
    return AccessSync(cfg.site.id, cloud.http_url, cloud.username, cloud.password,
                      AccessStore(Path(cfg.edge.data_dir)), consumers,
                      ca_file=str(cloud.ca_file) if cloud.ca_file else None)


def fan_out(*handlers: Callable[[str, int], None] | None) -> Callable[[str, int], None]:
    """One ``on_sync`` for the uplink that tells every dataset's sync (each ignores the
    datasets that are not its own)."""
    live = [h for h in handlers if h is not None]

    def on_sync(dataset: str, version: int) -> None:
        for h in live:
            h(dataset, version)
    return on_sync
