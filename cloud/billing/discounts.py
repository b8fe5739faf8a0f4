"""Discounts on property fees: vacant units and yearly prepayment.

- Vacant (空置) and unsold units pay ``vacant_share`` of an area fee: the bill shows the full
  charge and a discount line for the rest, so both the standard and the reduction are visible.
- Prepaying a year (预缴一年) is a yearly bill run: fee items whose ``cycle`` is ``yearly``
  may carry ``prepay_discount`` (e.g. "0.05"), and their yearly bills get a discount line of
  that share of the charge. A site that offers both monthly billing and a yearly prepay
  configures the yearly item for the households that chose it (its own fee item code).

Each discount line is rounded to the fen on its own, like every line.
"""

from __future__ import annotations

from decimal import Decimal

from cloud.billing.money import fen

VACANT_STATUSES = ("vacant", "unsold")


def vacant_discount(charge: Decimal, share: Decimal) -> Decimal:
    """The (negative) discount that leaves a vacant unit paying ``share`` of ``charge``."""
    return -fen(charge * (Decimal(1) - share))


def prepay_discount(charge: Decimal, discount: Decimal) -> Decimal:
    """The (negative) discount of a yearly prepaid charge."""
    return -fen(charge * discount)
