"""API tokens: made by the CLI against the console's database, used as Bearer, revoked or
expired → 401; the staff API creates, lists and revokes them, and every change is audited."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from cloud.auth.tables import ApiToken, AuditEntry
from cloud.db.engine import make_engine, session_factory
from courtyard.cli import main
from tests.auth.conftest import Console
from tests.support.auth import admin_headers


@pytest.mark.usefixtures("restore_logging")
def test_the_cli_prints_a_token_once_and_stores_only_its_hash(
        db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COURTYARD_DATABASE_URL", db_url)
    monkeypatch.setenv("COURTYARD_SITE_CREDENTIALS", "garden:garden-secret")
    assert main(["cloud", "token", "create", "--name", "billing export", "--role", "finance",
                 "--site", "garden", "--expires-days", "30"]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("cy_") and len(secret) > 40
    assert main(["cloud", "token", "create", "--name", "x", "--role", "finance",
                 "--site", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["cloud", "token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "billing export" in listing and "garden" in listing and secret not in listing
    monkeypatch.setattr("sys.stdin", io.StringIO("first-admin-pw\n"))
    assert main(["cloud", "user", "create", "--username", "root", "--role", "admin",
                 "--password-stdin"]) == 0

    async def stored() -> tuple[list[ApiToken], list[str]]:
        engine = make_engine(db_url)
        try:
            async with session_factory(engine)() as session:
                tokens = list((await session.scalars(select(ApiToken))).all())
                actions = list((await session.scalars(select(AuditEntry.entity))).all())
                return tokens, actions
        finally:
            await engine.dispose()

    tokens, audited = asyncio.run(stored())
    [token] = tokens
    assert token.token_hash != secret and secret not in str(vars(token))
    assert token.role == "finance" and token.expires_at is not None
    assert sorted(audited) == ["api_token", "staff_user"]
    assert main(["cloud", "token", "revoke", str(token.id)]) == 0
    assert main(["cloud", "token", "revoke", "999"]) == 1


async def test_bearer_tokens_work_until_revoked_or_expired(console: Console) -> None:
    admin = await admin_headers(console.sessions)
    made = await console.client.post("/api/tokens", headers=admin, json={
        "name": "夜间脚本", "role": "guard", "expires_days": 1})
    body = await made.json()
    assert made.status == 201 and body["token"].startswith("cy_")
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert (await console.client.get("/api/alarms", headers=bearer)).status == 200
    me = await (await console.client.get("/api/me", headers=bearer)).json()
    assert (me["kind"], me["role"], me["csrf_token"]) == ("token", "guard", None)
    # Bearer requests need no CSRF header; the guard role may not manage tokens.
    assert (await console.client.post("/api/tokens", headers=bearer,
                                      json={"name": "x", "role": "admin"})).status == 403
    listed = await (await console.client.get("/api/tokens", headers=admin)).json()
    assert all("token" not in t for t in listed["tokens"])
    console.clock.advance(timedelta(days=1, seconds=1).total_seconds())
    expired = await console.client.get("/api/alarms", headers=bearer)
    assert expired.status == 401
    assert (await expired.json())["error"]["code"] == "invalid_token"

    other = await (await console.client.post("/api/tokens", headers=admin, json={
        "name": "另一个", "role": "technician"})).json()
    bearer2 = {"Authorization": f"Bearer {other['token']}"}
    assert (await console.client.get("/api/workorders", headers=bearer2)).status == 200
    revoked = await console.client.delete(f"/api/tokens/{other['id']}", headers=admin)
    assert revoked.status == 200 and (await revoked.json())["active"] is False
    assert (await console.client.get("/api/workorders", headers=bearer2)).status == 401
    bogus = {"Authorization": "Bearer cy_not-a-real-token"}
    assert (await console.client.get("/api/workorders", headers=bogus)).status == 401


async def test_staff_accounts_are_managed_and_audited(console: Console) -> None:
    admin = await admin_headers(console.sessions)
    bad = await console.client.post("/api/staff", headers=admin, json={
        "username": "liu", "password": "short", "role": "finance"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "password"
    bad = await console.client.post("/api/staff", headers=admin, json={
        "username": "liu", "password": "long-enough-1", "role": "boss"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "role"
    made = await console.client.post("/api/staff", headers=admin, json={
        "username": "liu", "password": "long-enough-1", "role": "finance",
        "display_name": "刘会计"})
    user = await made.json()
    assert made.status == 201 and user["sites"] is None and user["role"] == "finance"
    await console.login("liu", "long-enough-1")
    patched = await console.client.patch(f"/api/staff/{user['id']}", headers=admin,
                                         json={"active": False})
    assert patched.status == 200 and (await patched.json())["active"] is False
    assert (await console.client.get("/api/me")).status == 401  # sessions ended
    await console.login("liu", "long-enough-1", 403)
    await console.client.patch(f"/api/staff/{user['id']}", headers=admin,
                               json={"active": True, "password": "reset-pass-2"})
    await console.login("liu", "reset-pass-2")
    trail = await (await console.client.get(
        f"/api/audit?entity=staff_user&entity_id={user['id']}", headers=admin)).json()
    actions = [e["action"] for e in trail["entries"]]
    assert actions[:2] == ["login", "update"] and "create" in actions
    assert all("password_hash" not in str(e) and "reset-pass-2" not in str(e)
               for e in trail["entries"])
    page = await (await console.client.get("/api/audit?limit=2", headers=admin)).json()
    assert len(page["entries"]) == 2 and page["next_before_id"] is not None
    rest = await (await console.client.get(
        f"/api/audit?limit=100&before_id={page['next_before_id']}", headers=admin)).json()
    assert rest["entries"][0]["id"] < page["entries"][-1]["id"]
