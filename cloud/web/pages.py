"""Staff pages: plain files from ``dashboards/`` served by the console itself.

Sites and guard rooms often have no internet, so nothing is loaded from a CDN, and the
Content-Security-Policy forbids it so a later edit cannot slip one in. Every feature's pages
go through ``PageSet`` so they share one asset rule, one set of headers and one CSP; the
permission stays on each feature's handler (``@requires``), next to its route.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

from aiohttp import web

import dashboards
from cloud.web.keys import DEFAULT_TZ

#: Everything from the console itself; the WebSocket too ('self' covers ws:/wss: on the same
#: host in current browsers).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")

#: The ``dashboards`` package's folder, wherever it is installed (a checkout or site-packages).
DASHBOARDS_DIR = Path(dashboards.__file__).resolve().parent

#: Asset names a page may load: a flat folder of scripts and style sheets only.
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css)$")
CONTENT_TYPES = {"js": "text/javascript", "css": "text/css"}

#: Wall monitors and phones keep a page open for days: after an upgrade they must pick up new
#: assets on reload.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

#: Where a page shows the console's default time zone (each site's own comes from the API).
TZ_PLACEHOLDER = "__COURTYARD_DEFAULT_TZ__"


def html_response(html: str) -> web.Response:
    """A finished page with the console's headers and CSP."""
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={**HEADERS, "Content-Security-Policy": CSP})


def default_tz(request: web.Request) -> dict[str, str]:
    """The fill for ``TZ_PLACEHOLDER``: the console's default time zone."""
    return {TZ_PLACEHOLDER: request.app[DEFAULT_TZ]}


@dataclass(frozen=True)
class PageSet:
    """One folder of ``dashboards/``: its HTML pages and their scripts and style sheets.

    ``missing`` is the 404 text (zh-CN / English) when a page's file is not installed.
    """

    name: str
    missing: str

    @property
    def folder(self) -> Path:
        return DASHBOARDS_DIR / self.name

    async def template(self, file: str) -> str:
        """The text of ``file``; a missing file is 404 with ``missing``."""
        try:
            return await asyncio.to_thread((self.folder / file).read_text, encoding="utf-8")
        except OSError as exc:
            raise web.HTTPNotFound(text=self.missing) from exc

    async def page(self, file: str, fills: Mapping[str, str] | None = None) -> web.Response:
        """``file`` with each placeholder replaced by its value, HTML-escaped, in order."""
        html = await self.template(file)
        for placeholder, value in (fills or {}).items():
            html = html.replace(placeholder, escape(value, quote=True))
        return html_response(html)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """The file ``{name}`` of the route; anything not a script or style sheet here is 404."""
        name = request.match_info["name"]
        match = ASSET_NAME.match(name)
        path = self.folder / name
        if match is None or not await asyncio.to_thread(path.is_file):
            raise web.HTTPNotFound(text=f"没有这个文件 / no such file: {name}")
        return web.FileResponse(path, headers={**HEADERS,
                                               "Content-Type": CONTENT_TYPES[match.group(1)]})


#: The shell every page loads: one style, the label table, then the shell script.
SHELL_HEAD = ('<link rel="stylesheet" href="/ui/shell.css">'
              '<script src="/ui/labels.js" defer></script>'
              '<script src="/ui/shell.js" defer></script>')


def error_page(status: int, title: tuple[str, str], advice: tuple[str, str],
               link: tuple[str, str, str] | None = None) -> web.Response:
    """A 403/404 a person can act on: what happened and what to do, inside the shell.

    ``title`` and ``advice`` are (zh-CN, English); ``link`` is (path, zh, en) of the way on.
    """
    parts = [
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title[0])} · Courtyard</title>", SHELL_HEAD,
        f'</head><body data-site="none" data-crumbs="{escape(title[0])}|{escape(title[1])}">',
        f'<main class="cy-error"><p class="cy-status">{status}</p>',
        f'<h1 data-en="{escape(title[1])}">{escape(title[0])}</h1>',
        f'<p data-en="{escape(advice[1])}">{escape(advice[0])}</p>',
    ]
    if link is not None:
        path, zh, en = link
        parts.append(f'<p><a class="cy-button" href="{escape(path)}" '
                     f'data-en="{escape(en)}">{escape(zh)}</a></p>')
    parts.append("</main></body></html>")
    return web.Response(text="".join(parts), status=status, content_type="text/html",
                        charset="utf-8", headers={**HEADERS, "Content-Security-Policy": CSP})
