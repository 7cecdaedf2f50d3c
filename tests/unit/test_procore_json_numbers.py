"""Decimal amounts go to Procore as JSON numbers with exactly their digits, or not at all."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chalicelib.adapters.procore import json_number


@pytest.mark.parametrize("amount", ["250.50", "9999999999.99", "-0.01", "1200", "0.00",
                                    "123456789012.34"])
def test_sage_sized_amounts_travel_exactly(amount: str) -> None:
    text = json.dumps({"a": Decimal(amount)}, default=json_number)
    assert Decimal(str(json.loads(text, parse_float=Decimal)["a"])) == Decimal(amount)


def test_an_amount_a_json_number_cannot_carry_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="exact JSON number"):
        json.dumps({"a": Decimal("1234567890.1234567891")}, default=json_number)


def test_other_types_are_still_refused() -> None:
    with pytest.raises(TypeError):
        json.dumps({"a": object()}, default=json_number)
