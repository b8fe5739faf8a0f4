"""A restart mid-fire: the incident comes back from the state file and the gates are held
again until a guard resets it."""

from __future__ import annotations

import json

from edge.linkage.state import MAX_CAUSES
from tests.edge.linkage.conftest import Elevator, Site, fire, running


async def test_a_restart_mid_fire_holds_the_gates_again(site: Site) -> None:
    ev = fire("1")
    async with running(site.linkage()) as linkage:
        linkage.notice(ev)
        await linkage.wait_idle()
        incident = linkage.status()["incidents"][0]["id"]
    assert json.loads(site.state_file.read_text())["incident"]["id"] == incident

    # The edge restarts: fresh gate controllers hold nothing, fresh elevator objects.
    site.rebuild_gates()
    site.elevators = {e: Elevator(e, b) for e, b in (("A1", "1"), ("A2", "1"), ("B1", "2"))}
    site.outbox.events.clear()
    assert not site.gates["gate-in"].held
    async with running(site.linkage()) as linkage:
        await linkage.wait_idle()
        assert site.gates["gate-in"].held and site.gates["gate-out"].held
        assert site.boards["gate-in"].pulses == ["open"]
        status = linkage.status()
        assert status["active"] is True
        [restored] = status["incidents"]
        assert restored["id"] == incident and restored["restored"] is True
        assert restored["buildings"] == ["1"] and restored["causes"][0]["event"] == ev.id

        again = site.outbox.actions()
        assert again[("raise_gate", "gate-in")]["reassert"] is True
        assert again[("raise_gate", "gate-in")]["incident"] == incident
        # Recalls and the alarm that succeeded are not repeated.
        assert ("recall_elevator", "A1") not in again and ("alarm", "1") not in again
        assert site.elevators["A1"].calls == []
        assert site.outbox.of("linkage.triggered") == []

        # A second detector after the restart joins the restored incident.
        linkage.notice(fire("1", floor="6"))
        await linkage.wait_idle()
        assert site.outbox.of("linkage.triggered") == []
        assert linkage.status()["incidents"][0]["cause_count"] == 2

        result = await linkage.reset(by="guard-07", reason="复位 / reset after restart")
        assert result["result"] == "ok" and result["incident"] == incident
        assert not site.gates["gate-in"].held
    assert json.loads(site.state_file.read_text())["incident"] is None

    site.rebuild_gates()
    async with running(site.linkage()) as linkage:
        await linkage.wait_idle()
        assert linkage.status()["active"] is False
        assert not site.gates["gate-in"].held


async def test_an_action_unfinished_before_the_restart_is_finished_after(site: Site) -> None:
    site.elevators["A1"] = Elevator("A1", "1", "hang")
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
    site.elevators["A1"] = Elevator("A1", "1")
    site.outbox.events.clear()
    async with running(site.linkage()) as linkage:
        await linkage.wait_idle()
        a1 = site.outbox.actions()[("recall_elevator", "A1")]
        assert a1["result"] == "ok" and a1["reassert"] is True
        assert ("recall_elevator", "A2") not in site.outbox.actions()


async def test_an_unreadable_state_file_starts_clean(site: Site) -> None:
    site.state_file.write_text("{not json")
    async with running(site.linkage()) as linkage:
        await linkage.wait_idle()
        assert linkage.status()["active"] is False
        linkage.notice(fire("1"))
        await linkage.wait_idle()
        assert site.gates["gate-in"].held
    assert json.loads(site.state_file.read_text())["incident"]["buildings"] == ["1"]


async def test_a_state_file_of_another_site_is_ignored(site: Site) -> None:
    async with running(site.linkage()) as linkage:
        linkage.notice(fire("1"))
        await linkage.wait_idle()
    doc = json.loads(site.state_file.read_text())
    doc["site"] = "elsewhere"
    site.state_file.write_text(json.dumps(doc))
    site.rebuild_gates()
    async with running(site.linkage()) as linkage:
        await linkage.wait_idle()
        assert linkage.status()["active"] is False
        assert not site.gates["gate-in"].held


async def test_many_detectors_keep_the_state_file_bounded(site: Site) -> None:
    async with running(site.linkage()) as linkage:
        for i in range(MAX_CAUSES + 20):
            linkage.notice(fire("1", zone=i))
        await linkage.wait_idle()
        [incident] = linkage.status()["incidents"]
        assert incident["cause_count"] == MAX_CAUSES + 20
        assert len(incident["causes"]) == MAX_CAUSES
    saved = json.loads(site.state_file.read_text())["incident"]
    assert saved["cause_count"] == MAX_CAUSES + 20
