"""The booth's HTTP API at the edge: pay at the exit, a guard's manual open, lane states.

It lives on the edge (same port as the camera pushes) so the booth keeps working with the
cloud unreachable. Requests are JSON; a refusal says which field and why (zh / en).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contract import jsoncodec
from edge.parking.lanes import ParkingLanes, PaymentError

LANES_KEY = web.AppKey("parking_lanes", ParkingLanes)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=jsoncodec.dumpb(data), status=status,
                        content_type="application/json")


def _error(status: int, field: str | None, message: str) -> web.Response:
    return _json({"error": message, "field": field}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=jsoncodec.loads)
    except ValueError:
        raise web.HTTPBadRequest(body=jsoncodec.dumpb(
            {"error": "请求体须为 JSON 对象 / the body must be a JSON object", "field": None}),
            content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(body=jsoncodec.dumpb(
            {"error": "请求体须为 JSON 对象 / the body must be a JSON object", "field": None}),
            content_type="application/json")
    return body


async def pay(request: web.Request) -> web.Response:
    lanes = request.app[LANES_KEY]
    body = await _body(request)
    for key in ("amount", "method"):
        if key not in body:
            return _error(400, key, f"缺少 {key} / {key} is required")
    operator = body.get("operator")
    try:
        d = await lanes.pay(request.match_info["lane"], body["amount"], str(body["method"]),
                            str(operator) if operator is not None else None)
    except PaymentError as exc:
        return _error(409, "amount" if "金额" in str(exc) else None, str(exc))
    return _json({"lane": d.lane, "plate": d.plate.text, "open": d.open, "due": str(d.due),
                  "session": d.session.id if d.session else None, "led": d.led})


async def manual_open(request: web.Request) -> web.Response:
    lanes = request.app[LANES_KEY]
    body = await _body(request)
    by, reason = body.get("by"), body.get("reason")
    if not isinstance(by, str) or not by.strip():
        return _error(400, "by", "须填写操作人 / by (who opens) is required")
    if not isinstance(reason, str) or not reason.strip():
        return _error(400, "reason", "须填写原因 / reason is required")
    try:
        await lanes.manual_open(request.match_info["lane"], by, reason)
    except PaymentError as exc:
        return _error(404, "lane", str(exc))
    return _json({"lane": request.match_info["lane"], "opened": True, "by": by})


async def lane_states(request: web.Request) -> web.Response:
    lanes = request.app[LANES_KEY]
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


def add_routes(app: web.Application, lanes: ParkingLanes) -> None:
    app[LANES_KEY] = lanes
    app.router.add_get("/parking/lanes", lane_states)
    app.router.add_post("/parking/lanes/{lane}/pay", pay)
    app.router.add_post("/parking/lanes/{lane}/open", manual_open)
