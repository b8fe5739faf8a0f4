"""``GET /api/sites/{site}/access/dataset``: the edge pulls the site's access dataset with HTTP
Basic (the site's slug and its MQTT secret, ``COURTYARD_SITE_CREDENTIALS``) and an ETag, so
an unchanged version costs a 304. Public to the staff guard: ``cloud.auth.site_pull`` checks
the site secret, in constant time and under the same limits as every dataset pull (one set of
counters, so this route gives a guesser no extra tries). On PostgreSQL the pull reads one
snapshot (REPEATABLE READ): cards issued meanwhile wait for the next version instead of
moving the version under the read until it gives up (``cloud.auth.dataset_pull``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cloud.access.service import document
from cloud.access.tables import ACCESS_DATASET
from cloud.auth.dataset_pull import answer_dataset_pull
from cloud.parking.dataset import current_version


def _empty() -> dict[str, Any]:
    return {"version": 0, "time_profiles": {}, "cards": {}, "blocked": []}


async def access_dataset(request: web.Request) -> web.StreamResponse:
    """The site's access dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    return await answer_dataset_pull(request, ACCESS_DATASET, current_version, document,
                                     _empty)
