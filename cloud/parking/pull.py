"""``GET /api/sites/{site}/parking/dataset``: the edge pulls the site's parking dataset with
HTTP Basic (the site's slug and its MQTT secret) and an ETag, so an unchanged version costs a
304. Public to the staff guard: ``cloud.auth.site_pull`` checks the site secret, in constant
time and under the limits every dataset pull shares. On PostgreSQL the pull reads one snapshot
(``cloud.db.snapshot``): vehicles, passes and the rest written meanwhile wait for the next
version instead of moving the version under the read until it gives up
(``cloud.auth.dataset_pull``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cloud.auth.dataset_pull import answer_dataset_pull
from cloud.parking import dataset as ds
from cloud.parking.records import RESOURCES
from cloud.parking.tables import PARKING_DATASET


def _empty() -> dict[str, Any]:
    return {"version": 0} | {r.doc_key: [] for r in RESOURCES.values()} | {"tariffs": {}}


async def parking_dataset(request: web.Request) -> web.StreamResponse:
    """The site's parking dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    return await answer_dataset_pull(request, PARKING_DATASET, ds.current_version, ds.document,
                                     _empty)
