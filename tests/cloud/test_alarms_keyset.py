"""The alarms list pages by keyset (issue 16): newest first, ``after`` is the previous page's
``next``; alarms opened at the same instant are each seen once; the filters and the caller's
sites still apply to every page; a forged cursor is refused naming the field."""

from __future__ import annotations

from tests.cloud.test_alarms_api import Console, elevator_data
from tests.cloud.test_alarms_api import console as console  # the fixture
from tests.cloud.test_alarms_ingest import Edge
from tests.support.auth import token_headers


async def _pages(console: Console, query: str, headers: dict[str, str] | None = None
                 ) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    after = ""
    while True:
        page = await console.call("GET", f"/api/alarms?{query}"
                                  + (f"&after={after}" if after else ""), 200, headers=headers)
        seen += [(a["site"], a["device"]) for a in page["alarms"]]
        if page["next"] is None:
            return seen
        after = page["next"]


async def test_alarms_page_newest_first_by_keyset(console: Console) -> None:
    north = Edge(console.sessions, console.clock, site="north")
    for i in range(6):  # pairs opened at the same instant (one per site), a minute apart
        for edge in (console.edge, north):
            await edge.send(edge.event("elevator.fault",
                                       elevator_data(code=11, key="door_close_fault"),
                                       device=f"elevator-{i}"))
        console.clock.advance(60)
    every = await _pages(console, "limit=1000")
    assert len(every) == 12 and len(set(every)) == 12
    assert await _pages(console, "limit=5") == every
    assert await _pages(console, "site=north&limit=2") == [a for a in every if a[0] == "north"]
    demo_only = await token_headers(console.sessions, "guard", sites=["demo"])
    assert await _pages(console, "limit=3", headers=demo_only) == [
        a for a in every if a[0] == "demo"]
    for bad in ("x", "WzEsMV0", "WyIyMDI2LTExLTIzVDEwOjAwOjAwIiwxXQ"):  # [1,1], a naive time
        err = await console.call("GET", f"/api/alarms?after={bad}", 400)
        assert err["error"]["field"] == "after"
