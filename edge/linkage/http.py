"""Fire linkage on the edge's local HTTP: what is active, and a guard's reset.

Local on purpose: the guard room must see and reset linkage with the cloud unreachable. The
routes mount on any aiohttp app of the edge (health server or booth API). A refusal says
which field and why (zh / en).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contract import jsoncodec
from edge.linkage.engine import NOT_STARTED, Linkage

NOT_JSON = "请求体须为 JSON 对象 / the body must be a JSON object"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumpb(data), status=status,
                        content_type="application/json")


def _error(status: int, field: str | None, message: str) -> web.Response:
    return _json({"error": message, "field": field}, status)


def linkage_routes(linkage: Linkage) -> list[web.RouteDef]:
    """``GET /linkage`` (status) and ``POST /linkage/reset`` ``{"by": ..., "reason": ...}``."""

    async def status(request: web.Request) -> web.Response:
        return _json(linkage.status())

    async def reset(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=jsoncodec.loads)
        except ValueError:
            return _error(400, None, NOT_JSON)
        if not isinstance(body, dict):
            return _error(400, None, NOT_JSON)
        by, reason = body.get("by"), body.get("reason")
        if not isinstance(by, str) or not by.strip():
            return _error(400, "by", "须填写操作人（by） / by (who resets) is required")
        if not isinstance(reason, str) or not reason.strip():
            return _error(400, "reason", "须填写复位原因（reason） / reason is required")
        result = await linkage.reset(by=by, reason=reason)
        if result.get("result") == "refused":
            status_code = 503 if result.get("reason") == NOT_STARTED else 409
            return _error(status_code, None, str(result.get("reason")))
        return _json(result)

    return [web.get("/linkage", status), web.post("/linkage/reset", reset)]
