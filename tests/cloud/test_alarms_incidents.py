"""Incidents and the edge's linkage state through the console's HTTP API, on SQLite and
PostgreSQL: the alarms of one fire are one incident (and another panel, another kind or a
fire hours later are not); one request acknowledges or resolves every member, recorded as the
login; what the edge last said about linkage (barriers held open, or reset) per site."""

from __future__ import annotations

from typing import Any

from tests.cloud.test_alarms_api import Console, console, error
from tests.cloud.test_alarms_ingest import fire_data

__all__ = ["console"]  # the fixture, used by name below


def system_fire() -> dict[str, Any]:
    """The panel's own "fire" report (system level: no zone, no position, no place)."""
    data = fire_data(scope="system", description="火灾报警系统火警")
    for key in ("zone", "position", "component_address", "component_type", "location",
                "location_text", "component_type_name"):
        data.pop(key)
    return data


async def play_fire(console: Console) -> list[dict[str, Any]]:
    """A fire as the demo's UITD plays it: the detector, the panel, a manual call point (with
    a repeat of the detector), each a few seconds apart; the active alarms, oldest first."""
    edge = console.edge
    await edge.send(edge.event("fire.alarm", fire_data()))
    console.clock.advance(1)
    await edge.send(edge.event("fire.alarm", system_fire()))
    console.clock.advance(2)
    await edge.send(edge.event("fire.alarm", fire_data(zone=10, position=9,
                                                       description="三楼手动报警按钮")))
    console.clock.advance(5)
    await edge.send(edge.event("fire.alarm", fire_data()))  # the detector again
    alarms = (await console.get("/api/alarms?state=open"))["alarms"]
    return sorted(alarms, key=lambda a: a["id"])


async def test_the_alarms_of_one_fire_are_one_incident_and_others_are_not(
        console: Console) -> None:
    fire = await play_fire(console)
    assert [a["count"] for a in fire] == [2, 1, 1]
    first = fire[0]["id"]
    assert {a["incident"] for a in fire} == {first}
    # The same answer for one alarm as for the list.
    assert (await console.get(f"/api/alarms/{fire[2]['id']}"))["incident"] == first

    edge = console.edge
    # Another panel, another kind of the same panel: incidents of their own.
    await edge.send(edge.event("fire.alarm", fire_data(uitd="uitd-2"), device="uitd-2"))
    await edge.send(edge.event("fire.fault", fire_data("fire.fault", zone=12)))
    # A fire on the first panel more than 30 min after its last event: a new incident.
    console.clock.advance(31 * 60)
    await edge.send(edge.event("fire.alarm", fire_data(zone=20, position=1)))
    alarms = {(a["device"], a["kind"], a["evidence"].get("zone")): a
              for a in (await console.get("/api/alarms"))["alarms"]}
    other_panel = alarms[("uitd-2", "fire.alarm", 10)]
    fault = alarms[("uitd-1", "fire.fault", 12)]
    later = alarms[("uitd-1", "fire.alarm", 20)]
    assert other_panel["incident"] == other_panel["id"] != first
    assert fault["incident"] == fault["id"]
    assert later["incident"] == later["id"]
    assert {a["incident"] for a in fire} == {first}  # unchanged by what came after


async def test_one_request_acknowledges_then_resolves_every_alarm_of_the_incident(
        console: Console) -> None:
    fire = await play_fire(console)
    incident = fire[0]["incident"]
    guard = await console.login("值班保安")
    # One member was already acknowledged by someone else: the rest are acknowledged now.
    await console.post(f"/api/alarms/{fire[1]['id']}/acknowledge", {},
                       login=await console.login("另一保安"))
    acked = await console.post(f"/api/incidents/{incident}/acknowledge", {}, login=guard)
    assert acked["incident"] == incident and acked["action"] == "acknowledge"
    assert sorted(acked["acted"]) == [fire[0]["id"], fire[2]["id"]]
    assert {a["state"] for a in acked["alarms"]} == {"acknowledged"}
    assert sorted(a["acknowledged_by"] for a in acked["alarms"]) == [
        "token:值班保安", "token:值班保安", "token:另一保安"]
    # Acknowledging again: nothing to do, said with the states.
    again = await console.post(f"/api/incidents/{incident}/acknowledge", {}, 409)
    assert error(again)[:2] == ("invalid_transition", "state")
    assert again["error"]["states"] == ["acknowledged"]

    done = await console.post(f"/api/incidents/{incident}/resolve", {}, login=guard)
    assert sorted(done["acted"]) == sorted(a["id"] for a in fire)
    for alarm in (await console.get("/api/alarms"))["alarms"]:
        assert (alarm["state"], alarm["resolved_by"]) == ("resolved", "token:值班保安")
        history = (await console.get(f"/api/alarms/{alarm['id']}"))["history"]
        assert history[-1]["action"] == "resolve" and history[-1]["by"] == "token:值班保安"
    assert (await console.get("/api/alarms?state=open,acknowledged"))["alarms"] == []


async def test_an_incident_action_names_its_mistakes(console: Console) -> None:
    fire = await play_fire(console)
    incident = fire[0]["incident"]
    base = f"/api/incidents/{incident}"
    for action, body, field in (
            ("acknowledge", {"by": "张三"}, "by"),
            ("resolve", {"role": "guard"}, "role"),
            ("false-alarm", {}, "note"),
            ("acknowledge", {"alarms": "all"}, "alarms"),
            ("acknowledge", {"alarms": [fire[0]["id"], 999999]}, "alarms"),
            ("acknowledge", {"everything": True}, "everything")):
        got = await console.post(f"{base}/{action}", body, 400)
        assert error(got)[:2] == ("invalid_parameter", field), (action, body)
    # An id that is a member but not the incident's first alarm is not an incident.
    for path in (f"/api/incidents/{fire[1]['id']}/acknowledge", "/api/incidents/999999/start",
                 "/api/incidents/x/start"):
        assert error(await console.post(path, {}, 404))[:2] == ("not_found", "id"), path
    assert {a["state"] for a in (await console.get("/api/alarms"))["alarms"]} == {"open"}

    # Only the members the board showed: one that joined later stays open.
    shown = [fire[0]["id"], fire[1]["id"]]
    false = await console.post(f"{base}/false-alarm", {"note": "测试探测器", "alarms": shown})
    assert sorted(false["acted"]) == shown
    states = {a["id"]: a["state"] for a in false["alarms"]}
    assert states == {fire[0]["id"]: "false_alarm", fire[1]["id"]: "false_alarm",
                      fire[2]["id"]: "open"}


def linkage(action: str, target: str, result: str, incident: str = "inc-1",
            **extra: Any) -> dict[str, Any]:
    return {"v": 1, "incident": incident, "rule": "default", "cause_event": "e-1",
            "action": action, "target": target, "building": None, "result": result,
            "detail": "道闸已抬起并保持常开 / gate raised and held open", **extra}


async def test_the_linkage_state_says_what_the_edge_holds_and_when_it_was_reset(
        console: Console) -> None:
    edge = console.edge
    state = await console.get("/api/alarms/linkage")
    assert state["sites"] == []  # no site yet
    await edge.send(edge.event("fire.alarm", fire_data()))
    [site] = (await console.get("/api/alarms/linkage"))["sites"]
    assert (site["site"], site["state"]) == ("demo", "none")

    console.clock.advance(1)
    await edge.send(
        edge.event("linkage.triggered", {
            "v": 1, "incident": "inc-1", "rule": "default", "cause_event": "e-1",
            "building": "1栋", "actions": [], "message": "火警联动启动 / fire linkage triggered"},
            device="linkage"),
        edge.event("linkage.action", linkage("raise_gate", "gate-out-1", "ok"),
                   device="linkage"),
        edge.event("linkage.action", linkage("recall_elevator", "elev-1-a", "failed",
                                             detail="超时 / timed out"), device="linkage"))
    # Resolving the fire in the console changes nothing at the edge.
    fire = (await console.get("/api/alarms"))["alarms"][0]
    await console.post(f"/api/incidents/{fire['incident']}/resolve", {})
    [site] = (await console.get("/api/alarms/linkage?site=demo"))["sites"]
    assert (site["state"], site["incident"]) == ("active", "inc-1")
    assert site["since"] == "2026-11-23T02:00:01.000Z"
    assert site["since_local"].startswith("2026-11-23T10:00:01")
    assert [(a["action"], a["target"], a["result"]) for a in site["actions"]] == [
        ("raise_gate", "gate-out-1", "ok"), ("recall_elevator", "elev-1-a", "failed")]

    console.clock.advance(600)
    await edge.send(edge.event("linkage.reset", {
        "v": 1, "incident": "inc-1", "by": "guard-1 (guard, user:3)", "reason": "火警已排除",
        "message": "火警联动已复位 / fire linkage reset", "results": [
            {"action": "release_gate", "target": "gate-out-1", "building": None,
             "result": "ok"}]}, device="linkage"))
    [site] = (await console.get("/api/alarms/linkage"))["sites"]
    assert (site["state"], site["reset"], site["reset_by"]) == (
        "reset", "2026-11-23T02:10:01.000Z", "guard-1 (guard, user:3)")
    assert [(u["action"], u["target"], u["result"]) for u in site["undone"]] == [
        ("release_gate", "gate-out-1", "ok")]

    # A site nobody knows: nothing, like the alarm list (a site the caller does not serve is
    # 404: tests/security/test_console_scope.py).
    assert (await console.get("/api/alarms/linkage?site=nowhere"))["sites"] == []
