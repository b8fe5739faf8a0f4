"""API errors as JSON: ``{"error": {"code", "field", "message"}}``, message zh-CN first.

Every refusal says which field was wrong and why, so an integrator can fix the request
without reading our source; unexpected exceptions become a 500 with no internals leaked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from cloud.web.pages import error_page
from cloud.web.respond import json_ok

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request we refuse; ``status`` is the HTTP status, ``field`` the offending input."""

    def __init__(self, status: int, code: str, zh: str, en: str,
                 field: str | None = None, **extra: Any) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.field = field
        self.message = f"{zh} / {en}"
        self.extra = extra

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "field": self.field, "message": self.message}
        err.update(self.extra)
        return {"error": err}


def bad_param(field: str, zh: str, en: str) -> ApiError:
    return ApiError(400, "invalid_parameter", zh, en, field=field)


def not_found(field: str, what_zh: str, what_en: str, value: str) -> ApiError:
    return ApiError(404, "not_found", f"{what_zh}不存在：{value}",
                    f"no such {what_en}: {value}", field=field)


def wants_page(request: web.Request) -> bool:
    """A person's browser asking for a page (not the API, a script or an image)."""
    return (request.method in ("GET", "HEAD") and not request.path.startswith("/api/")
            and "text/html" in request.headers.get("Accept", ""))


def not_found_page(exc: web.HTTPException) -> web.Response:
    """404 as a page that says what to do; a handler's own text (``中文 / English``) is kept."""
    zh, _, en = (exc.text or "").partition(" / ")
    if not en or exc.text == "404: Not Found":
        zh, en = ("地址可能输错了，或页面已经移动。请从左侧菜单或首页继续。",
                  "The address may be mistyped or the page has moved. Go on from the menu "
                  "or your home page.")
    return error_page(404, ("找不到这个页面", "Page not found"), (zh, en),
                      ("/", "回到首页", "Go to my home page"))


def json_error(err: ApiError) -> web.Response:
    return json_ok(err.body(), status=err.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return json_error(err)
    except web.HTTPException as exc:
        if exc.status == 404 and wants_page(request):
            return not_found_page(exc)
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = "not_found" if exc.status == 404 else "http_error"
        zh = "没有这个接口" if exc.status == 404 else "请求无法处理"
        return json_error(ApiError(exc.status, code, zh, exc.reason, field=None))
    except Exception:
        log.exception("api.unhandled", path=request.path, method=request.method)
        return json_error(ApiError(500, "internal_error", "服务器内部错误",
                                   "internal server error"))
