"""The booth's HTTP API at the edge: pay at the exit, a guard's manual open, lane states.

It lives on the edge so the booth keeps working with the cloud unreachable, on the operators'
listener (``edge.operator``), never on the cameras' port: every route needs a console-issued
operator token, and who paid or opened is that token's staff member — a ``by`` or
``operator`` field in the body is ignored. Requests are JSON; a refusal says which field and
why (zh / en).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from contract import jsoncodec
from edge.operator import needs, operator_label, operator_of
from edge.parking.lanes import ParkingLanes, PaymentError

LanesSource = Callable[[], ParkingLanes | None]
NOT_READY = "停车服务尚未就绪，请稍后再试 / parking is not ready yet: try again shortly"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumpb(data), status=status,
                        content_type="application/json")


def _error(status: int, field: str | None, message: str) -> web.Response:
    return _json({"error": message, "field": field}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=jsoncodec.loads)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(body=jsoncodec.dumpb(
            {"error": "请求体须为 JSON 对象 / the body must be a JSON object", "field": None}),
            content_type="application/json")
    return body


def parking_routes(source: LanesSource) -> list[web.RouteDef]:
    """``GET /parking/lanes``, ``POST /parking/lanes/{lane}/pay`` and ``…/open``."""

    def lanes_or_503() -> ParkingLanes:
        lanes = source()
        if lanes is None:
            raise web.HTTPServiceUnavailable(body=jsoncodec.dumpb(
                {"error": NOT_READY, "field": None}), content_type="application/json")
        return lanes

    @needs("take_payment")
    async def pay(request: web.Request) -> web.Response:
        lanes = lanes_or_503()
        body = await _body(request)
        for key in ("amount", "method"):
            if key not in body:
                return _error(400, key, f"缺少 {key} / {key} is required")
        who = operator_of(request)
        try:
            d = await lanes.pay(request.match_info["lane"], body["amount"], str(body["method"]),
                                operator_label(who))
        except PaymentError as exc:
            return _error(409, "amount" if "金额" in str(exc) else None, str(exc))
        return _json({"lane": d.lane, "plate": d.plate.text, "open": d.open, "due": str(d.due),
                      "session": d.session.id if d.session else None, "led": d.led,
                      "operator": who.who()})

    @needs("open_gate")
    async def manual_open(request: web.Request) -> web.Response:
        lanes = lanes_or_503()
        body = await _body(request)
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return _error(400, "reason", "须填写原因 / reason is required")
        who = operator_of(request)
        try:
            await lanes.manual_open(request.match_info["lane"], operator_label(who), reason)
        except PaymentError as exc:
            return _error(404, "lane", str(exc))
        return _json({"lane": request.match_info["lane"], "opened": True,
                      "by": operator_label(who), "operator": who.who()})

    @needs("read_lanes")
    async def lane_states(request: web.Request) -> web.Response:
        lanes = lanes_or_503()
        out = []
        for lane_id, lane in lanes.lanes.items():
            pending = lanes.pending.get(lane_id)
            out.append({
                "lane": lane_id, "lot": lane.rules.lot, "direction": str(lane.rules.direction),
                "inside": lanes.sessions.inside(lane.rules.lot),
                "waiting": None if pending is None else {
                    "plate": pending.decision.plate.text, "due": str(pending.decision.due),
                    "since": pending.since.isoformat(), "reason": pending.decision.reason},
            })
        lots = [{"lot": lot.id, "name": lot.name, "capacity": lot.capacity,
                 "inside": lanes.sessions.inside(lot.id),
                 "free": max(0, lot.capacity - lanes.sessions.inside(lot.id))}
                for lot in lanes.chain.lots.values()]
        return _json({"lanes": out, "lots": lots, "dataset_version": lanes.chain.data.version})

    return [web.get("/parking/lanes", lane_states),
            web.post("/parking/lanes/{lane}/pay", pay),
            web.post("/parking/lanes/{lane}/open", manual_open)]
