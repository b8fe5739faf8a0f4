"""Reading a request's JSON object, once for every route: refused bodies say why.

``decimals``: numbers with a fraction arrive as exact ``Decimal`` (money, meter values) instead
of float. NaN and Infinity are not JSON and are refused whatever the route. The field readers
below name the field and the reason when they refuse a value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from cloud.web.errors import ApiError, bad_param


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


# --- fields of a JSON object, each named when refused ---------------------------------------


def unstorable(text: str) -> bool:
    """Text no database column takes: a NUL character or a lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_field(body: dict[str, Any], name: str, max_len: int, *,
               required: bool = True) -> str | None:
    """A non-empty string, stripped; ``None`` only when absent and not ``required``.

    Text the database cannot store is refused here too: a body sent without the JSON content
    type passes the hygiene middleware unchecked.
    """
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_param(name, "必须填写（非空文本）", "required (a non-empty string)")
    if unstorable(value):
        raise bad_param(name, "含有无法保存的字符（NUL 或非 UTF-8）",
                        "contains characters that cannot be stored (NUL or not UTF-8)")
    value = value.strip()
    if len(value) > max_len:
        raise bad_param(name, f"长度不能超过 {max_len}", f"must be at most {max_len} characters")
    return value


def slug_list(body: dict[str, Any], name: str) -> list[str] | None:
    """``null``/absent: every site; else a list of site slugs."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 1000 or not all(
            isinstance(v, str) for v in value):
        raise bad_param(name, "须为小区标识列表或 null（全部小区）",
                        "must be a list of site slugs, or null for every site")
    return list(value)


def bool_field(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_param(name, "须为 true 或 false", "must be true or false")
    return value
