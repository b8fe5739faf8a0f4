"""End to end: the virtual cameras push to a real LprEndpoint on a free port."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from contract import FakeClock, Kind, jsoncodec
from contract.envelope import Envelope
from drivers.lpr import (
    KIND_CAMERA_DEGRADED,
    KIND_CAMERA_RECOVERED,
    CameraSpec,
    LaneReply,
    LprConfig,
    PlateRead,
)
from drivers.lpr.hikvision import Part
from drivers.lpr.snapshot import decode_jpeg
from simulators.lpr.camera import VirtualCamera, hikvision_anpr_xml
from tests.drivers.lpr.lane import LOCAL, StubDecider, cameras, serving, wait_for

VZ = "cam-in-1"
HIK = "hik-out-1"


def vector9_body() -> bytes:
    """the Vzenith vector of docs/protocols.md §3, written out by hand (not by the simulator)."""
    return json.dumps({"AlarmInfoPlate": {
        "channel": 0, "deviceName": "IVS", "ipaddr": "192.168.1.100", "serialno": "fe71e106",
        "result": {"PlateResult": {
            "license": "粤Z9065澳", "colorType": 4, "type": 14, "confidence": 96,
            "direction": 0, "triggerType": 4, "plateid": 21085, "isoffline": 0,
            "location": {"RECT": {"left": 1002, "top": 565, "right": 1263, "bottom": 674}},
            "timeStamp": {"Timeval": {"sec": 1686299994, "usec": 687772}}}}}},
        ensure_ascii=False).encode()


async def post(url: str, data: Any, content_type: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    async with aiohttp.ClientSession() as s, s.post(url, data=data, headers=headers) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except json.JSONDecodeError:
            return r.status, text


async def test_vector_9_opens_when_the_decider_says_open() -> None:
    async with serving(decider=StubDecider(open_for={"粤Z9065澳"})) as lane:
        status, body = await post(lane.url("vzenith", VZ), vector9_body(), "application/json")
        assert status == 200
        resp = body["Response_AlarmInfoPlate"]
        assert resp["info"] == "ok" and resp["is_pay"] == "true" and resp["plateid"] == 21085
        (event,) = lane.recorder.of(Kind.PLATE_READ)
        assert event.device == VZ
        assert event.ts == datetime(2023, 6, 9, 8, 39, 54, 687772, tzinfo=UTC)
        d = event.data
        assert (d["plate_raw"], d["colour_code"], d["type_code"], d["camera_plate_id"]) == (
            "粤Z9065澳", 4, 14, 21085)
        assert d["offline"] is False and d["v"] == 1
        (read,) = lane.decider.calls
        assert read.colour_name == "black" and read.trigger == "software"


async def test_open_and_shut_with_led_lines_round_trip() -> None:
    async with serving(decider=StubDecider(open_for={"粤B12345"}, relay_pulse=True)) as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ)) as cam:
            opened = await cam.push_plate("粤B12345")
            shut = await cam.push_plate("京A88888")
        assert opened.status == 200 and opened.opened
        assert opened.led_lines == ["粤B12345", "月租车 欢迎光临", "￥12.00"]
        assert opened.relay_pulse and opened.relay_io == 1
        assert shut.status == 200 and not shut.opened and not shut.relay_pulse
        assert shut.led_lines == ["京A88888", "临时车 请缴费", "￥12.00"]
        assert [e.data["plate_raw"] for e in lane.recorder.of(Kind.PLATE_READ)] == [
            "粤B12345", "京A88888"]
        assert lane.stats.get("reads") == 2 and len(lane.stats.latencies) == 2


async def test_plate_read_is_durable_before_the_decider_runs() -> None:
    seen: list[int] = []

    async def decide(read: PlateRead) -> LaneReply:
        seen.append(len(lane.recorder.of(Kind.PLATE_READ)))
        return LaneReply(open=True)

    async with serving() as lane:
        lane.endpoint._decider = decide
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ)) as cam:
            assert (await cam.push_plate("粤B12345")).opened
    assert seen == [1]


async def test_offline_backlog_deduplicated_and_acknowledged() -> None:
    async with serving(decider=StubDecider(open_for={"粤B00001"})) as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ), first_plateid=500) as cam:
            results = await cam.push_offline_backlog(["粤B00001", "粤B00002", "粤B00003"],
                                                     repeat_first=True)
            assert [r.offline_ack for r in results] == [(500, 1), (500, 1), (501, 1), (502, 1)]
            assert not any(r.opened for r in results)  # a late record never opens the gate
            assert all("info" not in r.body["Response_AlarmInfoPlate"] for r in results)
        reads = lane.recorder.of(Kind.PLATE_READ)
        assert [(e.data["camera_plate_id"], e.data["offline"]) for e in reads] == [
            (500, True), (501, True), (502, True)]
        assert len(lane.decider.calls) == 3 and all(r.offline for r in lane.decider.calls)
        assert lane.stats.get("offline_records") == 3
        assert lane.stats.get("duplicates_dropped") == 1


async def test_whole_backlog_pushed_twice_is_stored_once() -> None:
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    async with serving() as lane:
        for _ in range(2):
            async with VirtualCamera("vzenith", lane.url("vzenith", VZ), first_plateid=7,
                                     images=False) as cam:
                results = await cam.push_offline_backlog(["粤B1", "粤B2"], start=start)
                assert [r.offline_ack for r in results] == [(7, 1), (8, 1)]
        assert len(lane.recorder.of(Kind.PLATE_READ)) == 2
        assert lane.stats.get("duplicates_dropped") == 2
        # Same plateid, another car (the camera's counter restarted): not a repeat.
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ), first_plateid=7,
                                 images=False) as cam:
            res = await cam.push_plate("粤B99999", offline=True, when=start)
        assert res.offline_ack == (7, 1)
        assert len(lane.recorder.of(Kind.PLATE_READ)) == 3


async def test_a_live_repeat_gets_the_same_answer_without_a_new_event() -> None:
    when = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    async with serving() as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ), images=False) as cam:
            first = await cam.push_plate("粤B12345", plateid=42, when=when)
            second = await cam.push_plate("粤B12345", plateid=42, when=when)
        assert first.opened and second.opened and first.body == second.body
        assert len(lane.recorder.of(Kind.PLATE_READ)) == 1 and len(lane.decider.calls) == 1


async def test_heartbeat_timeout_then_back_online_with_hysteresis() -> None:
    clock = FakeClock(datetime(2026, 11, 23, tzinfo=UTC))
    async with serving(clock=clock) as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ)) as cam:
            assert await cam.heartbeat() == 200
            await lane.endpoint.flush()
            (online,) = lane.recorder.of(Kind.DEVICE_ONLINE, VZ)
            assert online.data["serialno"] == "sim-00000001" and "pass_wd" not in online.data
            clock.advance(14.0)
            assert lane.endpoint.check_liveness() == 0  # 3 × 5 s not yet over
            clock.advance(2.0)
            assert lane.endpoint.check_liveness() == 1
            assert lane.endpoint.check_liveness() == 0  # once, not per check
            await lane.endpoint.flush()
            (offline,) = lane.recorder.of(Kind.DEVICE_OFFLINE, VZ)
            assert offline.data["reason"] == "heartbeat_timeout"
            assert offline.data["message"].startswith("车牌相机离线")
            assert lane.stats.gauges["cameras_online"] == 0
            assert await cam.heartbeat() == 200
            await lane.endpoint.flush()
            assert len(lane.recorder.of(Kind.DEVICE_ONLINE, VZ)) == 1  # one is not enough
            clock.advance(5.0)
            assert await cam.heartbeat() == 200
            await lane.endpoint.flush()
        assert [e.kind for e in lane.recorder.events if e.device == VZ] == [
            Kind.DEVICE_ONLINE, Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE]
        # A Hikvision camera without a heartbeat is never timed out.
        assert lane.recorder.of(Kind.DEVICE_OFFLINE, HIK) == []


async def test_watchdog_declares_silent_cameras_offline_on_its_own() -> None:
    cams = {"a": CameraSpec("vzenith", LOCAL, heartbeat_s=0.05),
            "never": CameraSpec("vzenith", LOCAL, heartbeat_s=0.05)}
    async with serving(cams) as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", "a")) as cam:
            assert await cam.heartbeat() == 200
        await wait_for(lambda: len(lane.recorder.of(Kind.DEVICE_OFFLINE)) == 2, 3.0)
        assert {e.device for e in lane.recorder.of(Kind.DEVICE_OFFLINE)} == {"a", "never"}


async def test_addresses_cameras_and_vendors_are_checked() -> None:
    cams = cameras(**{"cam-far": CameraSpec("vzenith", ("10.9.9.9", "10.1.0.0/16"))})
    async with serving(cams) as lane:
        status, body = await post(lane.url("vzenith", "cam-far"), vector9_body(),
                                  "application/json")
        assert status == 403 and body["Response_AlarmInfoPlate"]["info"] == "no"
        assert "无权" in body["message"] and "may not push" in body["message"]
        status, body = await post(lane.url("vzenith", "nobody"), vector9_body())
        assert status == 404 and "未知相机" in body["message"]
        status, body = await post(lane.url("hikvision", VZ), vector9_body())
        assert status == 400 and body["error"] == "wrong_vendor"
        assert lane.recorder.events == [] and lane.decider.calls == []
        assert (lane.stats.get("rejected_address"), lane.stats.get("unknown_camera"),
                lane.stats.get("wrong_vendor")) == (1, 1, 1)


def hik_parts(xml: bytes | None, *, extra: bytes | None = None) -> aiohttp.MultipartWriter:
    mp = aiohttp.MultipartWriter("form-data")
    if xml is not None:
        mp.append(xml).set_content_disposition("form-data", name="anpr.xml", filename="anpr.xml")
    if extra is not None:
        mp.append(extra).set_content_disposition("form-data", name="detectionPicture.jpg")
    return mp


GARBAGE_VZ: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"{", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"\x00\x01\x02\xff" * 100, "application/octet-stream"),
    (json.dumps({"AlarmInfoPlate": {"result": {"PlateResult": {"license": 7}}}}).encode(),
     "application/json"),
    (vector9_body().replace(b'"colorType": 4', b'"colorType": "black"'), "application/json"),
    (b"device_name=&ipaddr=", "application/x-www-form-urlencoded"),
    (b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n", "multipart/form-data"),
]


async def test_malformed_bodies_get_400_and_the_endpoint_keeps_serving() -> None:
    async with serving(decider=StubDecider(open_for={"粤Z9065澳"})) as lane:
        for i, (body, ctype) in enumerate(GARBAGE_VZ, start=1):
            status, reply = await post(lane.url("vzenith", VZ), body, ctype)
            assert status == 400, (body[:40], status, reply)
            assert reply["Response_AlarmInfoPlate"]["info"] == "no"
            assert "请求无法解析" in reply["message"] and "malformed" in reply["message"]
            assert lane.stats.get("malformed") == i
        hik_garbage = [hik_parts(None, extra=b"\xff\xd8"), hik_parts(b"<a"),
                       hik_parts(b"<!DOCTYPE x><EventNotificationAlert/>")]
        for mp in hik_garbage:
            status, _ = await post(lane.url("hikvision", HIK), mp)
            assert status == 400
        status, _ = await post(lane.url("hikvision", HIK), b"not multipart", "text/plain")
        assert status == 400
        assert lane.stats.get("malformed") == len(GARBAGE_VZ) + 4
        assert lane.recorder.events == [] and lane.stats.get("internal_errors") == 0
        status, reply = await post(lane.url("vzenith", VZ), vector9_body(), "application/json")
        assert status == 200 and reply["Response_AlarmInfoPlate"]["info"] == "ok"


async def test_unreadable_offline_record_is_skipped_so_the_backlog_moves_on() -> None:
    doc = json.loads(vector9_body())
    doc["AlarmInfoPlate"]["result"]["PlateResult"].update(isoffline=1, confidence="high")
    async with serving() as lane:
        status, reply = await post(lane.url("vzenith", VZ), json.dumps(doc).encode())
        assert status == 400
        assert reply["Response_AlarmInfoPlate"]["ContinuePushOffline"] == {
            "plateid": 21085, "continue": 1}


async def test_body_size_is_limited() -> None:
    config = LprConfig(max_body_bytes=64 * 1024)
    async with serving(config=config) as lane:
        status, reply = await post(lane.url("vzenith", VZ), b"{" + b" " * 100_000 + b"}",
                                   "application/json")
        assert status == 413 and lane.stats.get("too_large") == 1
        assert reply["Response_AlarmInfoPlate"]["info"] == "no"
        big = hik_parts(b"<a/>", extra=b"\xff" * 100_000)
        status, _ = await post(lane.url("hikvision", HIK), big)
        assert status == 413 and lane.stats.get("too_large") == 2


async def test_events_are_json_and_bounded_even_for_huge_images() -> None:
    noise = np.random.default_rng(3).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok and buf.size > 1_000_000
    doc = json.loads(vector9_body())
    pr = doc["AlarmInfoPlate"]["result"]["PlateResult"]
    pr["imageFile"] = base64.b64encode(buf.tobytes()).decode()
    pr["imageFragmentFile"] = base64.b64encode(b"\xff\xd8 broken").decode()
    async with serving() as lane:
        status, _ = await post(lane.url("vzenith", VZ), json.dumps(doc).encode())
        assert status == 200
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ)) as cam:
            await cam.heartbeat()
            await cam.push_plate("粤B12345", degraded="blur")
        async with VirtualCamera("hikvision", lane.url("hikvision", HIK)) as cam:
            await cam.push_plate("粤B12345")
        await lane.endpoint.flush()
    assert {e.kind for e in lane.recorder.events} >= {Kind.PLATE_READ, Kind.DEVICE_ONLINE}
    for seq, e in enumerate(lane.recorder.events, start=1):
        env = Envelope(seq=seq, id=e.id, ts=e.ts, device=e.device, kind=e.kind, data=e.data,
                       priority=e.effective_priority())
        raw = jsoncodec.dumpb(env.to_dict())
        assert len(raw) <= 300_000, (e.kind, len(raw))
        assert Envelope.from_dict(jsoncodec.loads(raw)).data == e.data
    first_read = lane.recorder.of(Kind.PLATE_READ)[0]
    assert first_read.data["evidence_jpeg_b64"] is None  # images follow the reply
    huge = next(e.data for e in lane.recorder.of("plate.evidence")
                if e.data["read"] == first_read.id)
    evidence = decode_jpeg(base64.b64decode(huge["evidence_jpeg_b64"]))
    assert evidence is not None and max(evidence.shape[:2]) <= 1280
    assert huge["quality"]["sharpness"] > 0


async def test_degraded_once_then_recovered_once() -> None:
    async with serving() as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ)) as cam:
            for i in range(12):
                await cam.push_plate("粤B12345", degraded="blur", seed=i % 3)
            await lane.endpoint.flush()
            (degraded,) = lane.recorder.of(KIND_CAMERA_DEGRADED, VZ)
            assert degraded.data["reason"] == "out_of_focus"
            assert degraded.data["message"].startswith("车牌相机图像异常")
            for i in range(25):
                await cam.push_plate("粤B12345", seed=i % 3)
            await lane.endpoint.flush()
        assert len(lane.recorder.of(KIND_CAMERA_DEGRADED)) == 1
        (recovered,) = lane.recorder.of(KIND_CAMERA_RECOVERED, VZ)
        assert recovered.data["previous_reason"] == "out_of_focus"


async def test_blocked_lens_is_reported_as_blocked() -> None:
    async with serving() as lane:
        async with VirtualCamera("hikvision", lane.url("hikvision", HIK)) as cam:
            for _ in range(12):
                await cam.push_plate("粤B12345", degraded="black")
        await lane.endpoint.flush()
        (degraded,) = lane.recorder.of(KIND_CAMERA_DEGRADED, HIK)
        assert degraded.data["reason"] == "blocked"


@pytest.mark.parametrize("decider", [StubDecider(open_for={"粤B12345"}, delay_s=0.5),
                                     StubDecider(open_for={"粤B12345"}, raise_error=True)])
async def test_decider_failure_keeps_the_gate_shut(decider: StubDecider) -> None:
    config = LprConfig(decide_timeout_s=0.1)
    async with serving(decider=decider, config=config) as lane:
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ), images=False) as cam:
            res = await cam.push_plate("粤B12345")
        assert res.status == 200 and not res.opened
        assert res.led_lines == list(config.failure_led_lines)
        assert lane.stats.get("decide_errors") == 1
        assert len(lane.recorder.of(Kind.PLATE_READ)) == 1  # the read itself is on record


async def test_not_durable_means_not_opened() -> None:
    async with serving() as lane:
        lane.recorder.fail = True
        async with VirtualCamera("vzenith", lane.url("vzenith", VZ), images=False) as cam:
            live = await cam.push_plate("粤B12345")
            backlog = await cam.push_offline_backlog(["粤B12345"])
            assert not live.opened and live.status == 200
            assert backlog[0].status == 503 and backlog[0].offline_ack is None
            lane.recorder.fail = False
            retry = await cam.push_plate("粤B12345", offline=True, plateid=backlog[0].plateid,
                                         when=datetime.now(UTC) - timedelta(hours=1))
        assert lane.decider.calls[0].plate_raw == "粤B12345"
        assert retry.offline_ack == (backlog[0].plateid, 1)
        # Two plate reads were refused (device.online may have failed too: same outbox).
        assert lane.stats.get("emit_failures") >= 2 and len(lane.decider.calls) == 1
        assert len(lane.recorder.of(Kind.PLATE_READ)) == 1


async def test_hikvision_decision_goes_to_the_hook_and_the_caller() -> None:
    decisions: list[tuple[str, bool]] = []

    async def hook(read: PlateRead, reply: LaneReply) -> None:
        decisions.append((read.plate_raw, reply.open))

    async with serving(on_decision=hook) as lane:
        async with VirtualCamera("hikvision", lane.url("hikvision", HIK),
                                 hik_namespace=False) as cam:
            res = await cam.push_plate("粤B12345", colour=5)
        assert res.status == 200 and res.body == "OK"
        (event,) = lane.recorder.of(Kind.PLATE_READ, HIK)
        assert event.data["colour_code"] == 5 and event.data["colour_name"] == "green"
        await lane.endpoint.flush()
        (images,) = lane.recorder.of("plate.evidence", HIK)
        assert images.data["read"] == event.id and images.data["plate_raw"] == "粤B12345"
        assert images.data["crop_jpeg_b64"] and images.data["evidence_jpeg_b64"]
        assert decisions == [("粤B12345", True)]
        outcome = await lane.endpoint.hikvision_push(
            HIK, [Part("anpr.xml", "anpr.xml", "application/xml",
                       hikvision_anpr_xml("京A00001"))])
        assert outcome.reply is not None and outcome.reply.open is False
        assert outcome.read is not None and outcome.read.plate_raw == "京A00001"


async def test_concurrent_pushes_from_several_cameras() -> None:
    cams = {f"c{i}": CameraSpec("vzenith", LOCAL) for i in range(4)}
    async with serving(cams) as lane:
        async def one(cid: str) -> list[bool]:
            async with VirtualCamera("vzenith", lane.url("vzenith", cid), images=False) as cam:
                return [(await cam.push_plate(p)).opened for p in ("粤B12345", "京A1") * 5]
        results = await asyncio.gather(*(one(c) for c in cams))
        assert all(r == [True, False] * 5 for r in results)
        assert lane.stats.get("reads") == 40
