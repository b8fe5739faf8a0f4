"""The payments list pages by keyset (issue 16): newest first, ``after`` is the previous page's
``next``, payments taken at the same instant are each seen once, the site-local date range is
applied in the query (a payment at 00:30 Beijing time belongs to that day), a forged cursor is
refused naming the field."""

from __future__ import annotations

import base64

from tests.payments.conftest import Community, Console
from tests.payments.test_payments_api import NOV, _pay


async def _pages(console: Console, query: str) -> tuple[list[int], int]:
    ids: list[int] = []
    pages, after = 0, ""
    while True:
        page = await console.call(
            "GET", f"/api/payments?{query}" + (f"&after={after}" if after else ""), 200)
        ids += [p["id"] for p in page["payments"]]
        pages += 1
        if page["next"] is None:
            return ids, pages
        after = page["next"]


async def test_payments_page_newest_first_by_keyset(console: Console,
                                                    community: Community) -> None:
    await community.bill("1-101", "2026-11", NOV, [("charge", "property", "900.00")])
    for i in range(7):  # three pairs taken at the same instant, then one 14.5 h later
        await console.call("POST", "/api/payments", 201, _pay("10.00", f"k{i}"))
        if i % 2:
            console.clock.advance(300)
    console.clock.advance(14.5 * 3600)  # 2026-12-02 00:35 in Beijing
    await console.call("POST", "/api/payments", 201, _pay("10.00", "late"))
    every, one = await _pages(console, "site=demo&limit=1000")
    assert len(every) == 8 and one == 1
    paged, pages = await _pages(console, "site=demo&limit=3")
    assert paged == every and pages == 3
    day1, _ = await _pages(console, "site=demo&from=2026-12-01&to=2026-12-01&limit=2")
    day2, _ = await _pages(console, "site=demo&from=2026-12-02&limit=2")
    assert day1 == every[1:] and day2 == every[:1]


async def test_a_forged_payments_cursor_is_refused(console: Console) -> None:
    for bad in ("x", base64.urlsafe_b64encode(b'["2026-12-01T00:00:00", 1]').decode(),
                base64.urlsafe_b64encode(b'[1, 1]').decode()):
        err = await console.call("GET", f"/api/payments?site=demo&after={bad}", 400)
        assert err["error"]["field"] == "after"
