"""Register errors as the API's JSON errors, shared by the register's routes and the
spreadsheet import's (``cloud.imports.routes``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from cloud.parking.records import RecordError
from cloud.web.errors import ApiError, bad_param

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_error(err: RecordError) -> ApiError:
    return ApiError(err.status, err.code, err.zh, err.en, field=err.field, **err.extra)


def guarded(fn: Handler) -> Handler:
    """RecordError → the API's JSON error; a constraint the checks missed → 409."""
    async def handler(request: web.Request) -> web.StreamResponse:
        for name, value in [*request.query.items(), *request.match_info.items()]:
            if any(ord(ch) < 32 for ch in value):
                raise bad_param(name[:40], "不能含控制字符", "must not contain control characters")
        try:
            return await fn(request)
        except RecordError as err:
            raise api_error(err) from None
        except IntegrityError:
            raise ApiError(409, "conflict", "与同时进行的另一修改冲突，请重试",
                           "conflicts with another change made at the same time; retry"
                           ) from None
    handler.__doc__ = fn.__doc__
    return handler
