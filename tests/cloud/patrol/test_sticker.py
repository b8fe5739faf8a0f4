"""QR checkpoint stickers through the console API: the SVG holds the scan page's URL with a
token of the checkpoint's current serial and prints the checkpoint's name under the code;
reissuing moves the serial on (audited); a checkpoint without QR, an unknown one, a role
without ``patrol.write`` and a site the console has no secret for are refused."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import cv2

from cloud.patrol.sticker import render
from contract.patrol import verify_sticker
from tests.cloud.test_access_passes import _modules
from tests.support.two_sites import CREDENTIALS, SITE_A, Caller, TwoSites, two_sites

P = f"/api/sites/{SITE_A}/patrol"


def decode_sticker(svg: str) -> str:
    """The text of the sticker's QR code, read from the SVG's modules (OpenCV's ArUco-based
    detector: the classic one misses about one URL-sized code in forty)."""
    inner = re.search(r'<svg x="0" y="0".*?</svg>', svg, re.S)
    assert inner is not None, svg[:200]
    text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(_modules(inner.group(0)))
    return str(text)


async def sticker_token(caller: Caller, w: TwoSites, code: str, site: str = SITE_A) -> str:
    """The token in the printed sticker's QR code (decoded from the SVG's modules)."""
    async with caller.http.get(f"/api/sites/{site}/patrol/checkpoints/{code}/sticker.svg",
                               headers=caller.headers) as resp:
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert resp.headers["Cache-Control"] == "no-store"
        svg = await resp.text()
    url = decode_sticker(svg)
    assert url.startswith(w.url("/m/patrol?t=")), url
    return parse_qs(urlsplit(url).query)["t"][0]


async def test_stickers_need_a_qr_checkpoint_and_the_site_secret(sqlite_url: str) -> None:
    async with two_sites(sqlite_url) as w:
        lead = await w.staff("chen", "operations_lead", [SITE_A])
        await lead.call("POST", f"{P}/checkpoints", 201, {"code": "cp-ble", "name": "x",
                                                          "receiver": "omg-1"})
        err = await lead.call("GET", f"{P}/checkpoints/cp-ble/sticker.svg", 409)
        assert err["error"]["field"] == "code"
        await lead.call("GET", f"{P}/checkpoints/cp-none/sticker.svg", 404)
        await lead.call("GET", f"{P}/checkpoints/Bad%20Code/sticker.svg", 404)
        await lead.call("POST", f"{P}/checkpoints/cp-none/sticker", 404, {})
        # A site the console holds no secret for cannot sign.
        east = await w.token("admin", ["east"])
        await east.call("POST", "/api/sites/east/patrol/checkpoints", 201,
                        {"code": "cp-1", "name": "x", "qr": True})
        err = await east.call("GET", "/api/sites/east/patrol/checkpoints/cp-1/sticker.svg", 409)
        assert err["error"]["field"] == "site"
        err = await east.call("POST", "/api/sites/east/patrol/scans", 409, {
            "token": "cyq1.x.y", "phone_time": "2026-11-23T10:00:00+08:00"})
        assert err["error"]["field"] == "site"


async def test_the_sticker_holds_the_scan_page_url_and_reissuing_moves_its_serial(
        db_url: str) -> None:
    async with two_sites(db_url) as w:
        lead = await w.staff("chen", "operations_lead", [SITE_A])
        await lead.call("POST", f"{P}/checkpoints", 201, {
            "code": "cp-gate", "name": '北门<岗亭>&"1"', "qr": True})
        first = await sticker_token(lead, w, "cp-gate")
        sticker = verify_sticker(CREDENTIALS[SITE_A], first, SITE_A)
        assert (sticker.checkpoint, sticker.n) == ("cp-gate", 1)
        async with lead.http.get(f"{P}/checkpoints/cp-gate/sticker.svg",
                                 headers=lead.headers) as resp:
            svg = await resp.text()
        assert "北门&lt;岗亭&gt;&amp;" in svg and "<岗亭>" not in svg  # printed, escaped
        assert 'width="60mm"' in svg
        out = await lead.call("POST", f"{P}/checkpoints/cp-gate/sticker", 200, {})
        assert (out["sticker_n"], out["sticker"]) == (
            2, f"{P}/checkpoints/cp-gate/sticker.svg")
        second = await sticker_token(lead, w, "cp-gate")
        assert verify_sticker(CREDENTIALS[SITE_A], second, SITE_A).n == 2
        [audit] = [a for a in await w.audit("patrol_checkpoint")
                   if a.action == "reissue_sticker"]
        assert (audit.before, audit.after) == ({"sticker_n": 1}, {"sticker_n": 2})
        guard = await w.staff("zhang", "guard", [SITE_A])
        await guard.call("GET", f"{P}/checkpoints/cp-gate/sticker.svg", 403)
        await guard.call("POST", f"{P}/checkpoints/cp-gate/sticker", 403, {})


def test_a_sticker_decodes_to_its_url_whatever_the_port() -> None:
    for port in range(40000, 40040):
        url = f"http://127.0.0.1:{port}/m/patrol?t=cyq1.eyJjcCI6ImNwLWdhdGUiLCJuIjox" \
              "LCJzaXRlIjoibm9ydGgifQ.rScebt7sgyJTys3qyOOxo8RHWeYhUKjQ8tsuoQ5GXc4"
        assert decode_sticker(render(url, "北门", "cp-gate", 1).decode()) == url
