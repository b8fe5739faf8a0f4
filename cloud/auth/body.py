"""JSON bodies of the auth routes: an object, only known fields, each named when refused."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from cloud.api.errors import ApiError, bad_param


async def json_object(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_body", "请求体须为 UTF-8 编码的 JSON",
                       "the request body must be JSON in UTF-8") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "请求体须为 JSON 对象",
                       "the body must be a JSON object")
    for name in body:
        if name not in allowed:
            raise bad_param(str(name)[:40], f"未知字段，可用：{', '.join(allowed)}",
                            f"unknown field; accepted: {', '.join(allowed)}")
    return body


def text_field(body: dict[str, Any], name: str, max_len: int, *,
               required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_param(name, "必须填写（非空文本）", "required (a non-empty string)")
    if len(value) > max_len:
        raise bad_param(name, f"长度不能超过 {max_len}", f"must be at most {max_len} characters")
    return value.strip()


def slug_list(body: dict[str, Any], name: str) -> list[str] | None:
    """``null``/absent: every site; else a list of site slugs."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 1000 or not all(
            isinstance(v, str) for v in value):
        raise bad_param(name, "须为站点标识列表或 null（全部站点）",
                        "must be a list of site slugs, or null for every site")
    return list(value)


def bool_field(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_param(name, "须为 true 或 false", "must be true or false")
    return value
