"""Loading fee items and a whole sample community from YAML into the console's database.

``load_fee_items`` creates or updates items by (site, code), each validated like the API's
(errors name the item and field: ``fee_items[2].rule.tiers[1].upto``). ``load_community``
loads ``configs/billing/sample_community.yaml``: site, buildings, units, billing meters,
meter readings (as the edge would have delivered them), vehicles, passes, parking charges,
opening arrears and prepaid balances — in one transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth.audit import Actor, record
from cloud.billing.fee_items import FeeItemError, parse_fee_item
from cloud.billing.fee_store import save_fee_item
from cloud.billing.periods import parse_period
from cloud.billing.tables import Bill, BillLine, BillRun, FeeItem
from cloud.db.models import Device, Reading, Site
from cloud.parking.records import RecordError
from cloud.parking.tables import Charge, MonthlyPass, ParkingVehicle
from cloud.payments.service import record_payment
from cloud.records.kinds import check_register
from cloud.records.tables import BillingMeter, Building, Unit
from contract.registers import DEFAULT_BILLING_REGISTER

INSTALLED = datetime(2024, 12, 31, 16, 0, tzinfo=UTC)  # 2025-01-01 00:00 in Shanghai


class LoadError(ValueError):
    """A bad entry of the file, named by its path (``units[3].area``)."""


async def load_fee_items(session: AsyncSession, site: Site, items: Any, actor: Actor,
                         now: datetime) -> list[FeeItem]:
    if not isinstance(items, list):
        raise LoadError("fee_items: 须为列表 / must be a list")
    out = []
    for i, doc in enumerate(items):
        try:
            data = parse_fee_item(doc)
        except FeeItemError as err:
            raise LoadError(f"fee_items[{i}].{err.field}: {err.zh} / {err.en}") from None
        out.append((await save_fee_item(session, site, data, actor, now))[0])
    return out


def _ts(value: Any, path: str) -> datetime:
    try:
        ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise LoadError(f"{path}: 不是 ISO 8601 时间 / not an ISO 8601 time") from None
    if ts.tzinfo is None:
        raise LoadError(f"{path}: 时间须带时区偏移 / the time needs a UTC offset")
    return ts.astimezone(UTC)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _dec(value: Any, default: str | None = None) -> Decimal:
    return Decimal(str(value if value is not None else default))


def _register(m: dict[str, Any], path: str) -> str:
    """The meter's register, checked against what the meter profiles produce."""
    register = str(m.get("register", DEFAULT_BILLING_REGISTER.get(m["utility"], "")))
    try:
        check_register(m["utility"], register)
    except RecordError as err:
        raise LoadError(f"{path}.register ({m.get('code')}): {err.zh} / {err.en}") from None
    return register


async def load_community(session: AsyncSession, doc: dict[str, Any], actor: Actor,
                         now: datetime) -> Site:
    """Everything of the sample file; call inside a transaction."""
    s = doc["site"]
    site = (await session.execute(select(Site).where(Site.slug == s["slug"]))
            ).scalar_one_or_none()
    if site is None:
        site = Site(slug=s["slug"])
        session.add(site)
    site.name, site.timezone = s.get("name", ""), s.get("timezone", "Asia/Shanghai")
    await session.flush()
    stamp = {"created_at": now, "updated_at": now}
    buildings: dict[str, Building] = {}
    for b in doc.get("buildings", []):
        buildings[b["code"]] = Building(site_id=site.id, code=b["code"], name=b["name"],
                                        **stamp)
    session.add_all(buildings.values())
    await session.flush()
    units: dict[str, Unit] = {}
    for i, u in enumerate(doc.get("units", [])):
        if u["building"] not in buildings:
            raise LoadError(f"units[{i}].building: 未知楼栋 / unknown building {u['building']}")
        units[u["code"]] = Unit(site_id=site.id, building_id=buildings[u["building"]].id,
                                code=u["code"], area=_dec(u["area"]), unit_type=u["type"],
                                status=u.get("status", "occupied"), **stamp)
    session.add_all(units.values())
    await session.flush()
    fees = {f.code: f for f in await load_fee_items(session, site, doc.get("fee_items", []),
                                                     actor, now)}
    devices: dict[str, Device] = {}
    for key in {m["device"] for m in doc.get("meters", [])} | set(doc.get("readings", {})):
        devices[key] = Device(site_id=site.id, key=key, kind="meter")
    session.add_all(devices.values())
    await session.flush()
    meters: dict[str, BillingMeter] = {}
    for i, m in enumerate(doc.get("meters", [])):
        scope = m.get("scope", "unit")
        register = _register(m, f"meters[{i}]")
        row = BillingMeter(
            site_id=site.id, code=m["code"], utility=m["utility"], scope=scope,
            unit_id=units[m["unit"]].id if scope == "unit" else None,
            building_id=buildings[m["building"]].id if m.get("building") else None,
            device_key=m["device"], register=register,
            multiplier=_dec(m.get("multiplier"), "1"),
            rollover_at=None if m.get("rollover_at") is None else _dec(m["rollover_at"]),
            installed_at=_ts(m["installed_at"], f"meters[{i}].installed_at")
            if m.get("installed_at") else INSTALLED,
            initial_reading=_dec(m.get("initial_reading"), "0"),
            removed_at=_ts(m["removed_at"], f"meters[{i}].removed_at")
            if m.get("removed_at") else None,
            final_reading=None if m.get("final_reading") is None else _dec(m["final_reading"]),
            replaces_id=meters[m["replaces"]].id if m.get("replaces") else None, **stamp)
        session.add(row)
        await session.flush()
        meters[m["code"]] = row
    rows = []
    reads = {m.device_key: m for m in meters.values()}
    for key, (register, values) in doc.get("readings", {}).items():
        if key in reads and reads[key].register != register:
            m = reads[key]
            raise LoadError(f"readings.{key}: 表 {m.code} 读 {m.register}，这些读数是 "
                            f"{register} / meter {m.code} reads {m.register}, these readings "
                            f"are {register}")
        for j, (ts, value) in enumerate(values):
            rows.append({"site_id": site.id, "device_id": devices[key].id,
                         "ts": _ts(ts, f"readings.{key}[{j}]"), "name": register,
                         "value": _dec(value), "unit": None, "event_id": 0,
                         "received_at": now})
    if rows:
        await session.execute(insert(Reading), rows)
    for v in doc.get("vehicles", []):
        session.add(ParkingVehicle(site_id=site.id, plate=v["plate"], holder=v.get("holder", ""),
                                   unit_ref=v["unit"], role=v.get("role", "owner"), lots=[],
                                   **stamp))
    for p in doc.get("passes", []):
        session.add(MonthlyPass(site_id=site.id, plate=p["plate"], holder=p.get("holder"),
                                lots=[], valid_from=_day(p["valid_from"]),
                                valid_to=_day(p["valid_to"]), grace_days=0, remind_days=7,
                                **stamp))
    for k, c in enumerate(doc.get("charges", [])):
        session.add(Charge(site_id=site.id, source="parking.exit", source_ref=c["ref"],
                           event_id=k + 1, plate=c["plate"], amount=_dec(c["amount"]),
                           paid=_dec(c["paid"]), created_at=_ts(c["at"], f"charges[{k}].at")))
    await session.flush()
    for i, ob in enumerate(doc.get("opening_bills", [])):
        await _opening_bill(session, site, units[ob["unit"]], fees[ob["fee"]], ob, actor, now,
                            f"opening_bills[{i}]")
    for p in doc.get("prepaid", []):

        await record_payment(session, site=site, unit=units[p["unit"]],
                             amount=_dec(p["amount"]), method="cash",
                             key=f"opening-prepaid-{p['unit']}",
                             now=_ts(p["at"], "prepaid.at") if p.get("at") else now,
                             actor=actor, prepay=True)
    return site


async def _opening_bill(session: AsyncSession, site: Site, unit: Unit, fee: FeeItem,
                        ob: dict[str, Any], actor: Actor, now: datetime, path: str) -> None:
    """Arrears from before the console: a done run of that period holding the bill."""
    period = parse_period("monthly", str(ob["period"]))
    run = (await session.execute(select(BillRun).where(
        BillRun.site_id == site.id, BillRun.cycle == "monthly",
        BillRun.period == period.label))).scalar_one_or_none()
    if run is None:
        run = BillRun(site_id=site.id, cycle="monthly", period=period.label,
                      period_start=period.start, period_end=period.end, state="done",
                      units_total=0, units_done=0, bills=0, held=0, total=Decimal("0.00"),
                      started_by="import", started_at=now, finished_at=now)
        session.add(run)
        await session.flush()
    amount = _dec(ob["amount"])
    bill = Bill(site_id=site.id, run_id=run.id, unit_id=unit.id,
                number=f"{site.slug}-{period.label}-{unit.id}", cycle="monthly",
                period=period.label, state="open", total=amount, paid=Decimal("0.00"),
                due_date=_day(ob["due_date"]), issued_at=now, created_at=now, updated_at=now)
    session.add(bill)
    await session.flush()
    session.add(BillLine(bill_id=bill.id, kind="charge", fee_item_id=fee.id, fee_code=fee.code,
                         description=f"{fee.name} 期初欠费 / opening arrears",
                         quantity=Decimal(1), unit_price=amount, amount=amount,
                         source={"opening": True, "from": path}, created_at=now))
    run.bills += 1
    run.total += amount
    record(session, at=now, actor=actor, action="import", entity="bill", entity_id=bill.id,
           site_id=site.id, after={"number": bill.number, "total": amount})
