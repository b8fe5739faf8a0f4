"""The worked month (acceptance): the sample community of configs/billing is billed for
November 2026 on SQLite and PostgreSQL, and every bill's lines and total match the table
worked by hand in docs/billing.md, to the fen.

The expected values below are literals copied from that table, not computed by the code.
The prepaid balance (1-102) is applied by ``cloud.payments.balances.apply_prepaid`` and the
late fee (3-102's unpaid October) by ``cloud.payments.late_fees.assess_late_fees``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from cloud.auth.audit import SYSTEM
from cloud.db.models import Site
from cloud.payments.late_fees import assess_late_fees
from tests.billing.conftest import Console, load_sample

# unit → (state, paid, total, [(fee_code, kind, quantity, unit_price, amount), ...])
EXPECTED: dict[str, tuple[str, str, str, list[tuple[str, str, str, str, str]]]] = {
    "1-101": ("open", "0.00", "424.27", [
        ("PF", "charge", "89.500000", "2.200000", "196.90"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "185.500000", "0.528300", "98.00"),
        ("WATER", "charge", "12.500000", "3.450000", "43.13"),
        ("SHARE1", "charge", "134.848662", "0.528300", "71.24")]),
    "1-102": ("partial", "500.00", "611.68", [
        ("PF", "charge", "120.000000", "2.200000", "264.00"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "200.000000", "0.528300", "105.66"),
        ("ELEC", "charge", "120.000000", "0.578300", "69.40"),
        ("WATER", "charge", "18.000000", "3.450000", "62.10"),
        ("SHARE1", "charge", "180.802676", "0.528300", "95.52")]),
    "1-201": ("open", "0.00", "169.69", [
        ("PF", "charge", "89.500000", "2.200000", "196.90"),
        ("PF", "discount", "1.000000", "-98.450000", "-98.45"),
        ("ELEC", "charge", "0.000000", "0.528300", "0.00"),
        ("WATER", "charge", "0.000000", "3.450000", "0.00"),
        ("SHARE1", "charge", "134.848662", "0.528300", "71.24")]),
    "2-101": ("open", "0.00", "356.71", [
        ("PF", "charge", "75.300000", "2.200000", "165.66"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "200.000000", "0.528300", "105.66"),
        ("WATER", "charge", "9.200000", "3.450000", "31.74"),
        ("SHARE2", "charge", "73.170732", "0.528300", "38.65")]),
    "2-102": ("open", "0.00", "486.93", [
        ("PF", "charge", "136.800000", "2.200000", "300.96"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "170.000000", "0.528300", "89.81"),
        ("WATER", "charge", "14.000000", "3.450000", "48.30"),
        ("SHARE2", "charge", "62.195122", "0.528300", "32.86")]),
    "2-201": ("open", "0.00", "618.27", [
        ("PF", "charge", "98.000000", "2.200000", "215.60"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "200.000000", "0.528300", "105.66"),
        ("ELEC", "charge", "200.000000", "0.578300", "115.66"),
        ("ELEC", "charge", "50.000000", "0.828300", "41.42"),
        ("WATER", "charge", "11.000000", "3.450000", "37.95"),
        ("SHARE2", "charge", "164.634146", "0.528300", "86.98")]),
    "3-S01": ("open", "0.00", "638.29", [
        ("PF", "charge", "60.000000", "4.500000", "270.00"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "200.000000", "0.528300", "105.66"),
        ("ELEC", "charge", "200.000000", "0.578300", "115.66"),
        ("ELEC", "charge", "123.500000", "0.828300", "102.30"),
        ("WATER", "charge", "8.600000", "3.450000", "29.67")]),
    "3-101": ("open", "0.00", "697.96", [
        ("PF", "charge", "105.600000", "2.200000", "232.32"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "142.800000", "0.528300", "75.44"),
        ("WATER", "charge", "16.000000", "3.450000", "55.20"),
        ("PASS", "charge", "1.000000", "300.000000", "300.00"),
        ("TEMP", "charge", "1.000000", "20.000000", "20.00")]),
    "3-102": ("open", "0.00", "362.82", [
        ("PF", "charge", "88.000000", "2.200000", "193.60"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "200.000000", "0.528300", "105.66"),
        ("ELEC", "charge", "10.000000", "0.578300", "5.78"),
        ("WATER", "charge", "12.400000", "3.450000", "42.78")]),
    "3-201": ("held", "0.00", "3235.31", [
        ("PF", "charge", "92.400000", "2.200000", "203.28"),
        ("RUB", "charge", "1.000000", "15.000000", "15.00"),
        ("ELEC", "charge", "160.000000", "0.528300", "84.53"),
        ("WATER", "charge", "850.000000", "3.450000", "2932.50")]),
}
RUN_TOTAL = "7601.93"  # sum of the ten totals above


async def _bills(c: Console, period: str) -> dict[str, dict[str, Any]]:
    page = await c.call("GET", f"/api/bills?site=sunny&period={period}&limit=100", 200)
    out = {}
    for b in page["bills"]:
        out[b["unit"]] = await c.call("GET", f"/api/bills/{b['id']}", 200)
    return out


async def test_november_2026_matches_the_hand_computed_table(console: Console) -> None:
    c = console
    await load_sample(c.sessions)
    run = await c.run_to_end("sunny", "2026-11")
    assert run["state"] == "done", run
    assert (run["units_total"], run["units_done"], run["bills"], run["held"]) == (10, 10, 10, 1)
    assert run["total"] == RUN_TOTAL

    bills = await _bills(c, "2026-11")
    assert set(bills) == set(EXPECTED)
    for unit, (state, paid, total, lines) in EXPECTED.items():
        bill = bills[unit]
        got = [(ln["fee_code"], ln["kind"], ln["quantity"], ln["unit_price"], ln["amount"])
               for ln in bill["lines"]]
        assert got == lines, unit
        assert bill["total"] == total, unit
        assert bill["due_date"] == "2026-12-15", unit
        # the prepaid balance of 1-102 (500.00) pays its new bill in part
        assert (bill["state"], bill["paid"]) == (state, paid), unit

    # the held bill names its meter, the readings and why
    (reason,) = bills["3-201"]["hold_reasons"]
    assert reason["meter"] == "W-3-201" and reason["reason"] == "spike"
    assert reason["consumption"] == "850.000000" and reason["cap"] == "60"
    # traceability: the swap, the rollover and the CT ratio are in the lines' sources
    swap = bills["2-101"]["lines"][2]["source"]["segments"]
    assert [(s["meter"], s["start"], s["end"]) for s in swap] == [
        ("E-2-101", "8000.000000", "8090.000000"), ("E-2-101N", "0.000000", "110.000000")]
    rolled = bills["2-102"]["lines"][2]["source"]["segments"][0]
    assert rolled["rollover"] is True and rolled["consumption"] == "170.000000"
    assert bills["3-S01"]["lines"][2]["source"]["segments"][0]["multiplier"] == "10.000000"
    temp = bills["3-101"]["lines"][5]["source"]
    assert temp["session"] == "sess-101" and (temp["amount"], temp["paid"]) == ("25.00", "5.00")

    # a second run of the same period is refused, naming it
    again = await c.call("POST", "/api/bill-runs", 409,
                         {"site": "sunny", "cycle": "monthly", "period": "2026-11"})
    assert again["error"]["field"] == "period" and "2026-11" in again["error"]["message"]

    # the late fee on 3-102's unpaid October bill (300.00, due 15 November, 0.05 %/day, no
    # grace): 16 days (16 Nov – 1 Dec) × 300.00 × 0.0005 = 2.40
    async with c.sessions() as session, session.begin():
        site = (await session.execute(select(Site).where(Site.slug == "sunny"))).scalar_one()
        await assess_late_fees(session, site_id=site.id, as_of=date(2026, 12, 1),
                               now=c.clock.now(), actor=SYSTEM)
    october = (await _bills(c, "2026-10"))["3-102"]
    late = [ln for ln in october["lines"] if ln["kind"] == "late_fee"]
    assert [ln["amount"] for ln in late] == ["2.40"]
    assert october["total"] == "302.40"
    # November's bills are not overdue yet: no late fee on them
    november = await _bills(c, "2026-11")
    assert all(ln["kind"] != "late_fee" for b in november.values() for ln in b["lines"])
