"""Phone scans of QR checkpoint stickers through the console API (SQLite and PostgreSQL), with
the tokens read from the printed stickers: a guard's scan is stored under the login with the
flags a supervisor must see (old sticker after a reissue, outside every round window, phone
clock off), listed by day and audited; without a broker it is stored as not forwarded.
Attacks: a forged or altered token, another site's sticker or site, a technician, a body
naming the guard — each refused and nothing stored."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from sqlalchemy import func, select

from cloud.patrol.scan import in_window, window_span
from cloud.patrol.tables import PatrolPlan, PatrolScan
from contract.patrol import Sticker, sign_sticker
from tests.cloud.patrol.test_sticker import sticker_token
from tests.support.two_sites import CREDENTIALS, SITE_A, SITE_B, Caller, TwoSites, two_sites

P = f"/api/sites/{SITE_A}/patrol"
SCANS = f"{P}/scans"


async def _setup(lead: Caller, base: str = P) -> None:
    for code, name in (("cp-gate", "北门岗亭"), ("cp-b1", "1 栋大堂"), ("cp-lone", "配电房"),
                       ("cp-off", "旧岗亭")):
        await lead.call("POST", f"{base}/checkpoints", 201, {"code": code, "name": name,
                                                             "qr": True})
    await lead.call("POST", f"{base}/routes", 201, {
        "code": "day", "name": "白班外围", "ordered": True,
        "points": [{"checkpoint": "cp-gate", "offset_s": 0},
                   {"checkpoint": "cp-b1", "offset_s": 300}]})
    # Rounds at 08:00, 10:00, … 16:00; window [S − 10 min, S + max(0+120, 300+300) + 300 s].
    await lead.call("POST", f"{base}/plans", 201, {
        "code": "day-2h", "name": "白班每2小时", "route": "day", "start": "08:00",
        "end": "18:00", "every_s": 7200, "tolerances": {"cp-b1": 300}})


async def _count(w: TwoSites) -> int:
    async with w.sessions() as s:
        return int((await s.scalar(select(func.count()).select_from(PatrolScan))) or 0)


async def test_scans_are_stored_under_the_login_with_their_flags(db_url: str) -> None:
    async with two_sites(db_url) as w:
        lead = await w.staff("chen", "operations_lead", [SITE_A])
        zhang = await w.staff("zhang", "guard", [SITE_A], name="张保安")
        await _setup(lead)
        token = await sticker_token(lead, w, "cp-gate")
        async with lead.http.get(f"{P}/checkpoints/cp-gate/sticker.svg",
                                 headers=lead.headers) as resp:
            assert "北门岗亭" in await resp.text()  # the name printed under the code

        # 10:00 server time (T0); the round of 10:00 is on.
        ok = await zhang.call("POST", SCANS, 201, {
            "token": token, "phone_time": "2026-11-23T10:00:30+08:00", "lat": 22.5431,
            "lon": 114.0579, "accuracy_m": 12.5})
        assert (ok["checkpoint"], ok["checkpoint_name"], ok["guard"], ok["guard_name"]) == (
            "cp-gate", "北门岗亭", "zhang", "张保安")
        assert ok["flags"] == [] and ok["forwarded"] is False and ok["command_id"] is None
        assert (ok["lat"], ok["lon"], ok["accuracy_m"], ok["sticker_n"]) == (
            22.5431, 114.0579, 12.5, 1)
        assert ok["phone_time"] == "2026-11-23T02:00:30.000Z"
        assert ok["server_time_local"].startswith("2026-11-23T10:00:00")

        # The sticker is reissued: the photographed old one still records, flagged.
        new = await lead.call("POST", f"{P}/checkpoints/cp-gate/sticker", 200, {})
        assert new["sticker_n"] == 2
        fresh = await sticker_token(lead, w, "cp-gate")
        assert fresh != token
        old = await zhang.call("POST", SCANS, 201, {
            "token": token, "phone_time": "2026-11-23T10:01:00+08:00"})
        assert old["flags"] == ["old_sticker"] and old["sticker_n"] == 1
        assert old["lat"] is None and old["accuracy_m"] is None  # no location: not a flag
        again = await zhang.call("POST", SCANS, 201, {
            "token": fresh, "phone_time": "2026-11-23T10:01:10+08:00"})
        assert again["flags"] == []

        w.clock.advance(3600)  # 11:00: between the 10:00 round (to 10:15) and 12:00's (11:50)
        b1 = await sticker_token(lead, w, "cp-b1")
        outside = await zhang.call("POST", SCANS, 201, {
            "token": b1, "phone_time": "2026-11-23T11:00:00+08:00"})
        assert outside["flags"] == ["outside_window"]
        skewed = await zhang.call("POST", SCANS, 201, {  # in 12:00's window, 52 min ahead
            "token": b1, "phone_time": "2026-11-23T11:52:00+08:00"})
        assert skewed["flags"] == ["clock_skew"]
        lone = await zhang.call("POST", SCANS, 201, {  # on no route at all
            "token": await sticker_token(lead, w, "cp-lone"),
            "phone_time": "2026-11-23T11:00:00Z"})
        assert lone["flags"] == ["outside_window", "clock_skew"]

        listed = await lead.call("GET", f"{SCANS}?date=2026-11-23")
        assert [s["id"] for s in listed["scans"]] == [
            lone["id"], skewed["id"], outside["id"], again["id"], old["id"], ok["id"]]
        assert [s["flags"] for s in listed["scans"]][:3] == [
            ["outside_window", "clock_skew"], ["clock_skew"], ["outside_window"]]
        assert {s["guard_name"] for s in listed["scans"]} == {"张保安"}
        assert (await zhang.call("GET", SCANS))["scans"][0]["id"] == lone["id"]  # today
        assert (await lead.call("GET", f"{SCANS}?date=2026-11-22"))["scans"] == []
        await lead.call("GET", f"{SCANS}?date=yesterday", 400)

        audit = await w.audit("patrol_scan")
        assert len(audit) == 6 and audit[0].actor_name == "张保安"
        assert audit[0].after is not None and audit[0].after["guard"] == "zhang"
        [reissued] = [a for a in await w.audit("patrol_checkpoint")
                      if a.action == "reissue_sticker"]
        assert (reissued.before, reissued.after) == ({"sticker_n": 1}, {"sticker_n": 2})


async def test_attacks_are_refused_naming_the_field_and_store_nothing(db_url: str) -> None:
    async with two_sites(db_url) as w:
        lead = await w.staff("chen", "operations_lead", [SITE_A])
        zhang = await w.staff("zhang", "guard", [SITE_A])
        south_lead = await w.staff("wu", "operations_lead", [SITE_B])
        south_guard = await w.staff("sun", "guard", [SITE_B])
        tech = await w.staff("liu", "technician", [SITE_A])
        await _setup(lead)
        await _setup(south_lead, f"/api/sites/{SITE_B}/patrol")
        token = await sticker_token(lead, w, "cp-gate")
        south = await sticker_token(south_lead, w, "cp-gate", SITE_B)
        when = "2026-11-23T10:00:00+08:00"
        head, _, mac = token.split(".")
        forged = sign_sticker("guessed-secret", Sticker(SITE_A, "cp-gate", 1))
        claims = b'{"cp":"cp-b1","n":1,"site":"north"}'  # another checkpoint, the same MAC
        altered = f"{head}.{base64.urlsafe_b64encode(claims).decode().rstrip('=')}.{mac}"
        assert altered != token

        for sent, field, reason in (
                ({"token": forged, "phone_time": when}, "token", "bad_signature"),
                ({"token": altered, "phone_time": when}, "token", "bad_signature"),
                ({"token": "https://evil.example/", "phone_time": when}, "token", "malformed"),
                ({"token": south, "phone_time": when}, "token", "bad_signature"),
                ({"token": token, "phone_time": when, "guard": "li"}, "guard", None),
                ({"token": token, "phone_time": "2026-11-23T10:00:00"}, "phone_time", None),
                ({"token": token}, "phone_time", None),
                ({"token": token, "phone_time": when, "lat": 22.5}, "lon", None),
                ({"token": token, "phone_time": when, "lat": 91, "lon": 0}, "lat", None),
                ({"token": token, "phone_time": when, "device": "x"}, "device", None)):
            err = await zhang.call("POST", SCANS, 400, sent)
            assert err["error"]["field"] == field, (sent, err)
            if reason is not None:
                assert err["error"]["reason"] == reason, (sent, err)

        # A token of the site's own secret naming a checkpoint it does not have, or one
        # taken out of service.
        nope = sign_sticker(CREDENTIALS[SITE_A], Sticker(SITE_A, "cp-nope", 1))
        err = await zhang.call("POST", SCANS, 404, {"token": nope, "phone_time": when})
        assert err["error"]["field"] == "token"
        off = await sticker_token(lead, w, "cp-off")
        await lead.call("PATCH", f"{P}/checkpoints/cp-off", 200, {"active": False})
        err = await zhang.call("POST", SCANS, 409, {"token": off, "phone_time": when})
        assert err["error"]["field"] == "token"

        # Another site: its guard with this site's sticker, this site's guard with its own.
        await south_guard.call("POST", SCANS, (403, 404), {"token": token, "phone_time": when})
        await zhang.call("POST", f"/api/sites/{SITE_B}/patrol/scans", (403, 404),
                         {"token": south, "phone_time": when})
        await tech.call("POST", SCANS, 403, {"token": token, "phone_time": when})
        await tech.call("GET", SCANS, 403)
        await zhang.call("GET", f"{P}/checkpoints/cp-gate/sticker.svg", 403)
        await zhang.call("POST", f"{P}/checkpoints/cp-gate/sticker", 403, {})
        # Nor around the sticker: the generic command route does not take a scan from a guard.
        err = await zhang.call("POST", f"/api/sites/{SITE_A}/commands", 403, {
            "kind": "patrol.scan", "args": {"checkpoint": "cp-gate", "guard": "li", "at": when}})
        assert err["error"]["field"] == "kind"
        assert await _count(w) == 0
        assert await w.audit("patrol_scan") == []

        # The control: the same guard's genuine scan goes through.
        await zhang.call("POST", SCANS, 201, {"token": token, "phone_time": when})
        await south_guard.call("POST", f"/api/sites/{SITE_B}/patrol/scans", 201,
                               {"token": south, "phone_time": when})
        assert await _count(w) == 2


def test_a_round_window_runs_from_the_start_window_to_the_last_deadline() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    plan = PatrolPlan(code="n", name="n", route="r", days=[1], start_time="22:00:00",
                      end_time="02:00:00", every_s=7200, start_window_s=600, tolerance_s=120,
                      late_s=300, tolerances={"b": 300}, escalate_s=0, active=True)
    points = [{"checkpoint": "a", "offset_s": 0}, {"checkpoint": "b", "offset_s": 300}]
    assert window_span(plan, points) == (600, 900)

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC)

    # Monday's night: rounds at 22:00 and 00:00 (Tuesday 00:00 is still Monday's shift, but
    # its own start falls on a Tuesday, which is not in days: no round then).
    assert in_window(plan, points, tz, at("2026-11-23T21:50:00+08:00"))
    assert not in_window(plan, points, tz, at("2026-11-23T21:49:59+08:00"))
    assert in_window(plan, points, tz, at("2026-11-23T22:15:00+08:00"))
    assert not in_window(plan, points, tz, at("2026-11-23T22:15:01+08:00"))
    assert not in_window(plan, points, tz, at("2026-11-24T00:05:00+08:00"))
    assert not in_window(plan, points, tz, at("2026-11-24T22:00:00+08:00"))  # Tuesday
