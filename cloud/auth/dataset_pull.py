"""Answering an edge's pull of one versioned dataset (parking, access, patrol, …).

Every dataset answers the same way: the site credential first (``refuse_site_pull``: 403,
429, 401), then one snapshot read (``cloud.db.snapshot``: on PostgreSQL an edit made
meanwhile waits for the next version instead of moving the version under the read), the
version's strong ETag with a 304 when the edge already holds it, else the document as
compressed JSON. A site the console does not know yet gets the dataset's empty document
(version 0). The dataset says only how its version is read and its document built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.site_pull import refuse_site_pull, tag_matches
from cloud.db.models import Site
from cloud.db.snapshot import read_one_snapshot
from cloud.web.keys import SESSIONS
from cloud.web.respond import dumps
from contract.datasets import etag

#: (session, site id, dataset name) -> the version the edge should hold (0: none yet).
VersionOf = Callable[[AsyncSession, int, str], Awaitable[int]]
#: (session, site id) -> the document of that version.
Builder = Callable[[AsyncSession, int], Awaitable[Mapping[str, Any]]]


async def answer_dataset_pull(request: web.Request, dataset: str, version_of: VersionOf,
                              build: Builder, empty: Callable[[], Mapping[str, Any]]
                              ) -> web.StreamResponse:
    """``GET /api/sites/{site}/{dataset}/dataset`` for the site's edge: Basic, ETag, 304."""
    slug = request.match_info["site"]
    refused = await refuse_site_pull(request, slug)
    if refused is not None:
        return refused
    async with request.app[SESSIONS]() as session:
        await read_one_snapshot(session)
        site = (await session.scalars(select(Site).where(Site.slug == slug))).one_or_none()
        version = 0 if site is None else await version_of(session, site.id, dataset)
        tag = etag(dataset, version)
        headers = {"ETag": tag, "Cache-Control": "no-cache"}
        if tag_matches(request.headers.get("If-None-Match"), tag):
            return web.Response(status=304, headers=headers)
        doc = empty() if site is None else await build(session, site.id)
    headers["ETag"] = etag(dataset, doc["version"])  # the document's own, read in the snapshot
    resp = web.Response(body=dumps(doc).encode(), content_type="application/json",
                        charset="utf-8", headers=headers)
    resp.enable_compression()
    return resp
