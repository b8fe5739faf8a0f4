"""The bills list pages by keyset (issue 16): ``after`` is the previous page's ``next``, every
bill is seen once in either order, a forged cursor is refused naming the field, and a cursor
never widens what the caller may see."""

from __future__ import annotations

import base64

from tests.billing.conftest import Console, load_sample
from tests.support.auth import token_headers


async def _all(c: Console, query: str, headers: dict[str, str] | None = None
               ) -> tuple[list[int], int]:
    ids: list[int] = []
    pages, after = 0, ""
    while True:
        page = await c.call("GET", f"/api/bills?{query}" + (f"&after={after}" if after else ""),
                            200, headers=headers)
        assert set(page) == {"bills", "next"}, "no count(*) in a page"
        ids += [b["id"] for b in page["bills"]]
        pages += 1
        if page["next"] is None:
            return ids, pages
        after = page["next"]


async def test_bills_page_by_keyset_both_ways(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    await c.run_to_end("sunny", "2026-11")
    every, one_page = await _all(c, "site=sunny&limit=1000")
    assert len(every) >= 10 and len(set(every)) == len(every) and one_page == 1
    up, pages = await _all(c, "site=sunny&limit=3")
    assert up == sorted(every) and pages == -(-len(every) // 3)
    down, _ = await _all(c, "site=sunny&limit=4&order=desc")
    assert down == sorted(every, reverse=True)
    held, _ = await _all(c, "site=sunny&state=held&limit=1")
    assert len(held) == 1


async def test_a_forged_cursor_is_refused_and_cannot_widen_the_scope(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    await c.run_to_end("sunny", "2026-11")
    for bad in ("x", "bm90IGpzb24", base64.urlsafe_b64encode(b'["1"]').decode(), "A" * 300):
        err = await c.call("GET", f"/api/bills?site=sunny&after={bad}", 400)
        assert err["error"]["field"] == "after"
    other = await token_headers(c.sessions, "finance", sites=["elsewhere"])
    start = base64.urlsafe_b64encode(b"[0]").decode().rstrip("=")
    assert (await _all(c, f"after={start}&limit=2", headers=other))[0] == []
    guard = await token_headers(c.sessions, "guard", sites=["sunny"])
    await c.call("GET", f"/api/bills?site=sunny&after={start}", 403, headers=guard)
