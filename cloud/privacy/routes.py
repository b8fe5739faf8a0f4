"""The data subject over HTTP, under ``/api/people/{id}`` (``{id}``: a resident row's id).

- ``GET …/export`` (``people.export``): the export file (``people-<id>-<date>.json``); the
  request is recorded in ``privacy_requests`` and audited (action ``export``).
- ``POST …/erasure`` ``{reason}`` (``people.erase``): erases and pseudonymises
  (``cloud.privacy.erasure``), records the request with its counts, audited (``erase``).
- ``GET …/requests`` (``people.export``): the person's export and erasure requests.
- ``POST …/consents`` ``{purpose, evidence?}`` / ``DELETE …/consents/{purpose}``
  (``people.write``): record or withdraw a consent; withdrawing deletes the face data.
- ``POST …/face`` (``people.write``, the JPEG as the body) enrols a face: 409 without a
  current consent. ``GET …/faces`` (``faces.read``) lists the enrolled faces.

A resident of a site the actor does not serve is a 404, as one that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, actor_of, record
from cloud.auth.guard import requires
from cloud.blobs import BlobStore, forget
from cloud.blobs.tables import BlobRow, index_blobs
from cloud.privacy import erasure, held
from cloud.privacy.export import build
from cloud.privacy.faces import FACE_ACCESS, MAX_FACE_BYTES, current_consent, drop_faces
from cloud.privacy.subject import Subject, load_subject
from cloud.privacy.tables import FACES_CLASS, PURPOSES, Face, FaceConsent, PrivacyRequest
from cloud.records.tables import Resident
from cloud.web.body import json_object, text_field
from cloud.web.errors import ApiError, bad_param, not_found
from cloud.web.keys import BLOBS, CLOCK, DEFAULT_TZ, SESSIONS, SYNC
from cloud.web.present import times
from cloud.web.respond import dumps, json_ok

log = structlog.get_logger(__name__)

PREFIX = "/api/people/{id}"
MAX_ID = 2**31 - 1
CHUNK = 64 * 1024



def _resident_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise not_found("id", "住户", "resident", raw[:40])
    return int(raw)


async def _resident(session: AsyncSession, request: web.Request) -> Resident:
    """The resident row; 404 when missing or of a site the actor does not serve."""
    rid = _resident_id(request)
    row = await session.get(Resident, rid)
    if row is None or not actor_of(request).may_see(row.site_id):
        raise not_found("id", "住户", "resident", str(rid))
    return row


async def _subject(session: AsyncSession, request: web.Request) -> Subject:
    return await load_subject(session, await _resident(session, request),
                              request.app[CLOCK].now(), request.app[DEFAULT_TZ])


def _store(request: web.Request) -> BlobStore:
    """The console's blob store (``cloud.blobs``): faces are kept there, class ``faces``."""
    return request.app[BLOBS]


def _note(session: AsyncSession, actor: Actor, subject: Subject, kind: str, now: datetime,
          detail: dict[str, Any], reason: str | None = None) -> PrivacyRequest:
    row = PrivacyRequest(resident_id=subject.ids[0], site_id=subject.site.id, kind=kind,
                         requested_by=actor.ref[:64], requested_by_name=actor.name[:100],
                         at=now, reason=reason, detail=detail)
    session.add(row)
    return row


@requires("people.export")
async def export_person(request: web.Request) -> web.Response:
    """Everything held about the person, as a JSON file."""
    actor, now = actor_of(request), request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        subject = await _subject(session, request)
        doc = await build(session, subject, now)
        counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
        _note(session, actor, subject, "export", now, counts)
        record(session, at=now, actor=actor, action="export", entity="resident",
               entity_id=subject.ids[0], site_id=subject.site.id,
               detail={"ids": subject.ids, "counts": counts})
    day = now.astimezone(subject.tz).date().isoformat()
    name = f"people-{subject.ids[0]}-{day}.json"
    return web.Response(body=dumps(doc).encode(), headers={
        "Content-Type": "application/json; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@requires("people.erase")
async def erase_person(request: web.Request) -> web.Response:
    """Erase the person's data (``reason`` required); the counts of what was done."""
    body = await json_object(request, allowed=("reason",))
    reason = text_field(body, "reason", 500) or ""
    actor, now = actor_of(request), request.app[CLOCK].now()
    store = _store(request)
    async with request.app[SESSIONS]() as session, session.begin():
        subject = await _subject(session, request)
        counts, refs, announce = await erasure.erase(session, subject, now, actor)
        counts["blobs"] = await forget(session, store, refs)
        row = _note(session, actor, subject, "erasure", now, counts, reason)
        await session.flush()
        out = _request_json(row, subject)
    log.info("privacy.erased", resident=subject.ids[0], site=subject.site.slug, **counts)
    _announce(request, subject.site.slug, announce)
    return json_ok(out, status=201)


def _announce(request: web.Request, slug: str, versions: list[tuple[str, int]]) -> None:
    publisher = request.app.get(SYNC)
    if publisher is not None:
        for dataset, version in versions:
            publisher.notify(slug, dataset, version)


def _request_json(row: PrivacyRequest, subject: Subject) -> dict[str, Any]:
    return {"id": row.id, "resident_id": row.resident_id, "site": subject.site.slug,
            "kind": row.kind, "requested_by": row.requested_by_name, "reason": row.reason,
            **times("at", row.at, subject.tz), "detail": row.detail}


@requires("people.export")
async def list_requests(request: web.Request) -> web.Response:
    """The person's export and erasure requests, oldest first."""
    async with request.app[SESSIONS]() as session:
        subject = await _subject(session, request)
        rows = await held.requests(session, subject.ids)
    return json_ok({"resident_id": subject.ids[0],
                    "requests": [_request_json(r, subject) for r in rows]})


def _consent_json(c: FaceConsent, subject: Subject) -> dict[str, Any]:
    return {"id": c.id, "resident_id": c.resident_id, "purpose": c.purpose,
            "evidence": c.evidence, "current": c.withdrawn_at is None,
            **times("given_at", c.given_at, subject.tz),
            **times("withdrawn_at", c.withdrawn_at, subject.tz)}


def _purpose(raw: Any) -> str:
    if raw not in PURPOSES:
        raise bad_param("purpose", f"须为 {' / '.join(PURPOSES)}",
                        f"must be one of {', '.join(PURPOSES)}")
    return str(raw)


@requires("people.write")
async def give_consent(request: web.Request) -> web.Response:
    """Record the resident's consent for a purpose (``evidence``: where the form is kept)."""
    body = await json_object(request, allowed=("purpose", "evidence"))
    purpose = _purpose(body.get("purpose"))
    evidence = text_field(body, "evidence", 500, required=False)
    actor, now = actor_of(request), request.app[CLOCK].now()
    async with request.app[SESSIONS]() as session, session.begin():
        resident = await _resident(session, request)
        subject = await load_subject(session, resident, now, request.app[DEFAULT_TZ])
        row = await current_consent(session, resident.id, purpose)
        created = row is None
        if row is None:
            row = FaceConsent(resident_id=resident.id, site_id=resident.site_id,
                              purpose=purpose, given_at=now, recorded_by=actor.ref[:64],
                              evidence=evidence)
            session.add(row)
            await session.flush()
            record(session, at=now, actor=actor, action="consent", entity="resident",
                   entity_id=resident.id, site_id=resident.site_id,
                   detail={"purpose": purpose, "consent": row.id})
        out = _consent_json(row, subject)
    return json_ok(out, status=201 if created else 200)


@requires("people.write")
async def withdraw_consent(request: web.Request) -> web.Response:
    """Withdraw the consent; the face data it allowed is deleted with it."""
    purpose = _purpose(request.match_info["purpose"])
    actor, now = actor_of(request), request.app[CLOCK].now()
    store = _store(request)
    async with request.app[SESSIONS]() as session, session.begin():
        resident = await _resident(session, request)
        if await current_consent(session, resident.id, purpose) is None:
            raise ApiError(404, "not_found", "该住户没有有效的同意记录",
                           "this resident has no current consent for that purpose",
                           field="purpose")
        refs = await drop_faces(session, [resident.id], now)
        forgotten = await forget(session, store, refs)
        record(session, at=now, actor=actor, action="withdraw", entity="resident",
               entity_id=resident.id, site_id=resident.site_id,
               detail={"purpose": purpose, "faces_deleted": len(refs), "blobs": forgotten})
    return json_ok({"resident_id": resident.id, "purpose": purpose, "withdrawn": True,
                    "faces_deleted": len(refs)})


async def _jpeg(request: web.Request) -> bytes:
    if request.content_type != "image/jpeg":
        raise ApiError(415, "unsupported_media_type", "Content-Type 须为 image/jpeg",
                       "Content-Type must be image/jpeg", field="Content-Type")
    limit = MAX_FACE_BYTES
    too_large = ApiError(413, "too_large", f"人脸照片不能超过 {limit // 1024} KB",
                         f"the face photo must be at most {limit // 1024} KB",
                         field="body", limit=limit)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    parts, total = [], 0
    while chunk := await request.content.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise too_large
        parts.append(chunk)
    data = b"".join(parts)
    if not data.startswith(b"\xff\xd8\xff"):
        raise bad_param("body", "不是 JPEG 图片", "not a JPEG image")
    return data


def _face_json(f: Face, subject: Subject) -> dict[str, Any]:
    return {"id": f.id, "resident_id": f.resident_id, "image": f.blob_ref, "bytes": f.bytes,
            **times("created_at", f.created_at, subject.tz)}


@requires("people.write")
async def enrol_face(request: web.Request) -> web.Response:
    """Enrol the resident's face (the JPEG is the body); 409 without a current consent."""
    actor, now = actor_of(request), request.app[CLOCK].now()
    store = _store(request)
    async with request.app[SESSIONS]() as session:
        resident = await _resident(session, request)
        consented = await current_consent(session, resident.id) is not None
    if not consented:
        raise ApiError(409, "consent_required",
                       "该住户未就人脸识别门禁单独同意，不能录入人脸（请先登记同意书）",
                       "this resident has not given separate consent to face access: "
                       "record the consent first", field="consent", purpose=FACE_ACCESS)
    data = await _jpeg(request)
    ref = await store.put(data, content_type="image/jpeg")
    async with request.app[SESSIONS]() as session, session.begin():
        resident = await _resident(session, request)
        if await current_consent(session, resident.id) is None:  # withdrawn meanwhile
            raise ApiError(409, "consent_required", "同意已撤回", "the consent was withdrawn",
                           field="consent", purpose=FACE_ACCESS)
        await index_blobs(session, resident.site_id,
                          [BlobRow(ref, FACES_CLASS, "image/jpeg", len(data))], now)
        face = Face(resident_id=resident.id, site_id=resident.site_id, blob_ref=ref,
                    bytes=len(data), created_at=now, created_by=actor.ref[:64])
        session.add(face)
        await session.flush()
        record(session, at=now, actor=actor, action="create", entity="face", entity_id=face.id,
               site_id=resident.site_id, detail={"resident": resident.id, "bytes": len(data)})
        subject = await load_subject(session, resident, now, request.app[DEFAULT_TZ])
        out = _face_json(face, subject)
    return json_ok(out, status=201)


@requires("faces.read")
async def list_faces(request: web.Request) -> web.Response:
    """The resident's enrolled faces (refs, not images)."""
    async with request.app[SESSIONS]() as session:
        subject = await _subject(session, request)
        rows = await held.faces(session, subject)
    return json_ok({"resident_id": subject.ids[0],
                    "faces": [_face_json(f, subject) for f in rows]})


def add_privacy_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/export", export_person, name="people_export")
    r.add_post(f"{PREFIX}/erasure", erase_person, name="people_erasure")
    r.add_get(f"{PREFIX}/requests", list_requests, name="people_requests")
    r.add_post(f"{PREFIX}/consents", give_consent, name="people_consents")
    r.add_delete(f"{PREFIX}/consents/{{purpose}}", withdraw_consent,
                 name="people_consent_withdraw")
    r.add_post(f"{PREFIX}/face", enrol_face, name="people_face")
    r.add_get(f"{PREFIX}/faces", list_faces, name="people_faces")
