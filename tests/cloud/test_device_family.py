"""Device families learnt at ingest and a device's newest events (the device page's API), on
real SQLite and PostgreSQL: batches go through the Ingestor, the API through a real server."""

from __future__ import annotations

from datetime import timedelta

from cloud.sites.device_family import family_of, kind_of_event
from tests.cloud.test_api import T0, Api, api, env, reading  # noqa: F401  (the fixture)


def test_each_family_comes_from_its_event_prefix() -> None:
    assert [kind_of_event(k) for k in ("gate.opened", "plate.read", "camera.degraded",
                                       "door.forced", "access.granted", "controller.offline",
                                       "reader.tamper", "fire.alarm", "uitd.status",
                                       "elevator.trapped")] == [
        "gate", "camera", "camera", "door", "door", "door", "reader", "fire", "fire", "elevator"]
    for silent in ("device.online", "device.offline", "parking.entry", "linkage.reset",
                   "meter.reading", "buffer.dropped"):
        assert kind_of_event(silent) is None, silent
    assert [family_of(k) for k in ("meter", "door", "reader", None, "weird")] == [
        "meter", "access", "access", "other", "other"]


async def test_families_are_learnt_once_and_events_come_newest_first(api: Api) -> None:  # noqa: F811
    await api.ingest("demo", [
        reading(1, "meter-1", T0, voltage=230.1),
        env(2, "meter-1", "fire.fault", {"v": 1, "message": "x"}, T0),  # a meter stays a meter
        env(3, "ctl-1", "door.opened", {"v": 1, "door": "d1"}, T0),
        env(4, "ctl-1", "reader.tamper", {"v": 1}, T0 + timedelta(seconds=1)),  # kept: door
        env(5, "lane-1", "parking.entry", {"v": 1}, T0),
        env(6, "cam-1", "device.online", {"v": 1, "message": "up"}, T0),
        env(7, "cam-1", "plate.read", {"v": 1, "camera": "cam-1", "plate_raw": None},
            T0 + timedelta(seconds=2)),
    ])
    listed = {d["key"]: (d["kind"], d["family"])
              for d in (await api.get("/api/sites/demo/devices"))["devices"]}
    assert listed == {"meter-1": ("meter", "meter"), "ctl-1": ("door", "access"),
                      "lane-1": (None, "other"), "cam-1": ("camera", "camera")}

    page = await api.get("/api/sites/demo/devices/ctl-1/events")
    assert (page["device"], page["family"], page["timezone"]) == ("ctl-1", "access",
                                                                  "Asia/Shanghai")
    assert [e["kind"] for e in page["events"]] == ["reader.tamper", "door.opened"]
    assert page["events"][1]["ts_local"].startswith("2026-03-01T08:00:00")
    one = await api.get("/api/sites/demo/devices/cam-1/events?limit=1")
    assert [e["kind"] for e in one["events"]] == ["plate.read"]
    missing = await api.get("/api/sites/demo/devices/nope/events", 404)
    assert missing["error"]["field"] == "device"
    await api.get("/api/sites/demo/devices/ctl-1/events?limit=0", 400)
    await api.get("/api/sites/nowhere/devices/ctl-1/events", 404)
