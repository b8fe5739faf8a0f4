"""``GET /api/sites/{site}/patrol/dataset``: the edge pulls the site's patrol dataset with HTTP
Basic (slug and site secret, checked by ``cloud.auth.site_pull`` under the limits every
dataset pull shares) and an ETag, so an unchanged version costs a 304. On PostgreSQL the read
is one snapshot, so an edit made meanwhile waits for the next version
(``cloud.auth.dataset_pull``)."""

from __future__ import annotations

from aiohttp import web

from cloud.auth.dataset_pull import answer_dataset_pull
from cloud.parking.dataset import current_version
from cloud.patrol.service import document
from cloud.patrol.tables import PATROL_DATASET
from contract.patrol import empty_document


async def patrol_dataset(request: web.Request) -> web.StreamResponse:
    """The site's ``contract.patrol.PatrolDocument`` for its edge: Basic, ETag, 304."""
    return await answer_dataset_pull(request, PATROL_DATASET, current_version, document,
                                     empty_document)
