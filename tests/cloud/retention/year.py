"""A year of scripted data for one site, on a fake clock: events of every retention class,
patrol rows, work-order photos, readings, audit rows, residents and money.

Each class's rows sit at ``days`` days and an hour before ``NOW`` (one a day over a year, and
a few older ones for the multi-year windows), plus two at the default cutoff: one second
inside, one second outside. ``expected(window)`` is how many of one source's rows a purge
with that window must take.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth.tables import AuditEntry
from cloud.billing.tables import Bill, BillLine, BillRun, FeeItem
from cloud.blobs.store import BlobStore
from cloud.blobs.tables import Blob
from cloud.db.models import Event, IngestEpoch, Reading, Site
from cloud.patrol.tables import PatrolRound, PatrolVisit
from cloud.payments.tables import Payment, PaymentAllocation, Receipt
from cloud.records.tables import Building, Resident, Unit
from cloud.retention.classes import BY_NAME
from cloud.workorders.photo_tables import WorkOrderPhoto
from cloud.workorders.tables import WorkOrder
from tests.support.epochs import TEST_EPOCH

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
DAYS = (*range(365), 729, 730, 1094, 1095, 1096)


def times(cls: str) -> list[datetime]:
    """The row times of a class: every day of ``DAYS`` and the default cutoff ± 1 s."""
    cutoff = NOW - timedelta(days=BY_NAME[cls].default_days)
    return ([NOW - timedelta(days=d, hours=1) for d in DAYS]
            + [cutoff + timedelta(seconds=1), cutoff - timedelta(seconds=1)])


def older(ts: list[datetime], days: int) -> int:
    """How many of ``ts`` a window of ``days`` takes."""
    cutoff = NOW - timedelta(days=days)
    return sum(t < cutoff for t in ts)


def expected(cls: str, window: int | None = None) -> int:
    """How many of ``times(cls)`` are older than ``window`` days (default: the class's)."""
    return older(times(cls), window or BY_NAME[cls].default_days)


@dataclass
class Year:
    site_id: int
    slug: str
    seq: int = 0
    refs: list[str] = field(default_factory=list)
    residents: dict[str, int] = field(default_factory=dict)


def _event(y: Year, kind: str, ts: datetime, data: dict[str, Any]) -> Event:
    y.seq += 1
    return Event(site_id=y.site_id, epoch=TEST_EPOCH, seq=y.seq, uuid=str(uuid.uuid4()), ts=ts,
                 kind=kind, device="dev-1", device_id=None, priority=1, data=data,
                 received_at=ts)


async def seed_year(sessions: async_sessionmaker[AsyncSession], slug: str,
                    store: BlobStore) -> Year:
    """The site ``slug`` and its year; every event's seq is at or below the epoch's mark."""
    async with sessions() as s, s.begin():
        site = Site(slug=slug, name=slug, timezone="Asia/Shanghai")
        s.add(site)
        await s.flush()
        y = Year(site.id, slug)
        await _events(s, y, store)
        s.add(IngestEpoch(site_id=y.site_id, epoch=TEST_EPOCH, acked_seq=y.seq,
                          first_seen_at=NOW, last_batch_at=NOW))
        await _rows(s, y)
        await _people_and_money(s, y)
    return y


async def _events(s: AsyncSession, y: Year, store: BlobStore) -> None:
    for i, ts in enumerate(times("plate_images")):
        ref = await store.put(f"{y.slug}-image-{i}".encode(), content_type="image/jpeg")
        y.refs.append(ref)
        s.add(Blob(ref=ref, site_id=y.site_id, data_class="plate_images",
                   content_type="image/jpeg", bytes=10, created_at=ts))
        s.add(_event(y, "plate.read", ts, {"plate": "沪A12345", "evidence_blob": ref,
                                           "crop_blob": None}))
    for ts in times("plate_reads"):
        s.add(_event(y, "plate.evidence", ts, {"plate": "沪B12345",
                                               "evidence_jpeg_b64": "aGVsbG8="}))
    for i, ts in enumerate(times("access_log")):
        s.add(_event(y, ("door.opened", "access.granted")[i % 2], ts, {"door": "d1"}))
    for ts in times("patrol_traces"):
        s.add(_event(y, "patrol.checkpoint", ts, {"checkpoint": "cp1"}))
    for ts in times("telemetry"):
        s.add(_event(y, "meter.reading", ts, {"values": {"kwh": 1}}))
    for ts in times("view_audit"):  # a kind no class covers: kept whatever its age
        s.add(_event(y, "device.online", ts, {}))


async def _rows(s: AsyncSession, y: Year) -> None:
    for i, ts in enumerate(times("patrol_traces")):
        s.add(PatrolVisit(site_id=y.site_id, round_id=f"r{i}", plan="p1", checkpoint="cp1",
                          at=ts, status="on_time", source="ble",
                          event_id=y.site_id * 10_000_000 + i))
        s.add(PatrolRound(site_id=y.site_id, round_id=f"r{i}", plan="p1", scheduled_at=ts,
                          status="completed", missed_checkpoints={}, updated_at=ts))
    order = WorkOrder(site_id=y.site_id, category="repair", priority="normal", state="closed",
                      title_zh="修灯", title_en="fix a lamp", source_kind="manual",
                      fold_key=f"{y.slug}-lamp", last_event_ts=NOW, opened_at=NOW,
                      cause_ts=NOW, response_due=NOW, resolve_due=NOW, updated_at=NOW)
    s.add(order)
    await s.flush()
    for i, ts in enumerate(times("workorder_photos")):
        s.add(WorkOrderPhoto(work_order_id=order.id, by="tech", uploaded_at=ts,
                             source_type="image/jpeg", source_bytes=3, width=1, height=1,
                             bytes=3, sha256=f"{i:064x}", jpeg=b"jpg", thumb=b"th"))
    for ts in times("telemetry"):
        s.add(Reading(site_id=y.site_id, device_id=1, ts=ts, name="kwh", value=Decimal(1),
                      unit="kWh", event_id=1, received_at=ts))
    for ts in times("view_audit"):
        s.add(AuditEntry(at=ts, actor="user:1", actor_name="a", action="view",
                         entity="resident", entity_id="1", site_id=y.site_id))
        # money actions and edits of the same age are never purged
        s.add(AuditEntry(at=ts, actor="user:1", actor_name="a", action="create",
                         entity="payment", entity_id="1", site_id=y.site_id))


async def _people_and_money(s: AsyncSession, y: Year) -> None:
    b = Building(site_id=y.site_id, code="1", name="1号楼", created_at=NOW, updated_at=NOW)
    s.add(b)
    await s.flush()
    unit = Unit(site_id=y.site_id, building_id=b.id, code="1-1-101", area=Decimal("88.50"),
                unit_type="residential", status="occupied", created_at=NOW, updated_at=NOW)
    s.add(unit)
    await s.flush()
    today = NOW.date()
    for key, move_out in (("four_years", today - timedelta(days=4 * 365)),
                          ("one_year", today - timedelta(days=365)), ("current", None)):
        r = Resident(site_id=y.site_id, unit_id=unit.id, role="owner", name=f"张{key}",
                     phone="13800000000", id_number="310101199001011234", email="a@b.cn",
                     note="note", move_in=date(2015, 1, 1), move_out=move_out,
                     created_at=NOW, updated_at=NOW)
        s.add(r)
        await s.flush()
        y.residents[key] = r.id
    old = NOW - timedelta(days=4 * 365)
    fee = FeeItem(site_id=y.site_id, code="PM", name="物业费", kind="area", cycle="monthly",
                  rule={"rates": {"residential": "2.50"}}, due_days=15, created_at=old,
                  updated_at=old)
    run = BillRun(site_id=y.site_id, cycle="monthly", period="2022-12", state="done",
                  period_start=date(2022, 12, 1), period_end=date(2023, 1, 1),
                  started_by="system", started_at=old)
    s.add_all([fee, run])
    await s.flush()
    bill = Bill(site_id=y.site_id, run_id=run.id, unit_id=unit.id, number=f"{y.slug}-2022-12",
                cycle="monthly", period="2022-12", state="paid", total=Decimal("221.25"),
                paid=Decimal("221.25"), due_date=date(2023, 1, 15), created_at=old,
                updated_at=old)
    s.add(bill)
    await s.flush()
    s.add(BillLine(bill_id=bill.id, kind="charge", fee_item_id=fee.id, fee_code="PM",
                   description="物业费", quantity=Decimal("88.5"), unit_price=Decimal("2.5"),
                   amount=Decimal("221.25"), source={}, created_at=old))
    pay = Payment(site_id=y.site_id, unit_id=unit.id, kind="payment", method="cash",
                  amount=Decimal("221.25"), to_balance=Decimal(0), payer="张four_years",
                  idempotency_key=f"{y.slug}-k1", taken_by="user:1", taken_by_name="a",
                  received_at=old)
    s.add(pay)
    await s.flush()
    s.add(PaymentAllocation(payment_id=pay.id, bill_id=bill.id, amount=Decimal("221.25"),
                            principal=Decimal("221.25"), late_fee=Decimal(0), fees={},
                            created_at=old))
    s.add(Receipt(site_id=y.site_id, number=f"{y.slug}-R1", year=2022, seq=1,
                  payment_id=pay.id, unit_id=unit.id, amount=Decimal("221.25"), body={},
                  issued_by="a", issued_at=old))
