"""The data classes a site keeps personal data in, as one table: what each covers, how long
by default, the shortest window an admin may set, and **why** (docs/data-lifecycle.md §2 is
rendered from the same rows by ``table_markdown``, so the page and the purge cannot disagree).

``selects`` says how the purge finds a class's rows: event kinds (by ``events.ts``), or a
table and its timestamp column. Money (bills, lines, payments, receipts, refunds, late fees,
the audit of money actions) is in no class: accounting law keeps it 30 years, so nothing here
can reach it. ``resident_identity`` is not deleted but pseudonymised, and counts in years.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract import Kind

#: Every ``access.*`` and ``door.*`` kind the wire has.
ACCESS_KINDS = tuple(sorted(v for k, v in vars(Kind).items()
                            if k.isupper() and isinstance(v, str)
                            and v.startswith(("access.", "door."))))
PATROL_KINDS = tuple(sorted(v for k, v in vars(Kind).items()
                            if k.isupper() and isinstance(v, str) and v.startswith("patrol.")))
PLATE_KINDS = (Kind.PLATE_READ, Kind.PLATE_EVIDENCE)
#: The image keys of a plate event: refs into the blob store, or (older events) inline base64.
IMAGE_REFS = ("evidence_blob", "crop_blob")
IMAGE_INLINE = ("evidence_jpeg_b64", "crop_jpeg_b64")


@dataclass(frozen=True, slots=True)
class Source:
    """Rows of ``table`` whose ``ts_column`` is older than the cutoff (``kinds``: events of
    those kinds only). ``via``: the table reaches its site through this parent (``table``'s
    column, parent table), e.g. a photo through its work order."""

    table: str
    ts_column: str
    kinds: tuple[str, ...] = ()
    via: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class DataClass:
    name: str
    zh: str
    en: str
    default_days: int
    #: An admin may shorten a window, but not below this (a dispute or an audit needs it).
    min_days: int
    reason_zh: str
    reason_en: str
    sources: tuple[Source, ...]


CLASSES: tuple[DataClass, ...] = (
    DataClass("plate_images", "车牌图片", "plate and scene images", 30, 7,
              "道闸纠纷取证；个人信息保护法最小必要原则",
              "evidence for disputes at the gate; PIPL minimum necessary",
              (Source("events", "ts", PLATE_KINDS),)),
    DataClass("plate_reads", "车牌识别记录", "plate reads", 180, 30,
              "半年内的停车纠纷与收费查询",
              "parking disputes and billing questions within a half-year",
              (Source("events", "ts", PLATE_KINDS),)),
    DataClass("access_log", "门禁记录", "door and access events", 180, 30,
              "治安调查（公安调取通常回溯数月）",
              "security investigations (police requests commonly reach back months)",
              (Source("events", "ts", ACCESS_KINDS),)),
    DataClass("patrol_traces", "巡更轨迹", "patrol hits and rounds", 365, 90,
              "年度保安服务合同考核", "annual security-service contract reviews",
              (Source("events", "ts", PATROL_KINDS), Source("patrol_visits", "at"),
               Source("patrol_scans", "server_time"), Source("patrol_rounds", "scheduled_at"))),
    DataClass("workorder_photos", "工单照片", "work-order photos", 730, 365,
              "维修保修期", "warranty period of repairs",
              (Source("work_order_photos", "uploaded_at",
                      via=("work_order_id", "work_orders")),)),
    DataClass("view_audit", "查看审计", "audit rows of views", 1095, 365,
              "谁查看了谁的数据，保留三年", "who looked at whose data, kept 3 years",
              (Source("audit_log", "at"),)),
    DataClass("telemetry", "计量读数", "meter readings", 1095, 400,
              "计量纠纷；账单保留自己的明细", "meter disputes; bills keep their own lines",
              (Source("readings", "ts"), Source("events", "ts", (Kind.METER_READING,)))),
    DataClass("resident_identity", "住户身份（迁出后化名）",
              "resident identity (pseudonymised after moving out)", 3 * 365, 365,
              "迁出满三年后化名；账单按会计档案管理办法保留30年，只保留房屋与金额",
              "pseudonymised 3 years after moving out; bills are kept 30 years "
              "(accounting archives rules) with unit and amounts only",
              (Source("residents", "move_out"),)),
)

BY_NAME: dict[str, DataClass] = {c.name: c for c in CLASSES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
#: Audit actions never purged under ``view_audit``: only ``view`` rows are in that class.
VIEW_ACTION = "view"


def table_markdown() -> str:
    """The classes as the Markdown table of docs/data-lifecycle.md §2."""
    lines = ["| class | covers / 范围 | default | minimum | why / 原因 |",
             "|---|---|---|---|---|"]
    for c in CLASSES:
        lines.append(f"| `{c.name}` | {c.zh} / {c.en} | {c.default_days} d | {c.min_days} d | "
                     f"{c.reason_zh} / {c.reason_en} |")
    return "\n".join(lines)
