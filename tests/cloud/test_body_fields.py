"""One reader for required text in every route's JSON body: the same answers for the same
mistakes, naming the field, whichever feature asks."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.web.body import text_field
from cloud.web.errors import ApiError


@pytest.mark.parametrize(("value", "says"), [
    (None, "必须填写（非空文本） / required (a non-empty string)"),
    ("   ", "必须填写（非空文本） / required (a non-empty string)"),
    (7, "必须填写（非空文本） / required (a non-empty string)"),
    ("a\x00b", "含有无法保存的字符（NUL 或非 UTF-8） / "
               "contains characters that cannot be stored (NUL or not UTF-8)"),
    ("\ud800", "含有无法保存的字符（NUL 或非 UTF-8） / "
               "contains characters that cannot be stored (NUL or not UTF-8)"),
    ("x" * 17, "长度不能超过 16 / must be at most 16 characters"),
])
def test_a_refused_value_names_the_field_and_why(value: Any, says: str) -> None:
    with pytest.raises(ApiError) as err:
        text_field({"reason": value}, "reason", 16)
    assert (err.value.status, err.value.field, err.value.message) == (400, "reason", says)


def test_text_is_trimmed_and_an_optional_field_may_be_absent() -> None:
    assert text_field({"site": "  sunny "}, "site", 5) == "sunny"
    assert text_field({}, "payer", 100, required=False) is None
    with pytest.raises(ApiError):
        text_field({"payer": ""}, "payer", 100, required=False)
