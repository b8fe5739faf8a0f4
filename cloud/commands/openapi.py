"""OpenAPI: remote commands to a site's edge (``/api/sites/{site}/commands``)."""

from __future__ import annotations

from typing import Any

from cloud.commands.states import (
    DEFAULT_TTL_S,
    KIND_PERMISSION,
    LIFECYCLE,
    MAX_TTL_S,
    UNLISTED_PERMISSION,
)
from cloud.web.openapi import _LOCAL, _TIME, PATHS, SCHEMAS, _body, _err, _ok, _p, _q, _ref
from contract.commands import CommandKind, CommandResult


def _schemas() -> dict[str, Any]:
    kinds = [str(k) for k in CommandKind]
    stamps: dict[str, Any] = {}
    for name in ("created_at", "not_after", "sent_at", "finished_at", "replied_at"):
        stamps |= {name: _TIME, f"{name}_local": _LOCAL}
    return {
        "CommandRequest": {
            "type": "object", "required": ["kind"], "additionalProperties": False,
            "properties": {
                "kind": {"type": "string", "enum": kinds},
                "args": {"type": "object", "description": "按命令类型的参数，由边缘网关约定校验 "
                         "(contract/commands.py) / per-kind arguments, checked by the contract"},
                "ttl_s": {"type": "integer", "minimum": 1, "maximum": MAX_TTL_S,
                          "default": DEFAULT_TTL_S,
                          "description": "有效期（秒），过期的命令边缘网关不执行 / seconds until "
                                         "not_after; a late command is refused, never run"}}},
        "Command": {"type": "object", "properties": {
            "id": {"type": "integer"}, "site": {"type": "string"},
            "cmd_id": {"type": "string", "format": "uuid"},
            "kind": {"type": "string", "enum": kinds}, "args": {"type": "object"},
            "issued_by": {"type": "string", "description": "下发人（登录的姓名）/ the login"},
            "state": {"type": "string", "enum": list(LIFECYCLE.states)},
            "final": {"type": "boolean", "description": "状态不再变化 / the state is final"},
            "result": {"type": ["string", "null"],
                       "enum": [*(str(r) for r in CommandResult), None]},
            "detail": {"type": ["string", "null"]}, **stamps}},
        "CommandList": {"type": "object", "properties": {
            "site": {"type": "string"},
            "channel": {"type": "object", "properties": {
                "available": {"type": "boolean", "description": "控制台有消息代理可下发命令 / "
                              "the console has a broker to send commands through"},
                "connected": {"type": "boolean"}}},
            "may_issue": {"type": "array", "items": {"type": "string", "enum": kinds},
                          "description": "当前登录可下发的命令类型 / the kinds this login may "
                                         "issue (pages offer only these)"},
            "commands": {"type": "array", "items": _ref("Command")}}},
    }


def _paths() -> dict[str, Any]:
    perms = "; ".join(f"{k}: {v}" for k, v in KIND_PERMISSION.items())
    site = _p("site", "小区标识 / site slug")
    bad = _err("字段无效（error.field 指明，参数如 args.gate）/ invalid field, named in "
               "error.field (arguments as args.gate)")
    return {
        "/api/sites/{site}/commands": {
            "post": {
                "summary": "向小区边缘网关下发命令 / send a command to the site's edge",
                "description": (
                    "下发人为当前登录（请求中不得含 by、issued_by）。按命令类型需要权限 / the "
                    f"issuer is the login (by, issued_by are refused); permission per kind: "
                    f"{perms}; any other: {UNLISTED_PERMISSION}. 状态 / states:\n\n"
                    + LIFECYCLE.markdown()),
                "parameters": [site], "requestBody": _body("CommandRequest"),
                "responses": {"201": _ok("Command", "已排队 / queued"), "400": bad,
                              "403": _err("角色无权下发此类命令 / role may not issue this kind"),
                              "404": _err("小区不存在 / unknown site"),
                              "409": _err("控制台没有消息代理，无法下发（no_channel）/ the "
                                          "console has no broker to send through")}},
            "get": {
                "summary": "小区的命令（新的在前）/ the site's commands, newest first",
                "parameters": [site, _q("state", {"type": "string"}, "状态 / state"),
                               _q("limit", {"type": "integer", "minimum": 1, "maximum": 500},
                                  "条数，默认 50 / how many, default 50")],
                "responses": {"200": _ok("CommandList", "命令 / commands"), "400": bad,
                              "404": _err("小区不存在 / unknown site")}}},
        "/api/sites/{site}/commands/{id}": {"get": {
            "summary": "单个命令及其状态 / one command and its state",
            "parameters": [site, _p("id", "命令 id / command id")],
            "responses": {"200": _ok("Command", "命令 / command"),
                          "404": _err("命令不存在 / unknown command")}}},
    }


SCHEMAS |= _schemas()
PATHS |= _paths()
