"""Fields of the auth routes' JSON bodies (read with ``cloud.api.body.json_object``), each
named when refused."""

from __future__ import annotations

from typing import Any

from cloud.api.body import json_object
from cloud.api.errors import bad_param

__all__ = ["bool_field", "json_object", "slug_list", "text_field"]


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
