"""``/api/sites/{site}/commands``: issue a command to the site's edge and follow it.

The issuer is the login (``actor_of``): a body naming someone (``by``, ``issued_by``) is
refused. The permission depends on the kind (``states.KIND_PERMISSION``), checked here after
the route's own ``devices.read``. The command is committed before it is handed to the MQTT
link, which never holds up the request. Without a link (a console run without a broker) the
list says ``channel.available: false`` and issuing answers 409 ``no_channel`` (a state of this
console, not a fault: 5xx stays for bugs), so pages fall back to telling the guard where to act
at the edge box.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from cloud.auth.audit import actor_of
from cloud.auth.guard import requires
from cloud.commands.link import COMMAND_LINK, CommandLink
from cloud.commands.service import InvalidCommand, expire, issue
from cloud.commands.states import (
    DEFAULT_TTL_S,
    FINAL_STATES,
    MAX_TTL_S,
    STATES,
    permission_for,
)
from cloud.commands.tables import RemoteCommand
from cloud.db.models import Site
from cloud.web.body import json_object, text_field, unknown_fields
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import int_param, text_param
from cloud.web.present import times, zone
from cloud.web.queries import site_by_slug
from cloud.web.respond import json_ok
from contract.commands import CommandKind

FIELDS = ("kind", "args", "ttl_s")
#: Body fields that would name the issuer: the login is the issuer.
ACTOR_FIELDS = ("by", "issued_by")
MAX_ID = 2**31 - 1


def configure_commands(app: web.Application, link: CommandLink | None) -> None:
    """Give the handlers the MQTT link (None: no channel, issuing answers 409)."""
    if link is not None:
        app[COMMAND_LINK] = link


def command_json(row: RemoteCommand, site: Site) -> dict[str, Any]:
    tz = zone(site.timezone or "")
    return {"id": row.id, "site": site.slug, "cmd_id": row.cmd_id, "kind": row.kind,
            "args": row.args, "issued_by": row.issued_by, "state": row.state,
            "final": row.state in FINAL_STATES, "result": row.result, "detail": row.detail,
            **times("created_at", row.created_at, tz), **times("not_after", row.not_after, tz),
            **times("sent_at", row.sent_at, tz), **times("finished_at", row.finished_at, tz),
            **times("replied_at", row.replied_at, tz)}


def channel_json(request: web.Request) -> dict[str, bool]:
    link = request.app.get(COMMAND_LINK)
    return {"available": link is not None, "connected": bool(link and link.connected)}


def may_issue(request: web.Request) -> list[str]:
    """The kinds the login may issue (``states.KIND_PERMISSION``): pages offer only these."""
    actor = actor_of(request)
    return [str(k) for k in CommandKind if actor.can(permission_for(str(k)))]


def _ttl(body: dict[str, Any]) -> int:
    raw = body.get("ttl_s", DEFAULT_TTL_S)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_TTL_S:
        raise bad_param("ttl_s", f"须为 1 到 {MAX_TTL_S} 之间的整数（秒）",
                        f"must be a whole number of seconds from 1 to {MAX_TTL_S}")
    return raw


@requires("devices.read")  # and the kind's own permission, checked below
async def create_command(request: web.Request) -> web.Response:
    slug = request.match_info["site"]
    body = await json_object(request)
    named = next((f for f in ACTOR_FIELDS if f in body), None)
    if named is not None:
        raise bad_param(named, "下发人由登录身份决定，不能在请求中指定",
                        "the issuer is the login; it cannot be given in the request")
    unknown_fields(body, FIELDS)
    kind = text_field(body, "kind", 32) or ""
    kinds = [str(k) for k in CommandKind]
    if kind not in kinds:
        raise bad_param("kind", f"须为以下之一：{', '.join(kinds)}",
                        f"must be one of {', '.join(kinds)}")
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise bad_param("args", "须为 JSON 对象", "must be a JSON object")
    ttl_s = _ttl(body)
    actor = actor_of(request)
    permission = permission_for(kind)
    if not actor.can(permission):
        raise ApiError(403, "forbidden", f"当前角色不能下发此命令（需要权限：{permission}）",
                       f"your role may not issue this command (needs {permission})",
                       field="kind", permission=permission)
    link = request.app.get(COMMAND_LINK)
    if link is None:
        raise ApiError(409, "no_channel", "控制台未连接消息代理，无法下发命令；请在边缘网关操作",
                       "the console has no broker to send commands through; act at the edge box")
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, slug)
        try:
            row = await issue(session, site, actor, kind, args, ttl_s, now)
        except InvalidCommand as exc:
            raise bad_param(exc.field, f"命令不符合约定：{exc.reason}", exc.reason) from None
        await session.commit()
        out = command_json(row, site)
    link.submit(row.id)
    return json_ok(out, status=201)


@requires("devices.read")
async def list_commands(request: web.Request) -> web.Response:
    """The site's newest commands (``?state=``, ``?limit=``), whether it has a channel and
    which kinds the login may issue."""
    state = text_param(request, "state", 16)
    if state is not None and state not in STATES:
        raise bad_param("state", f"须为以下之一：{', '.join(STATES)}",
                        f"must be one of {', '.join(STATES)}")
    limit = int_param(request, "limit", 50, 1, 500)
    now = request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
        query = select(RemoteCommand).where(RemoteCommand.site_id == site.id)
        if state is not None:
            query = query.where(RemoteCommand.state == state)
        rows = (await session.scalars(query.order_by(RemoteCommand.id.desc())
                                      .limit(limit))).all()
        if sum(expire(r, now) for r in rows):
            await session.commit()
        out = [command_json(r, site) for r in rows]
    return json_ok({"site": site.slug, "channel": channel_json(request),
                    "may_issue": may_issue(request), "commands": out})


@requires("devices.read")
async def get_command(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "命令", "command", raw)
    async with request.app[SESSIONS]() as session:
        site = await site_by_slug(session, request.match_info["site"])
        row = await session.get(RemoteCommand, int(raw))
        if row is None or row.site_id != site.id:
            raise not_found("id", "命令", "command", raw)
        if expire(row, request.app[CLOCK].now()):
            await session.commit()
        return json_ok(command_json(row, site))


def add_command_routes(app: web.Application) -> None:
    base = "/api/sites/{site}/commands"
    app.router.add_post(base, create_command, name="commands_create")
    app.router.add_get(base, list_commands, name="commands_list")
    app.router.add_get(base + "/{id}", get_command, name="commands_get")
