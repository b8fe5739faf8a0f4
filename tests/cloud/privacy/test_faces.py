"""Face data needs separate consent: enrolment is refused without it, allowed with it, and
withdrawing it deletes the face rows and their images in the blob store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from cloud.blobs.tables import Blob
from cloud.privacy.faces import MAX_FACE_BYTES
from cloud.privacy.tables import Face, FaceConsent
from cloud.web.keys import BLOBS
from tests.support.two_sites import SITE_A, SITE_B, TwoSites, two_sites

FACE = b"\xff\xd8\xff\xe0" + b"face-of-resident" * 40 + b"\xff\xd9"


@pytest.fixture
async def world(db_url: str, tmp_path: Any) -> AsyncIterator[TwoSites]:
    async with two_sites(db_url, data_dir=str(tmp_path / "data")) as w:
        await w.admin.call("POST", "/api/buildings", 201,
                           {"site": SITE_A, "code": "1", "name": "1号楼"})
        await w.admin.call("POST", "/api/units", 201, {
            "site": SITE_A, "code": "1-1-101", "building": "1", "area": "88.00",
            "unit_type": "residential", "status": "occupied"})
        yield w


async def _resident(world: TwoSites) -> int:
    made = await world.admin.call("POST", "/api/owners", 201, {
        "site": SITE_A, "unit": "1-1-101", "name": "刘芳", "phone": "13911112222"})
    return int(made["id"])


async def _enrol(caller: Any, rid: int, status: int, body: bytes = FACE,
                 kind: str = "image/jpeg") -> Any:
    headers = {**caller.headers, "Content-Type": kind}
    async with caller.http.post(f"/api/people/{rid}/face", data=body, headers=headers) as resp:
        got = await resp.json()
        assert resp.status == status, got
        return got


async def test_enrolment_needs_consent_and_withdrawal_deletes_the_face(world: TwoSites) -> None:
    rid = await _resident(world)
    cs = await world.staff("cs-face", "customer_service", [SITE_A])
    store = world.server.app[BLOBS]

    refused = await _enrol(cs, rid, 409)
    assert refused["error"]["code"] == "consent_required"
    assert "同意" in refused["error"]["message"] and "consent" in refused["error"]["message"]

    given = await cs.call("POST", f"/api/people/{rid}/consents", 201,
                          {"purpose": "face_access", "evidence": "纸质同意书存档 A-12"})
    assert given["current"] is True and given["evidence"] == "纸质同意书存档 A-12"
    # Recording it again is the same consent, not a second one.
    again = await cs.call("POST", f"/api/people/{rid}/consents", 200, {"purpose": "face_access"})
    assert again["id"] == given["id"]
    await cs.call("POST", f"/api/people/{rid}/consents", 400, {"purpose": "marketing"})

    face = await _enrol(cs, rid, 201)
    assert face["bytes"] == len(FACE) and await store.get(face["image"]) == FACE
    await _enrol(cs, rid, 415, kind="image/png")
    await _enrol(cs, rid, 400, body=b"GIF89a not a jpeg")
    await _enrol(cs, rid, 413, body=b"\xff\xd8\xff" + b"x" * MAX_FACE_BYTES)
    # Seeing faces needs faces.read: customer service enrols but does not browse them.
    await cs.call("GET", f"/api/people/{rid}/faces", 403)
    listed = await world.admin.call("GET", f"/api/people/{rid}/faces")
    assert [f["id"] for f in listed["faces"]] == [face["id"]]
    async with world.sessions() as s:
        assert (await s.get(Blob, face["image"])).data_class == "faces"  # type: ignore[union-attr]

    done = await cs.call("DELETE", f"/api/people/{rid}/consents/face_access", 200)
    assert done["faces_deleted"] == 1
    assert (await world.admin.call("GET", f"/api/people/{rid}/faces"))["faces"] == []
    assert not await store.exists(face["image"])
    async with world.sessions() as s:
        assert (await s.scalars(select(Face))).all() == []
        assert await s.get(Blob, face["image"]) is None
        consent = (await s.scalars(select(FaceConsent))).one()
        assert consent.withdrawn_at is not None  # the record of the consent stays
    # Without consent again, enrolment is refused; withdrawing twice is a 404.
    await _enrol(cs, rid, 409)
    await cs.call("DELETE", f"/api/people/{rid}/consents/face_access", 404)


async def test_face_routes_refuse_other_roles_and_sites(world: TwoSites) -> None:
    rid = await _resident(world)
    guard = await world.staff("guard-face", "guard", [SITE_A])
    south = await world.token("admin", [SITE_B])
    await guard.call("POST", f"/api/people/{rid}/consents", 403, {"purpose": "face_access"})
    await guard.call("GET", f"/api/people/{rid}/faces", 403)
    await _enrol(guard, rid, 403)
    await south.call("POST", f"/api/people/{rid}/consents", 404, {"purpose": "face_access"})
    await south.call("GET", f"/api/people/{rid}/faces", 404)
    await _enrol(south, rid, 404)
