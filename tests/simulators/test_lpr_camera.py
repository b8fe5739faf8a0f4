"""The virtual LPR camera against a bare aiohttp stub (no drivers/ code): what it sends and how
it reads replies are checked against docs/protocols.md §3 directly, with literal values."""

from __future__ import annotations

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import BodyPartReader, web

from simulators.lpr.camera import (
    PushResult,
    VirtualCamera,
    decode_led,
    main,
    parse_vzenith_reply,
    render_scene,
    scene_jpeg,
)

Reply = Callable[[dict[str, Any]], Any]


@dataclass
class Stub:
    """Records every request; answers with ``reply(parsed request)``."""

    reply: Reply = field(default=lambda req: {"Response_AlarmInfoPlate": {"info": "no"}})
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        req: dict[str, Any] = {"content_type": request.content_type}
        if request.content_type == "multipart/form-data":
            parts: dict[str, Any] = {}
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)
                parts[part.name or ""] = {"filename": part.filename,
                                          "type": part.headers.get("Content-Type"),
                                          "data": await part.read()}
            req["parts"] = parts
        else:
            req["json"] = json.loads(await request.read())
        self.seen.append(req)
        out = self.reply(req)
        return web.Response(text=out if isinstance(out, str) else json.dumps(out))


@asynccontextmanager
async def stub_server(stub: Stub) -> AsyncIterator[str]:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", stub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/lpr/x/cam"
    finally:
        await runner.cleanup()


def is_jpeg(data: bytes) -> bool:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return data[:2] == b"\xff\xd8" and img is not None


async def test_vzenith_push_has_the_documented_fields() -> None:
    stub = Stub()
    when = datetime(2023, 6, 9, 8, 39, 54, 687772, tzinfo=UTC)
    async with stub_server(stub) as url, VirtualCamera("vzenith", url, ip="10.0.0.7",
                                                       serialno="fe71e106") as cam:
        res = await cam.push_plate("粤Z9065澳", colour=4, plate_type=14, trigger=4,
                                   plateid=21085, when=when)
    assert res.status == 200 and not res.opened
    top = stub.seen[0]["json"]["AlarmInfoPlate"]
    assert (top["ipaddr"], top["serialno"], top["channel"]) == ("10.0.0.7", "fe71e106", 0)
    pr = top["result"]["PlateResult"]
    assert (pr["license"], pr["colorType"], pr["type"], pr["plateid"], pr["isoffline"],
            pr["triggerType"]) == ("粤Z9065澳", 4, 14, 21085, 0, 4)
    assert pr["timeStamp"]["Timeval"] == {"sec": 1686299994, "usec": 687772}
    r = pr["location"]["RECT"]
    assert r["left"] < r["right"] and r["top"] < r["bottom"]
    full, crop = base64.b64decode(pr["imageFile"]), base64.b64decode(pr["imageFragmentFile"])
    assert is_jpeg(full) and is_jpeg(crop) and pr["imageFileLen"] == len(full)


async def test_no_plate_is_sent_as_the_vzenith_marker() -> None:
    stub = Stub()
    async with stub_server(stub) as url, VirtualCamera("vzenith", url, images=False) as cam:
        await cam.push_plate("")
    pr = stub.seen[0]["json"]["AlarmInfoPlate"]["result"]["PlateResult"]
    assert pr["license"] == "_无_" and "imageFile" not in pr


async def test_heartbeat_is_a_multipart_form() -> None:
    stub = Stub(reply=lambda req: {})
    async with stub_server(stub) as url, VirtualCamera("vzenith", url, serialno="d85b") as cam:
        assert await cam.heartbeat() == 200
    parts = stub.seen[0]["parts"]
    values = {k: v["data"] for k, v in parts.items()}
    assert values.items() >= {"device_name": b"IVS", "serialno": b"d85b",
                              "ipaddr": b"192.168.1.100"}.items()
    assert set(parts) == {"device_name", "ipaddr", "port", "user_name", "pass_wd", "serialno",
                          "channel_num"}


def offline_server(stop_after: int | None = None, wrong_id: bool = False) -> Stub:
    def reply(req: dict[str, Any]) -> dict[str, Any]:
        pr = req["json"]["AlarmInfoPlate"]["result"]["PlateResult"]
        assert pr["isoffline"] == 1
        n = len(stub.seen)
        cont = 0 if stop_after is not None and n >= stop_after else 1
        pid = pr["plateid"] + (1 if wrong_id else 0)
        return {"Response_AlarmInfoPlate": {"ContinuePushOffline": {"plateid": pid,
                                                                    "continue": cont}}}
    stub = Stub(reply=reply)
    return stub


@pytest.mark.parametrize(("stop_after", "wrong_id", "pushed"), [(None, False, 4), (2, False, 2),
                                                                (None, True, 1)])
async def test_offline_backlog_waits_for_continue(stop_after: int | None, wrong_id: bool,
                                                  pushed: int) -> None:
    stub = offline_server(stop_after, wrong_id)
    async with stub_server(stub) as url, VirtualCamera("vzenith", url, images=False,
                                                       first_plateid=10) as cam:
        results = await cam.push_offline_backlog(["粤B1", "粤B2", "粤B3", "粤B4"])
    assert len(stub.seen) == pushed == len(results)
    ids = [s["json"]["AlarmInfoPlate"]["result"]["PlateResult"]["plateid"] for s in stub.seen]
    assert ids == list(range(10, 10 + pushed))
    stamps = [s["json"]["AlarmInfoPlate"]["result"]["PlateResult"]["timeStamp"]["Timeval"]
              ["sec"] for s in stub.seen]
    assert stamps == sorted(stamps)


def led(text: bytes) -> dict[str, Any]:
    return {"serialChannel": 0, "data": base64.b64encode(text).decode(), "dataLen": len(text)}


def test_reply_parsing_literal() -> None:
    # 粤B12345 / ￥12.00 in GB2312, CR LF between lines.
    gb = bytes.fromhex("d4c1 42 31 32 33 34 35 0d0a a3a4 31 32 2e 30 30")
    body = {"Response_AlarmInfoPlate": {
        "info": "ok", "content": "x", "is_pay": "true", "serialData": [led(gb)],
        "ivs_ioctrl": {"io": 2, "value": 2, "delay": 500},
        "playserver_json_request": {"type": "ps_voice_play", "voice": "5qyi6L+O5YWJ5Li0"}}}
    res = parse_vzenith_reply(200, json.dumps(body))
    assert res.opened and res.relay_pulse and res.relay_io == 2
    assert res.led_lines == ["粤B12345", "￥12.00"] and res.voice == "欢迎光临"
    assert not parse_vzenith_reply(200, '{"Response_AlarmInfoPlate":{"info":"no"}}').opened
    assert not parse_vzenith_reply(500, '{"Response_AlarmInfoPlate":{"info":"ok"}}').opened
    assert not parse_vzenith_reply(200, "garbage").opened
    ack = parse_vzenith_reply(200, '{"Response_AlarmInfoPlate":{"ContinuePushOffline":'
                                   '{"plateid":9,"continue":1}}}')
    assert ack.offline_ack == (9, 1) and not ack.opened


def test_led_data_length_must_match() -> None:
    bad = led(b"AB")
    bad["dataLen"] = 3
    with pytest.raises(ValueError, match="dataLen"):
        decode_led([bad])
    assert decode_led([led(b"A"), {**led(b"B"), "serialChannel": 1}]) == ["A"]


async def test_hikvision_multipart_with_xml_and_pictures() -> None:
    stub = Stub(reply=lambda req: "OK")
    async with stub_server(stub) as url, VirtualCamera("hikvision", url, ip="10.2.0.64") as cam:
        res = await cam.push_plate("粤B12345", colour=5)
    assert res == PushResult(status=200, body="OK", latency_s=res.latency_s)
    parts = stub.seen[0]["parts"]
    assert set(parts) == {"anpr.xml", "detectionPicture.jpg", "licensePlatePicture.jpg"}
    assert is_jpeg(parts["detectionPicture.jpg"]["data"])
    assert is_jpeg(parts["licensePlatePicture.jpg"]["data"])
    root = ET.fromstring(parts["anpr.xml"]["data"])
    ns = "{http://www.hikvision.com/ver20/XMLSchema}"
    assert root.tag == f"{ns}EventNotificationAlert"
    assert root.findtext(f"{ns}eventType") == "ANPR"
    assert root.findtext(f"{ns}ipAddress") == "10.2.0.64"
    when = datetime.fromisoformat(root.findtext(f"{ns}dateTime") or "")
    assert when.utcoffset() is not None
    anpr = root.find(f"{ns}ANPR")
    assert anpr is not None
    assert anpr.findtext(f"{ns}licensePlate") == "粤B12345"
    assert anpr.findtext(f"{ns}plateColor") == "green"
    assert anpr.findtext(f"{ns}direction") in ("forward", "reverse")
    assert int(anpr.findtext(f"{ns}confidenceLevel") or "") == 95


async def test_hikvision_without_namespace() -> None:
    stub = Stub(reply=lambda req: "OK")
    async with stub_server(stub) as url, VirtualCamera("hikvision", url,
                                                       hik_namespace=False) as cam:
        await cam.push_plate("粤B12345")
    assert ET.fromstring(stub.seen[0]["parts"]["anpr.xml"]["data"]).tag == (
        "EventNotificationAlert")


def grey_laplacian(img: np.ndarray) -> float:
    small = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (320, 240),
                       interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small, cv2.CV_64F).var())


def test_degraded_scenes_look_degraded() -> None:
    sharp, rect = render_scene("粤B12345")
    blur, _ = render_scene("粤B12345", "blur")
    black, _ = render_scene("粤B12345", "black")
    uniform, _ = render_scene("粤B12345", "uniform")
    assert grey_laplacian(sharp) > 20 * grey_laplacian(blur)
    assert black.mean() < 10 and uniform.std() < 5
    left, top, right, bottom = rect
    plate = sharp[top:bottom, left:right]
    assert plate[..., 0].mean() > plate[..., 2].mean()  # a blue plate (BGR)
    full, crop, rect2 = scene_jpeg("粤B12345")
    assert rect2 == rect and is_jpeg(full) and is_jpeg(crop)


async def test_command_line_pushes_and_prints_the_result(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    stub = Stub(reply=lambda req: {} if "parts" in req else {
        "Response_AlarmInfoPlate": {"info": "ok", "serialData": [led("欢迎".encode("gb2312"))]}})
    async with stub_server(stub) as url:
        code = await asyncio.to_thread(main, ["--vendor", "vzenith", "--url", url, "--plate",
                                              "粤B12345", "--heartbeat", "--no-images"])
    assert code == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"heartbeat": 200}
    assert lines[1]["opened"] is True and lines[1]["led_lines"] == ["欢迎"]
    assert await asyncio.to_thread(main, ["--url", "http://127.0.0.1:9/nothing"]) == 1
