"""JSON responses that keep Chinese text readable (no \\u escapes)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)
