"""Meter values become money: the JSON number → exact decimal text conversion of ingest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.db.types import QUANTITY_LIMIT
from cloud.sites.meter_handlers import SIX_PLACES, quantity_text


@pytest.mark.parametrize(("raw", "text"), [
    (230.1, "230.1"),                    # the float's shortest text, not 230.0999999999999943…
    (0.1 + 0.2, "0.300000"),             # 0.30000000000000004 rounds to six places
    (1e-05, "0.000010"),                 # exponent form becomes plain text
    (1e-07, "0.000000"),
    (2.5e-07, "0.000000"),               # half even at the sixth place
    (12345, "12345"),
    (-3.75, "-3.75"),
    (99999999999999.98, "99999999999999.98"),
])
def test_numbers_become_exact_text(raw: object, text: str) -> None:
    assert quantity_text(raw) == text


@pytest.mark.parametrize("raw", [True, False, None, "230.1", {"v": 1}, [1],
                                 float("nan"), float("inf"), float("-inf"),
                                 1e14, -1e14, 10**14, 10**20, 1e300])
def test_what_is_not_a_storable_number_is_refused(raw: object) -> None:
    assert quantity_text(raw) is None


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13))
def test_text_is_the_decimal_of_the_floats_repr_to_six_places(x: float) -> None:
    text = quantity_text(x)
    assert text is not None
    assert Decimal(text) == Decimal(repr(x)).quantize(SIX_PLACES)
    assert abs(Decimal(text)) < QUANTITY_LIMIT
