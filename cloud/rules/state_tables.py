"""The rule engine's memory in the database (issue 16 §4), shared by every console process.

``rule_windows`` holds the recent event times a ``repeat`` rule counts, per site, device and
rule (the newest ``count`` of them; older rows are pruned), and each device's last
``device.online`` (rule id ``@online``). ``rule_timers`` holds the pending ``offline_for_s``
decisions, one per site, device and rule: "back online" deletes them, and the console that
fires one claims it by deleting it, so a timer fires once however many consoles run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.models import Base
from cloud.db.types import BigId, JsonDoc, UTCDateTime


class RuleWindowHit(Base):
    __tablename__ = "rule_windows"
    __table_args__ = (Index("ix_rule_windows_key", "site", "device", "rule_id"),
                      Index("ix_rule_windows_ts", "ts"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    device: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(100))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)


class RuleTimer(Base):
    __tablename__ = "rule_timers"
    __table_args__ = (UniqueConstraint("site", "device", "rule_id"),
                      Index("ix_rule_timers_due_at", "due_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    device: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cause_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    #: What the decision needs besides the rule (the event's kind, its count); the action is
    #: the rule's action when the timer fires, so an edit in the meantime takes effect.
    decision: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
