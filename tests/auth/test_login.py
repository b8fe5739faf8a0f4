"""Logging in: the session cookie, CSRF, lock-out, rate limiting, expiry, and the audit trail."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from cloud.app import create_app
from cloud.auth.tables import AuditEntry
from cloud.settings import Settings
from tests.auth.conftest import Console
from tests.support.auth import create_staff

PASSWORD = "guard-room-7"


async def _audit(console: Console, action: str) -> list[AuditEntry]:
    async with console.sessions() as session:
        return list((await session.scalars(select(AuditEntry).where(
            AuditEntry.action == action).order_by(AuditEntry.id))).all())


async def test_login_sets_an_httponly_samesite_cookie_and_me_gives_the_csrf_token(
        console: Console) -> None:
    await create_staff(console.sessions, "zhang", PASSWORD, "guard", sites=["demo"])
    resp = await console.client.post("/api/login",
                                     json={"username": "zhang", "password": PASSWORD})
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("courtyard_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP unless COURTYARD_COOKIE_SECURE
    me = await (await console.client.get("/api/me")).json()
    assert (me["kind"], me["username"], me["role"], me["sites"]) == (
        "user", "zhang", "guard", ["demo"])
    assert "alarms.act" in me["permissions"] and "billing.read" not in me["permissions"]
    assert len(me["csrf_token"]) == 64
    [entry] = await _audit(console, "login")
    assert entry.actor.startswith("user:") and entry.detail is not None
    assert PASSWORD not in str(entry.detail)


async def test_secure_cookies_when_configured(db_url: str, console: Console) -> None:
    await create_staff(console.sessions, "li", PASSWORD)
    app = create_app(Settings(database_url=db_url, cookie_secure=True), console.sessions,
                     console.clock)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/api/login", json={"username": "li", "password": PASSWORD})
        assert resp.status == 200 and "Secure" in resp.headers["Set-Cookie"]


async def test_unsafe_requests_with_the_cookie_need_the_csrf_header(console: Console) -> None:
    await create_staff(console.sessions, "wang", PASSWORD, "operations_lead")
    me = await console.login("wang", PASSWORD)
    body = {"site": "demo", "category": "plumbing", "title": "漏水", "requested_by": "业主"}
    resp = await console.client.post("/api/workorders", json=body)
    err = (await resp.json())["error"]
    assert (resp.status, err["code"], err["field"]) == (403, "csrf_failed", "X-CSRF-Token")
    wrong = await console.client.post("/api/workorders", json=body,
                                      headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status == 403
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    cross = await console.client.post("/api/workorders", json=body,
                                      headers={**csrf, "Origin": "http://evil.example"})
    assert (cross.status, (await cross.json())["error"]["code"]) == (403, "cross_origin")
    # With the header the guard lets it through: the handler answers (no site "demo" yet).
    ok = await console.client.post("/api/workorders", json=body, headers=csrf)
    assert ok.status == 404 and (await ok.json())["error"]["field"] == "site"
    # GETs need no header.
    assert (await console.client.get("/api/workorders")).status == 200


async def test_wrong_passwords_lock_the_account_for_a_while(console: Console) -> None:
    await create_staff(console.sessions, "chen", PASSWORD)
    for _ in range(4):
        err = (await console.login("chen", "wrong-password", 401))["error"]
        assert err["code"] == "invalid_credentials" and "用户名或密码错误" in err["message"]
    # The fifth locks the account; the answer stays the one an unknown name gets.
    err = (await console.login("chen", "wrong-password", 401))["error"]
    assert err["code"] == "invalid_credentials"
    await console.login("chen", PASSWORD, 401)  # the right password does not help now
    console.clock.advance(15 * 60 + 1)
    await console.login("chen", PASSWORD, 200)
    failed = await _audit(console, "login_failed")
    assert len(failed) == 6
    assert {f.detail["reason"] for f in failed if f.detail} == {"wrong_password", "locked"}
    assert "locked_until" in (failed[4].detail or {})  # the log says when it locked
    assert all("wrong-password" not in str(f.detail) for f in failed)


async def test_unknown_users_get_the_same_answer(console: Console) -> None:
    err = (await console.login("nobody", "whatever-123", 401))["error"]
    assert err["code"] == "invalid_credentials"


async def test_too_many_attempts_from_one_address_are_refused_with_retry_after(
        console: Console) -> None:
    for i in range(20):
        await console.login(f"user{i}", "wrong-password", 401)
    resp = await console.client.post("/api/login",
                                     json={"username": "user99", "password": "x"})
    body: Any = await resp.json()
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    assert body["error"]["code"] == "too_many_attempts" and "try again" in body["error"][
        "message"]
    console.clock.advance(5 * 60 + 1)
    await console.login("user99", "wrong-password", 401)


async def test_sessions_end_on_logout_and_when_idle(console: Console) -> None:
    await create_staff(console.sessions, "zhao", PASSWORD)
    me = await console.login("zhao", PASSWORD)
    assert (await console.client.post("/api/logout")).status == 403  # CSRF applies
    out = await console.client.post("/api/logout", headers={"X-CSRF-Token": me["csrf_token"]})
    assert out.status == 200
    assert (await console.client.get("/api/me")).status == 401
    await console.login("zhao", PASSWORD)
    console.clock.advance(11 * 3600)
    assert (await console.client.get("/api/me")).status == 200  # touched: idle restarts
    console.clock.advance(12 * 3600 + 1)
    assert (await console.client.get("/api/me")).status == 401


async def test_no_actor_is_401_for_the_api_and_a_login_redirect_for_pages(
        console: Console) -> None:
    resp = await console.client.get("/api/alarms")
    err = (await resp.json())["error"]
    assert resp.status == 401 and "请先登录" in err["message"] and "log in" in err["message"]
    page = await console.client.get("/guard?site=demo", allow_redirects=False)
    assert page.status == 302
    location = urlsplit(page.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/guard?site=demo"]
    login = await console.client.get("/login")
    assert login.status == 200 and "登录" in await login.text()
    for public in ("/healthz", "/api/openapi.json", "/login/static/login.js",
                   "/login/static/session.js"):
        assert (await console.client.get(public)).status == 200, public


async def test_changing_ones_password(console: Console) -> None:
    await create_staff(console.sessions, "sun", PASSWORD)
    me = await console.login("sun", PASSWORD)
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    bad = await console.client.post("/api/me/password", headers=csrf, json={
        "current_password": "nope-nope", "new_password": "new-password-1"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "current_password"
    ok = await console.client.post("/api/me/password", headers=csrf, json={
        "current_password": PASSWORD, "new_password": "new-password-1"})
    assert ok.status == 200
    await console.login("sun", PASSWORD, 401)
    await console.login("sun", "new-password-1", 200)
