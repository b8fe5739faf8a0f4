"""Masking decided by the actor's role (unit-level, with ``Actor`` objects), and the pages."""

from __future__ import annotations

from typing import Any

from cloud.auth.audit import Actor
from cloud.records.mask import guard_people, mask_value
from tests.records.conftest import T0, Console


class _Session:
    """Collects what ``cloud.auth.audit.record`` adds."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


def test_mask_values_keep_enough_to_recognise_nothing_to_use() -> None:
    assert mask_value("phone", "13812345678") == "138****5678"
    assert mask_value("phone", "+86 138-1234-5678") == "+86****5678"
    assert mask_value("id_number", "110101199001011234") == "110***********1234"
    assert mask_value("email", "zhang@example.com") == "z***@example.com"
    assert mask_value("name", "欧阳修") == "欧**"
    assert mask_value("name", "李") == "李*"
    assert mask_value("phone", None) is None


async def test_guard_masks_for_roles_without_people_read_and_audits_one_view_for_others(
        ) -> None:
    rows = [{"id": 1, "site": "garden", "name": "张三", "phone": "13812345678"},
            {"id": 2, "site": "garden", "name": "李四", "phone": None}]
    session = _Session()
    installer = Actor("token:7", "installer", "installer", frozenset({1}))
    masked = [dict(r) for r in rows]
    await guard_people(session, installer, "resident", masked, ("name", "phone"),  # type: ignore[arg-type]
                       at=T0, reason="test")
    assert masked[0]["phone"] == "138****5678" and masked[1]["name"] == "李*"
    assert session.added == []

    service = Actor("user:3", "客服小王", "customer_service", frozenset({1}))
    shown = [dict(r) for r in rows]
    await guard_people(session, service, "resident", shown, ("name", "phone"),  # type: ignore[arg-type]
                       at=T0, reason="test")
    assert shown == rows
    [view] = session.added
    assert (view.action, view.entity, view.actor, view.actor_name) == (
        "view", "resident", "user:3", "客服小王")
    assert view.detail["ids"] == [1, 2] and view.detail["fields"] == ["name", "phone"]


async def test_pages_are_served_with_a_strict_policy(console: Console) -> None:
    c = console
    for path, title in (("/records", "房屋档案"), ("/records/import", "批量导入"),
                        ("/desk", "客服台")):
        resp = await c.client.get(path, headers=c.headers)
        assert resp.status == 200
        html = await resp.text()
        assert title in html and "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert '<script src="/ui/shell.js" defer>' in html  # Shell.api sends X-CSRF-Token
    for asset in ("/records/static/import.js", "/records/static/forms.js",
                  "/desk/static/desk.js"):
        js = await c.client.get(asset)
        text = await js.text()
        assert js.status == 200 and "S.api(" in text and "fetch(" not in text, asset
    assert (await c.client.get("/desk/static/../desk.html")).status == 404
    assert (await c.client.get("/records/static/../records.py")).status == 404
    guard = await c.as_role("guard", ["garden"])
    assert (await c.client.get("/records/import", headers=guard)).status == 403
