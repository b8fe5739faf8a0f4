"""Refusing text no handler should ever see: NUL characters and lone surrogates.

PostgreSQL cannot store a NUL in text and a lone UTF-16 surrogate cannot be encoded as UTF-8,
so either would otherwise surface deep in a query as a 500. Checked once here for the query
string and JSON bodies of every ``/api`` request, with the parameter or JSON path named.

``db_error_as_client_error`` is the backstop for what validation missed: a value the database
refuses as data (SQLSTATE class 22: out of range, malformed) is the caller's input, so it is
a 400, never a 500; it is logged so the missing validation can be added.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import web

from cloud.web.errors import ApiError, Handler, bad_param
from cloud.web.shedding import database_unavailable, unavailable

log = structlog.get_logger(__name__)

_JSON_TYPES = ("application/json", "application/merge-patch+json")


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "nul"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def _refuse(field: str, why: str) -> ApiError:
    if why == "nul":
        return bad_param(field, "不能包含 NUL 字符（\\u0000）",
                         "must not contain the NUL character (\\u0000)")
    return bad_param(field, "不是有效的 UTF-8 文本（含孤立代理字符）",
                     "is not valid UTF-8 text (lone surrogate)")


def _walk(value: Any, path: str) -> None:
    if isinstance(value, str):
        if (why := _bad_text(value)) is not None:
            raise _refuse(path or "body", why)
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if (why := _bad_text(str(key))) is not None:
                raise _refuse(path or "body", why)
            _walk(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]")


@web.middleware
async def hygiene_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    for key, value in request.query.items():
        for text in (key, value):
            if (why := _bad_text(text)) is not None:
                raise _refuse(key if text is value else "query", why)
    if request.body_exists and request.content_type in _JSON_TYPES:
        raw = await request.read()  # cached by aiohttp: the handler reads it again for free
        if raw:
            try:
                doc = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                doc = None  # the handler's own parser says what is wrong with it
            if doc is not None:
                _walk(doc, "")
    return await handler(request)


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) is the database refusing a value as data (class 22)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        code = getattr(cur, "sqlstate", None) or getattr(cur, "pgcode", None)
        if isinstance(code, str) and code.startswith("22"):
            return True
        orig = getattr(cur, "orig", None)
        if isinstance(orig, BaseException) and orig is not cur:
            cur = orig
            continue
        cur = cur.__cause__ or cur.__context__
    return False


@web.middleware
async def db_error_as_client_error(request: web.Request,
                                   handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("api.database_unavailable", path=request.path, method=request.method,
                        error=f"{type(exc).__name__}: {exc}"[:300])
            return unavailable(request)
        if not is_data_error(exc):
            raise
        log.warning("api.value_refused_by_database", path=request.path,
                    method=request.method, error=repr(exc)[:300])
        raise ApiError(400, "invalid_value", "某个取值超出范围或格式不对",
                       "a value is out of range or malformed") from None
