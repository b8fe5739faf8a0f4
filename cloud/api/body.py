"""Reading a request's JSON object, once for every route: refused bodies say why.

``decimals``: numbers with a fraction arrive as exact ``Decimal`` (money, meter values) instead
of float. NaN and Infinity are not JSON and are refused whatever the route.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from cloud.api.errors import ApiError, bad_param


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


async def json_object(request: web.Request, *, decimals: bool = False,
                      allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The request's JSON object; with ``allowed``, any other field is refused by name."""
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_float=Decimal if decimals else float,
                          parse_constant=_no_constants) if text.strip() else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_body", "请求体须为 UTF-8 编码的 JSON",
                       "the request body must be JSON in UTF-8") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "请求体须为 JSON 对象",
                       "the request body must be a JSON object")
    if allowed is not None:
        unknown_fields(body, allowed)
    return body


def unknown_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse the first field of ``body`` not in ``allowed``, naming it and the accepted ones."""
    for name in body:
        if name not in allowed:
            raise bad_param(str(name)[:40], f"未知字段，可用：{', '.join(allowed)}",
                            f"unknown field; accepted: {', '.join(allowed)}")
