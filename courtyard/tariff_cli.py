"""`courtyard tariff check|quote`: let an installer validate a tariff and try a stay by hand.

The quote is computed by the same contract code the edge and the cloud run, so what the
installer sees here is what the gate will charge. Times are printed in the tariff's timezone
and ISO times without an offset are taken as site time, because that is what is on the receipt
and on the parking-lot clock. Exit status 2 means "bad file or bad arguments".
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from parkingrules.tariff import CLASS_ZH, Quote, Tariff, format_yuan, quote
from parkingrules.tariff_yaml import load_tariff
from yamlcheck.cli import load_or_report, run_check

_AMOUNT = re.compile(r"\d{1,6}(\.\d{1,2})?")


@dataclass(frozen=True, slots=True)
class QuoteArgs:
    """What `courtyard tariff quote` was asked (raw text, parsed here)."""

    tariff: str
    entry: str | None = None
    exit: str | None = None
    plate: str | None = None
    vehicle_class: str | None = None
    new_energy: bool = False
    paid: str | None = None
    paid_at: str | None = None
    lost_entry: bool = False


class _BadArgument(Exception):
    """A user mistake on the command line; the message is shown as is."""


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def _load(path: str) -> Tariff | None:
    """The tariff, or None after printing every problem and a summary to stderr."""
    return load_or_report(lambda: load_tariff(Path(path)), en_tail=f" in {Path(path).name}")


def check_main(path: str) -> int:
    """Validate a tariff file: 0 and a summary when usable, 2 with every problem otherwise."""

    def summary(tariff: Tariff) -> list[str]:
        classes = "small, large" if tariff.large.to_dict() else "small (large = small)"
        return [f"OK {Path(path).name}: 收费标准 / tariff {tariff.id}"
                f"{f' ({tariff.name})' if tariff.name else ''}, 时区 / timezone "
                f"{tariff.timezone}, 车型 / classes {classes}"]

    return run_check(lambda: load_tariff(Path(path)), summary, en_tail=f" in {Path(path).name}")


def _time(option: str, text: str, tz: ZoneInfo) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _BadArgument(
            f"{option} {text!r}: 无法识别的时间 / not an ISO 8601 time — "
            "例如 / e.g. 2024-05-01T08:00 或 / or 2024-05-01T08:00:00+08:00") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _amount(option: str, text: str) -> Decimal:
    if not _AMOUNT.fullmatch(text.strip()):
        raise _BadArgument(f"{option} {text!r}: 金额写法不对 / not an amount — "
                           "写成元，最多两位小数 / yuan with at most 2 decimals, e.g. 9.50")
    return Decimal(text.strip())


def _vehicle(args: QuoteArgs) -> tuple[str, bool, str | None]:
    """Vehicle class, new-energy flag and a plate description (the plate decides if given)."""
    if args.plate is None:
        return args.vehicle_class or "small", args.new_energy, None
    if args.vehicle_class is not None or args.new_energy:
        raise _BadArgument("--plate 已决定车型和是否新能源，不能再用 --vehicle-class / "
                           "--new-energy / --plate sets the vehicle class and new-energy flag; "
                           "drop --vehicle-class and --new-energy")
    from parkingrules.plates import parse

    info = parse(args.plate)
    if info.problem is not None:
        raise _BadArgument(f"--plate {args.plate!r}: {info.problem}")
    if not info.text:  # "" or a camera's "no plate" marker
        raise _BadArgument(f"--plate {args.plate!r}: 没有车牌号 / no plate text — "
                           "输入完整车牌，例如 / give the full plate, e.g. 粤B12345")
    kind = "新能源 / new energy" if info.is_new_energy else "燃油 / fuel"
    return info.vehicle_class, info.is_new_energy, f"{info.text} ({kind})"


def _stay_text(minutes: int | None) -> str:
    if minutes is None:
        return "未知（无入场记录）/ unknown (no entry record)"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else []) + [f"{mins} min"]
    return f"{minutes} 分钟 / min ({' '.join(parts)})"


def _print_quote(t: Tariff, q: Quote, entry: datetime | None, exit: datetime,
                 plate: str | None) -> None:
    tz = t.tz

    def local(at: datetime) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    print(f"收费标准 / tariff: {t.id}{f' ({t.name})' if t.name else ''}")
    print(f"时区 / timezone: {t.timezone}")
    if plate is not None:
        print(f"车牌 / plate: {plate}")
    nev = "是 / yes" if q.new_energy else "否 / no"
    print(f"车型 / vehicle: {CLASS_ZH[q.vehicle_class]} / {q.vehicle_class}, "
          f"新能源 / new energy: {nev}")
    print(f"入场 / entry: {local(entry) if entry and not q.lost_entry else '无记录 / none'}")
    print(f"出场 / exit: {local(exit)}")
    print(f"停车时长 / stay: {_stay_text(q.minutes)}")
    print("计费明细 / how the fee was made:")
    for line in q.lines:
        print(f"  {line}")
    print(f"应收 / fee: {format_yuan(q.fee)}")
    print(f"已付 / paid: {format_yuan(q.paid)}")
    print(f"应付 / due: {format_yuan(q.due)}")


def quote_main(args: QuoteArgs) -> int:
    """Quote one stay and print fee, due and every line; 2 on a bad file or argument."""
    tariff = _load(args.tariff)
    if tariff is None:
        return 2
    tz = tariff.tz
    try:
        if args.exit is None:
            raise _BadArgument("缺少 --exit / --exit is required (ISO 8601, e.g. 2024-05-01T11:30)")
        if args.entry is None and not args.lost_entry:
            raise _BadArgument("缺少 --entry（没有入场记录请用 --lost-entry）/ --entry is "
                               "required (use --lost-entry when there is no entry record)")
        entry = _time("--entry", args.entry, tz) if args.entry is not None else None
        exit = _time("--exit", args.exit, tz)
        paid_at = _time("--paid-at", args.paid_at, tz) if args.paid_at is not None else None
        paid = _amount("--paid", args.paid) if args.paid is not None else Decimal(0)
        vehicle_class, new_energy, plate = _vehicle(args)
        q = quote(tariff, entry, exit, vehicle_class=vehicle_class, new_energy=new_energy,
                  paid=paid, paid_at=paid_at, lost_entry=args.lost_entry)
    except _BadArgument as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"无法计费 / cannot quote: {exc}")
    _print_quote(tariff, q, entry, exit, plate)
    return 0
