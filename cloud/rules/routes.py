"""Event rules through the API: read the rules in force, check an edit, save it as a version.

The body is the rule file itself (YAML), not JSON wrapping it: people edit it as a file, with
comments, and every problem points at its line and column in what they sent. A refused file
changes nothing; the running rules stay as they were. Accepted versions reach every console
process through ``cloud.rules.store.run_reload`` within a few seconds.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from cloud.auth.audit import actor_of, record
from cloud.auth.guard import requires
from cloud.rules import STARTUP_FILE, store
from cloud.rules.load import RulesError
from cloud.web.errors import ApiError, bad_param
from cloud.web.keys import CLOCK, SESSIONS
from cloud.web.params import text_param
from cloud.web.respond import json_ok

MAX_BY = 64
MAX_NOTE = 2000
#: The rule file or folder the console started with (``Settings.rules_path``); unset: the
#: shipped defaults. Shown by ``GET /api/rules`` until a version is saved.
_TEXT_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
               "text/plain", "application/octet-stream")


def add_rules_routes(app: web.Application) -> None:
    app.router.add_get("/api/rules", get_rules, name="rules")
    app.router.add_put("/api/rules", put_rules, name="rules_put")
    app.router.add_post("/api/rules/check", check_rules, name="rules_check")


@requires("workorders.read")
async def get_rules(request: web.Request) -> web.Response:
    """The rules in force: the newest stored version, else the file the console started with."""
    async with request.app[SESSIONS]() as session:
        newest = await store.current(session)
    if newest is not None:
        return json_ok({"version": newest[0], "yaml": newest[1], "source": "database"})
    name, text = store.startup_text(request.app.get(STARTUP_FILE))
    return json_ok({"version": 0, "yaml": text, "source": "file", "file": name})


@requires("workorders.admin")
async def put_rules(request: web.Request) -> web.Response:
    """Save a new version, as the logged-in principal (a ``?by=`` naming someone is refused).

    The rules apply to every site, so only a principal serving every site may change them
    (a site's operations lead may not rewrite what happens in other communities); each
    version is in the audit log with the text before and after."""
    actor = actor_of(request)
    if "by" in request.query:
        raise bad_param("by", "修改人由登录身份决定，请勿填写 ?by=",
                        "who made the change is your login; do not send ?by=")
    if actor.sites is not None:
        raise ApiError(403, "forbidden", "事件规则作用于所有小区，只有负责全部小区的账号可以修改",
                       "the event rules apply to every site: only a login serving every "
                       "site may change them", field=None)
    by = actor.name[:MAX_BY]
    note = text_param(request, "note", MAX_NOTE)
    text = await _yaml_body(request)
    now = request.app[CLOCK].now()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            before = await store.current(session)
            version = await store.save(session, text, by, note, now)
            record(session, at=now, actor=actor, action="update", entity="rules",
                   entity_id=version,
                   before={"version": 0 if before is None else before[0],
                           "yaml": None if before is None else before[1]},
                   after={"version": version, "yaml": text},
                   detail={"note": note} if note else None)
    except RulesError as exc:
        raise _refused(exc) from None
    except IntegrityError:
        raise ApiError(409, "rules_conflict", "同时有另一份修改被保存，请刷新后重试",
                       "another edit was saved at the same moment; reload and retry") from None
    return json_ok({"version": version, "source": "database", "by": by})


@requires("workorders.admin")
async def check_rules(request: web.Request) -> web.Response:
    text = await _yaml_body(request)
    try:
        store.check(text)
    except RulesError as exc:
        raise _refused(exc) from None
    return json_ok({"ok": True, "problems": []})


async def _yaml_body(request: web.Request) -> str:
    if request.content_type not in _TEXT_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       "请求体须为规则文件本身（Content-Type: application/yaml）",
                       "send the rule file itself as the body (Content-Type: application/yaml)")
    raw = await request.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_body", "规则文件须为 UTF-8 编码",
                       "the rule file must be UTF-8") from None


def _refused(exc: RulesError) -> ApiError:
    problems: list[dict[str, Any]] = [
        {"file": p.file, "line": p.line, "col": p.col, "message": p.what, "fix": p.fix}
        for p in exc.problems]
    return ApiError(400, "rules_invalid",
                    f"规则文件有 {len(problems)} 处错误，未保存，现行规则不变",
                    f"the rule file has {len(problems)} problem(s); nothing was saved and "
                    "the rules in force are unchanged", problems=problems)
