"""``GET /api/sites/{site}/access/dataset``: the edge pulls the site's access dataset with HTTP
Basic (the site's slug and its MQTT secret, ``COURTYARD_SITE_CREDENTIALS``) and an ETag, so
an unchanged version costs a 304. Public to the staff guard: ``cloud.auth.site_pull`` checks
the site secret, in constant time and under the same limits as every dataset pull (one set of
counters, so this route gives a guesser no extra tries). On PostgreSQL the pull reads one
snapshot (REPEATABLE READ): cards issued meanwhile wait for the next version instead of
moving the version under the read until it gives up.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from cloud.access.service import document
from cloud.access.tables import ACCESS_DATASET
from cloud.auth.site_pull import refuse_site_pull, tag_matches
from cloud.db.models import Site
from cloud.db.snapshot import read_one_snapshot
from cloud.parking.dataset import current_version
from cloud.web.keys import SESSIONS
from cloud.web.respond import dumps
from contract.datasets import etag


async def access_dataset(request: web.Request) -> web.StreamResponse:
    """The site's access dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    slug = request.match_info["site"]
    refused = await refuse_site_pull(request, slug)
    if refused is not None:
        return refused
    async with request.app[SESSIONS]() as session:
        await read_one_snapshot(session)
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await current_version(session, site.id, ACCESS_DATASET)
        tag = etag(ACCESS_DATASET, version)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        if tag_matches(request.headers.get("If-None-Match"), tag):
            return web.Response(status=304, headers=headers)
        doc = ({"version": 0, "time_profiles": {}, "cards": {}, "blocked": []}
               if site is None else await document(session, site.id))
    headers["ETag"] = etag(ACCESS_DATASET, doc["version"])
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8", headers=headers)
    resp.enable_compression()
    return resp
