"""Where the auth routes are registered: ``setup`` is the staff layer's entry in
``cloud.features``, like a feature's."""

from __future__ import annotations

from aiohttp import web

from cloud.auth import openapi as _openapi  # noqa: F401  (its paths join the document)
from cloud.auth.audit_api import list_audit
from cloud.auth.edge_tokens import create_edge_token
from cloud.auth.login import change_password, login, login_asset, login_page, logout, me
from cloud.auth.shell import add_shell_routes
from cloud.auth.staff_api import (
    create_api_token,
    create_staff,
    get_staff,
    list_staff,
    list_tokens,
    revoke_token,
    update_staff,
)
from cloud.ingest.handlers import HandlerRegistry


def setup(app: web.Application, registry: HandlerRegistry) -> None:
    """Login, logout, the shell's files, the staff and token API and the audit log."""
    add_auth_routes(app)
    add_shell_routes(app)


def add_auth_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", login_page, name="login_page")
    r.add_get("/login/static/{name}", login_asset, name="login_asset")
    r.add_post("/api/login", login, name="login")
    r.add_post("/api/logout", logout, name="logout")
    r.add_get("/api/me", me, name="me")
    r.add_post("/api/me/password", change_password, name="me_password")
    r.add_get("/api/staff", list_staff, name="staff")
    r.add_post("/api/staff", create_staff)
    r.add_get("/api/staff/{id}", get_staff, name="staff_member")
    r.add_patch("/api/staff/{id}", update_staff)
    r.add_get("/api/tokens", list_tokens, name="tokens")
    r.add_post("/api/tokens", create_api_token)
    r.add_delete("/api/tokens/{id}", revoke_token, name="token")
    r.add_get("/api/audit", list_audit, name="audit")
    r.add_post("/api/sites/{site}/edge-token", create_edge_token, name="edge_token")
