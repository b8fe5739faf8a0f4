"""Fire linkage on the edge's local HTTP: what is active (health port), and a guard's reset
(operators' listener).

Local on purpose: the guard room must see and reset linkage with the cloud unreachable.
``GET /linkage`` only reads and stays on the health port. ``POST /linkage/reset`` ends an
incident (barriers come down, doors lock again), so it lives behind ``edge.operator``: a
console-issued token whose role may ``reset_linkage``, JSON only, same origin only; the
reset is recorded as that staff member. It is refused 409 while a panel still reports fire
— a reset then would drop the barriers on the evacuation. A refusal says which field and why
(zh / en).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contract import jsoncodec
from edge.linkage.engine import Linkage
from edge.linkage.reset import ActiveFires, ResetRefused, reset_linkage
from edge.operator import needs, operator_label, operator_of

NOT_JSON = "请求体须为 JSON 对象 / the body must be a JSON object"

def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumpb(data), status=status,
                        content_type="application/json")


def _error(status: int, field: str | None, message: str, **extra: Any) -> web.Response:
    return _json({"error": message, "field": field, **extra}, status)


def linkage_routes(linkage: Linkage) -> list[web.RouteDef]:
    """``GET /linkage``: the active incident and the last reset (read only)."""

    async def status(request: web.Request) -> web.Response:
        return _json(linkage.status())

    return [web.get("/linkage", status)]


def reset_routes(linkage: Linkage, active_fires: ActiveFires | None = None
                 ) -> list[web.RouteDef]:
    """``POST /linkage/reset`` ``{"reason": ...}`` for the operators' listener."""

    @needs("reset_linkage")
    async def reset(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=jsoncodec.loads)
        except ValueError:
            return _error(400, None, NOT_JSON)
        if not isinstance(body, dict):
            return _error(400, None, NOT_JSON)
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return _error(400, "reason", "须填写复位原因（reason） / reason is required")
        who = operator_of(request)
        try:  # the same rules as the console's linkage.reset command (edge/linkage/reset.py)
            result = await reset_linkage(linkage, active_fires, by=operator_label(who),
                                         reason=reason)
        except ResetRefused as refused:
            extra = {"active": refused.active} if refused.code == "fire_active" else {}
            return _error(503 if refused.code == "not_started" else 409, None, refused.message,
                          **extra)
        return _json({**result, "operator": who.who()})

    return [web.post("/linkage/reset", reset)]
