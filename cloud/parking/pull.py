"""``GET /api/sites/{site}/parking/dataset``: the edge pulls the site's parking dataset with
HTTP Basic (the site's slug and its MQTT secret) and an ETag, so an unchanged version costs a
304. Public to the staff guard: ``cloud.auth.site_pull`` checks the site secret, in constant
time and under the limits every dataset pull shares. On PostgreSQL the pull reads one snapshot
(``cloud.db.snapshot``): vehicles, passes and the rest written meanwhile wait for the next
version instead of moving the version under the read until it gives up.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.auth.site_pull import refuse_site_pull, tag_matches
from cloud.db.models import Site
from cloud.db.snapshot import read_one_snapshot
from cloud.parking import dataset as ds
from cloud.parking.records import RESOURCES
from cloud.web.keys import SESSIONS
from cloud.web.respond import dumps


async def parking_dataset(request: web.Request) -> web.StreamResponse:
    """The site's parking dataset for its edge: HTTP Basic (slug, site secret), ETag, 304."""
    slug = request.match_info["site"]
    refused = await refuse_site_pull(request, slug)
    if refused is not None:
        return refused
    async with request.app[SESSIONS]() as session:
        await read_one_snapshot(session)
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await ds.current_version(session, site.id)
        headers = {"ETag": ds.etag(version), "Cache-Control": "no-cache"}
        if tag_matches(request.headers.get("If-None-Match"), ds.etag(version)):
            return web.Response(status=304, headers=headers)
        doc: dict[str, Any] = ({"version": 0} | {r.doc_key: [] for r in RESOURCES.values()}
                               | {"tariffs": {}}) if site is None else await ds.document(
                                   session, site.id)
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8",
                        headers={"ETag": ds.etag(doc["version"]), "Cache-Control": "no-cache"})
    resp.enable_compression()
    return resp
