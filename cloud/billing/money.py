"""Money rules of billing: every line is rounded on its own, a bill is the sum of its lines.

Each bill line's amount is rounded ROUND_HALF_UP to the fen (0.01 yuan) once, from the exact
product of its quantity and price; a bill's total is the sum of its already rounded lines, so
the lines a household reads always add up to the total it pays. Unit prices keep six places,
quantities six places; nothing is ever a float.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
QTY = Decimal("0.000001")


def fen(amount: Decimal) -> Decimal:
    """``amount`` rounded half up to the fen (2.345 → 2.35, -2.345 → -2.35)."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def qty(value: Decimal) -> Decimal:
    """A quantity as stored: six places, half up."""
    return value.quantize(QTY, rounding=ROUND_HALF_UP)


def to_fen_int(amount: Decimal) -> int:
    """A fen-exact amount as an integer number of fen."""
    return int((amount * 100).to_integral_value(rounding=ROUND_FLOOR))


def from_fen_int(fen_count: int) -> Decimal:
    return (Decimal(fen_count) / 100).quantize(FEN)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a string or int (never a float: 0.1 is not 0.1), else None."""
    if isinstance(value, bool) or isinstance(value, float):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        return None
    try:
        out = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None
