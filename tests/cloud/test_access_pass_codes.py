"""A visitor pass's 9-digit code and a card number share one space at the door (both reach the
edge as a Wiegand card number, and the card wins there), on real SQLite and PostgreSQL: a card
whose number is a live pass's code is refused 409 naming ``number``, and the code generator
passes over the numbers of active cards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cloud.access import passes
from cloud.web.keys import CLOCK
from contract import FakeClock
from tests.cloud.test_access_api import PULL, _resident, console
from tests.cloud.test_access_passes import P, _body
from tests.support.auth import token_headers

CARDS = "/api/sites/demo/access/cards"


def _card(number: str) -> dict[str, Any]:
    return {"number": number, "staff_name": "保洁刘芳", "doors": ["b1-lobby"]}


async def test_a_card_cannot_take_a_live_pass_code(db_url: str) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        await _resident(c, admin)
        made = await c.call("POST", P, admin, 201, _body())
        other = await c.call("POST", P, admin, 201, _body())

        err = await c.call("POST", CARDS, admin, 409, _card(made["code"]))
        assert (err["error"]["code"], err["error"]["field"]) == ("conflict", "number")
        zh, en = err["error"]["message"].split(" / ", 1)
        assert "访客通行证" in zh and "visitor pass" in en
        assert c.notices.sent == [("demo", "access", 1), ("demo", "access", 2)]  # no bump
        doc = await (await c.client.get("/api/sites/demo/access/dataset", headers=PULL)).json()
        assert doc["cards"] == {} and set(doc["passes"]) == {made["code"], other["code"]}

        # Once the pass is revoked its code is free for a card.
        await c.call("POST", f"{P}/{made['id']}/revoke", admin, 200, {"reason": "业主取消"})
        card = await c.call("POST", CARDS, admin, 201, _card(made["code"]))
        assert card["number"] == made["code"]

        # Once a pass has ended, too (the other pass's window closes at 2026-12-08T02:00Z).
        await c.call("POST", CARDS, admin, 409, _card(other["code"]))
        clock = c.client.app[CLOCK]
        assert isinstance(clock, FakeClock)
        clock.advance(25 * 3600)
        await c.call("POST", CARDS, admin, 201, _card(other["code"]))


async def test_a_new_code_passes_over_active_card_numbers(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with console(db_url) as c:
        admin = await token_headers(c.sessions, "admin", ["demo"])
        await _resident(c, admin)
        low = 10 ** 8
        await c.call("POST", CARDS, admin, 201, _card(str(low + 1)))
        revoked = await c.call("POST", CARDS, admin, 201, _card(str(low + 3)))
        await c.call("POST", f"{CARDS}/{revoked['id']}/revoke", admin, 200, {"reason": "挂失"})
        # The generator draws the numbers of the active card, then the revoked one.
        draws: Iterator[int] = iter([1, 3])
        monkeypatch.setattr(passes.secrets, "randbelow", lambda _n: next(draws))
        made = await c.call("POST", P, admin, 201, _body())
        assert made["code"] == str(low + 3)  # a revoked card's number is free
        # A live pass's code is not drawn twice either, and the draw ends with a free one.
        draws = iter([1, 3, 5])
        second = await c.call("POST", P, admin, 201, _body())
        assert second["code"] == str(low + 5)
