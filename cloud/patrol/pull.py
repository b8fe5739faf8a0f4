"""``GET /api/sites/{site}/patrol/dataset``: the edge pulls the site's patrol dataset with HTTP
Basic (slug and site secret, checked by ``cloud.auth.site_pull`` under the limits every
dataset pull shares) and an ETag, so an unchanged version costs a 304. On PostgreSQL the read
is one snapshot, so an edit made meanwhile waits for the next version."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from cloud.auth.site_pull import refuse_site_pull, tag_matches
from cloud.db.models import Site
from cloud.db.snapshot import read_one_snapshot
from cloud.parking.dataset import current_version
from cloud.patrol.service import document
from cloud.patrol.tables import PATROL_DATASET
from cloud.web.keys import SESSIONS
from cloud.web.respond import dumps
from contract.datasets import etag
from contract.patrol import PatrolDocument, empty_document


async def patrol_dataset(request: web.Request) -> web.StreamResponse:
    """The site's ``contract.patrol.PatrolDocument`` for its edge: Basic, ETag, 304."""
    slug = request.match_info["site"]
    refused = await refuse_site_pull(request, slug)
    if refused is not None:
        return refused
    async with request.app[SESSIONS]() as session:
        await read_one_snapshot(session)
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await current_version(session, site.id, PATROL_DATASET)
        tag = etag(PATROL_DATASET, version)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        if tag_matches(request.headers.get("If-None-Match"), tag):
            return web.Response(status=304, headers=headers)
        doc: PatrolDocument = (empty_document() if site is None
                               else await document(session, site.id))
    headers["ETag"] = etag(PATROL_DATASET, doc["version"])
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8", headers=headers)
    resp.enable_compression()
    return resp
