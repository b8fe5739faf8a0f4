"""Remote commands through the console API, on real SQLite and PostgreSQL: who may issue
which kind, the login as the issuer (never the body), arguments refused by the contract with
the field named, the lifecycle by reply and by expiry, and the answer of a console that has no
broker. Publishing through a real Mosquitto is in test_commands_broker.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.app import create_app
from cloud.auth.tables import AuditEntry
from cloud.commands.link import CommandLink
from cloud.commands.routes import configure_commands
from cloud.commands.states import EXPIRY_GRACE_S, KIND_PERMISSION, LIFECYCLE
from cloud.db.engine import make_engine, migrate, session_factory
from cloud.settings import Settings
from contract import FakeClock, topics
from contract.commands import CommandKind, CommandReply, CommandResult, encode_reply
from tests.support.auth import token_headers

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
P = "/api/sites/demo/commands"


@dataclass
class Console:
    client: TestClient[Any, Any]
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    link: CommandLink | None

    async def as_role(self, role: str, site: str | None = "demo") -> dict[str, str]:
        """A token of ``role`` serving ``site`` (created when new; None: every site)."""
        if site is None:
            await token_headers(self.sessions, "guard", ["demo"])  # the site exists
        return await token_headers(self.sessions, role, None if site is None else [site])

    async def call(self, method: str, path: str, headers: dict[str, str], status: int,
                   body: Any = None) -> Any:
        resp = await self.client.request(method, path, json=body, headers=headers)
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def reply(self, site: str, cmd_id: str, result: CommandResult,
                    detail: str = "") -> bool:
        assert self.link is not None
        return await self.link.handle_reply(topics.up_cmd_reply(site), encode_reply(
            CommandReply(cmd_id=cmd_id, result=result, at=self.clock.now(), detail=detail)))


@asynccontextmanager
async def console(db_url: str, *, channel: bool = True, broker: str = "mqtt://127.0.0.1:1",
                  user: str | None = None, password: str | None = None,
                  ) -> AsyncIterator[Console]:
    """The API with a command link to ``broker``, not started here (the broker tests run it;
    here nothing is published)."""
    await migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=db_url), sessions, clock)
    link = CommandLink(broker, user, password, sessions, clock, max_backoff=1.0,
                       sweep_s=0.05) if channel else None
    configure_commands(app, link)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Console(client, sessions, clock, link)
    finally:
        await client.close()
        await engine.dispose()


async def test_a_guard_resets_linkage_as_the_login_and_the_command_is_stored_and_audited(
        db_url: str) -> None:
    async with console(db_url) as c:
        guard = await c.as_role("guard")
        me = await c.call("GET", "/api/me", guard, 200)
        cmd = await c.call("POST", P, guard, 201, {"kind": "linkage.reset", "args": {}})
        assert (cmd["kind"], cmd["state"], cmd["issued_by"], cmd["final"]) == (
            "linkage.reset", "queued", me["name"], False)
        assert cmd["not_after"] == "2026-12-07T01:01:00.000Z"  # default ttl 60 s
        assert c.link is not None and c.link.pending == 1  # handed to the link, not waited for
        assert await c.call("GET", f"{P}/{cmd['id']}", guard, 200) == cmd
        listed = await c.call("GET", P, guard, 200)
        assert listed["channel"] == {"available": True, "connected": False}
        assert [x["cmd_id"] for x in listed["commands"]] == [cmd["cmd_id"]]
        async with c.sessions() as session:
            [audit] = (await session.scalars(select(AuditEntry).where(
                AuditEntry.entity == "command"))).all()
        assert (audit.action, audit.entity_id, audit.actor, audit.actor_name) == (
            "issue", str(cmd["id"]), me["ref"], me["name"])
        assert audit.after is not None and audit.after["cmd_id"] == cmd["cmd_id"]


@pytest.mark.parametrize(("role", "allowed"), [
    ("guard", {"gate.open", "gate.close", "door.open", "linkage.reset"}),
    ("operations_lead", set(KIND_PERMISSION)),
    # patrol.scan is unlisted (staff.admin): a guard records a scan through a verified
    # sticker (POST …/patrol/scans), never by naming any guard and checkpoint here.
    ("admin", set(KIND_PERMISSION) | {"patrol.scan"}),
    ("technician", set()),
    ("finance", set()),
    ("installer", set()),
])
async def test_each_kind_needs_its_permission(sqlite_url: str, role: str,
                                              allowed: set[str]) -> None:
    args = {"gate.open": {"gate": "g1"}, "gate.close": {"gate": "g1"}, "door.open": {"door": "d1"},
            "door.mode": {"door": "d1", "mode": "normally_open"}, "linkage.reset": {},
            "elevator.recall": {"elevator": "elev-1-a"}, "dataset.resync": {"dataset": "parking"},
            "device.reconnect": {"device": "cam-in-1"},
            "patrol.scan": {"checkpoint": "cp-1", "guard": "x", "at": "2026-12-07T10:00:00+08:00"}}
    assert set(args) == {str(k) for k in CommandKind}
    async with console(sqlite_url) as c:
        who = await c.as_role(role)
        for kind, kind_args in args.items():
            want = 201 if kind in allowed else 403
            body = await c.call("POST", P, who, want, {"kind": kind, "args": kind_args})
            if want == 403:
                assert body["error"]["field"] == "kind"
                assert body["error"]["permission"] == KIND_PERMISSION.get(kind, "staff.admin")
        # The list says the same (what pages offer comes from here, never from a copy).
        listed = await c.call("GET", P, who, 200)
        assert set(listed["may_issue"]) == allowed
        customer_service = await c.as_role("customer_service")
        await c.call("POST", P, customer_service, 403, {"kind": "linkage.reset"})


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "linkage.reset", "by": "张三"}, "by"),
    ({"kind": "linkage.reset", "issued_by": "张三"}, "issued_by"),
    ({"kind": "gate.open", "args": {}}, "args.gate"),
    ({"kind": "gate.open", "args": {"gate": "g1", "speed": "fast"}}, "args.speed"),
    ({"kind": "gate.open", "args": {"gate": "出口 1"}}, "args.gate"),
    ({"kind": "door.mode", "args": {"door": "d1", "mode": "open"}}, "args.mode"),
    ({"kind": "gate.open", "args": ["g1"]}, "args"),
    ({"kind": "launch"}, "kind"),
    ({"args": {}}, "kind"),
    ({"kind": "linkage.reset", "ttl_s": 601}, "ttl_s"),
    ({"kind": "linkage.reset", "ttl_s": 0}, "ttl_s"),
    ({"kind": "linkage.reset", "ttl_s": True}, "ttl_s"),
    ({"kind": "linkage.reset", "site": "north"}, "site"),
])
async def test_a_refused_body_names_its_field_and_stores_nothing(
        db_url: str, body: dict[str, Any], field: str) -> None:
    async with console(db_url) as c:
        admin = await c.as_role("admin", None)
        refused = await c.call("POST", P, admin, 400, body)
        assert refused["error"]["field"] == field, refused
        assert " / " in refused["error"]["message"]  # zh-CN / English
        assert (await c.call("GET", P, admin, 200))["commands"] == []


async def test_another_sites_login_sees_and_issues_nothing_here(sqlite_url: str) -> None:
    async with console(sqlite_url) as c:
        mine = await c.call("POST", P, await c.as_role("guard"), 201, {"kind": "linkage.reset"})
        north = await c.as_role("guard", "north")
        await c.call("POST", P, north, 404, {"kind": "linkage.reset"})
        await c.call("GET", P, north, 404)
        await c.call("GET", f"{P}/{mine['id']}", north, 404)
        await c.call("GET", f"/api/sites/north/commands/{mine['id']}", north, 404)


async def test_replies_move_the_state_and_only_from_the_commands_own_site(db_url: str) -> None:
    async with console(db_url) as c:
        guard = await c.as_role("guard")
        ok = await c.call("POST", P, guard, 201, {"kind": "gate.open", "args": {"gate": "g1"}})
        refused = await c.call("POST", P, guard, 201, {"kind": "linkage.reset"})

        assert not await c.reply("north", ok["cmd_id"], CommandResult.OK)  # not north's
        assert (await c.call("GET", f"{P}/{ok['id']}", guard, 200))["state"] == "queued"

        assert await c.reply("demo", ok["cmd_id"], CommandResult.OK, "道闸已抬起 / raised")
        done = await c.call("GET", f"{P}/{ok['id']}", guard, 200)
        assert (done["state"], done["result"], done["detail"], done["final"]) == (
            "done", "ok", "道闸已抬起 / raised", True)
        assert not await c.reply("demo", ok["cmd_id"], CommandResult.FAILED)  # a duplicate
        assert (await c.call("GET", f"{P}/{ok['id']}", guard, 200))["state"] == "done"

        assert await c.reply("demo", refused["cmd_id"], CommandResult.REFUSED,
                             "消防主机仍报火警 / the panel still reports fire")
        assert (await c.call("GET", f"{P}/{refused['id']}", guard, 200))["state"] == "refused"
        assert c.link is not None
        assert not await c.link.handle_reply(topics.up_cmd_reply("demo"), b'{"cmd_id": 1}')
        assert not await c.link.handle_reply(topics.up_events("demo"), b"{}")


async def test_a_command_with_no_reply_expires_and_a_late_reply_still_tells_the_truth(
        db_url: str) -> None:
    async with console(db_url) as c:
        guard = await c.as_role("guard")
        cmd = await c.call("POST", P, guard, 201, {"kind": "linkage.reset", "ttl_s": 10})
        c.clock.advance(10 + EXPIRY_GRACE_S)  # at not_after + grace: a reply may still come
        assert (await c.call("GET", f"{P}/{cmd['id']}", guard, 200))["state"] == "queued"
        c.clock.advance(1)
        expired = await c.call("GET", f"{P}/{cmd['id']}", guard, 200)
        assert (expired["state"], expired["result"], expired["final"]) == ("expired", None, True)
        assert "no reply" in expired["detail"]
        # The edge ran it just in time and its reply was late: the edge's word wins.
        assert await c.reply("demo", cmd["cmd_id"], CommandResult.OK)
        assert (await c.call("GET", f"{P}/{cmd['id']}", guard, 200))["state"] == "done"

        late = await c.call("POST", P, guard, 201, {"kind": "linkage.reset"})
        assert await c.reply("demo", late["cmd_id"], CommandResult.EXPIRED, "arrived late")
        assert (await c.call("GET", f"{P}/{late['id']}", guard, 200))["state"] == "expired"


def test_the_lifecycle_ends_in_done_refused_expired_or_failed() -> None:
    assert LIFECYCLE.states == ("queued", "sent", "done", "refused", "expired", "failed")
    assert LIFECYCLE.allowed_from("queued") == ["send", "done", "refuse", "fail", "expire"]
    for final in ("done", "refused", "failed"):
        assert LIFECYCLE.allowed_from(final) == []
    assert LIFECYCLE.allowed_from("expired") == ["done", "refuse", "fail"]  # a late reply


async def test_a_console_without_a_broker_says_so_and_issues_nothing(sqlite_url: str) -> None:
    async with console(sqlite_url, channel=False) as c:
        guard = await c.as_role("guard")
        refused = await c.call("POST", P, guard, 409, {"kind": "linkage.reset"})
        assert refused["error"]["code"] == "no_channel"
        listed = await c.call("GET", P, guard, 200)
        assert listed == {"site": "demo", "channel": {"available": False, "connected": False},
                          "may_issue": ["gate.open", "gate.close", "door.open",
                                        "linkage.reset"],
                          "commands": []}


async def test_list_filters_and_unknown_ids(sqlite_url: str) -> None:
    async with console(sqlite_url) as c:
        guard = await c.as_role("guard")
        a = await c.call("POST", P, guard, 201, {"kind": "linkage.reset"})
        await c.call("POST", P, guard, 201, {"kind": "gate.open", "args": {"gate": "g1"}})
        assert await c.reply("demo", a["cmd_id"], CommandResult.OK)
        done = await c.call("GET", f"{P}?state=done", guard, 200)
        assert [x["id"] for x in done["commands"]] == [a["id"]]
        assert len((await c.call("GET", f"{P}?limit=1", guard, 200))["commands"]) == 1
        assert (await c.call("GET", f"{P}?state=bogus", guard, 400))["error"]["field"] == "state"
        for bad in ("0", "x", "99999999999", "999"):
            await c.call("GET", f"{P}/{bad}", guard, 404)
