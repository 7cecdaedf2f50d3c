"""A Sage job's contract as a Procore prime contract: the schedule of values from the
job's budget lines, the remainder of the contract as one more line, exact amounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.prime_contracts import (
    REMAINDER,
    WHOLE,
    ContractRefused,
    describe,
    missing_lines,
    plan,
)


def contract(**fields: Any) -> dict[str, Any]:
    return {"job": 24001, "name": "Riverside Medical Office Building", "status": 4,
            "contract": "100000.00", "retention_rate": "10.00", "contract_number": "RMB-1",
            "client_po": "", "lines": [
                {"phase": None, "line": 1, "cost_code": "3300.000", "name": "Concrete",
                 "phase_name": "", "total": "15200.50"},
                {"phase": 2, "line": 1, "cost_code": "5120.000", "name": "Steel",
                 "phase_name": "Structure", "total": "60000.25"},
                {"phase": None, "line": 2, "cost_code": "9900.000", "name": "Painting",
                 "phase_name": "", "total": "0.00"}], **fields}


def test_budget_lines_then_the_remainder_total_the_contract_exactly() -> None:
    made = plan(contract())
    assert (made.origin_id, made.title, made.number) == (
        "24001", "Riverside Medical Office Building", "RMB-1")
    assert [(line.origin_id, line.amount) for line in made.lines] == [
        ("bdglin:24001:0:3300.000", Decimal("15200.50")),
        ("bdglin:24001:2:5120.000", Decimal("60000.25")),  # the zero line is left out
        ("actrec:24001:cntrct", Decimal("24799.25"))]
    assert sum(line.amount for line in made.lines) == Decimal("100000.00")
    assert made.lines[1].description == "5120.000 Steel (phase 2: Structure)"
    assert made.lines[2].description == REMAINDER
    assert made.lines[0].update() == {"origin_id": "bdglin:24001:0:3300.000",
                                      "description": "3300.000 Concrete", "amount": "15200.50"}
    assert made.fields() == {
        "title": "Riverside Medical Office Building", "status": "Draft", "origin_id": "24001",
        "retainage_percent": "10.00", "number": "RMB-1",
        "description": "Imported from Sage 100 Contractor job 24001"}
    assert made.note is None


def test_a_budget_equal_to_the_contract_has_no_remainder_line() -> None:
    made = plan(contract(contract="75200.75"))
    assert [line.origin_id for line in made.lines] == ["bdglin:24001:0:3300.000",
                                                      "bdglin:24001:2:5120.000"]


@pytest.mark.parametrize("lines", [[], None])
def test_no_budget_lines_one_line_for_the_contract(lines: Any) -> None:
    made = plan(contract(lines=lines, contract_number=""))
    assert [(line.origin_id, line.description, line.amount) for line in made.lines] == [
        ("actrec:24001:cntrct", WHOLE, Decimal("100000.00"))]
    assert made.number is None and "number" not in made.fields()
    assert "no budget lines" in str(made.note)


def test_a_budget_over_the_contract_is_not_the_schedule() -> None:
    made = plan(contract(contract="50000"))
    assert [(line.origin_id, line.amount) for line in made.lines] == [
        ("actrec:24001:cntrct", Decimal("50000.00"))]
    assert "total 75200.75, more than its contract amount 50000.00" in str(made.note)


@pytest.mark.parametrize(("fields", "words"), [
    ({"contract": "0.00"}, "has no contract amount: its Contract (actrec.cntrct) is 0.00"),
    ({"contract": "-5"}, "has no contract amount"),
    ({"contract": "abc"}, "is not an amount"),
    ({"retention_rate": "120"}, "retention rate of 120.00%"),
])
def test_refusals_quote_sage(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ContractRefused, match=r".*") as caught:
        plan(contract(**fields))
    assert words in str(caught.value)
    assert "Sage job 24001" in str(caught.value) or "Sage's" in str(caught.value)


def test_missing_lines_are_the_ones_procore_lacks_by_origin_id() -> None:
    made = plan(contract())
    held = [{"id": 1, "origin_id": "bdglin:24001:0:3300.000"}, {"id": 2, "origin_id": None}]
    assert [line.origin_id for line in missing_lines(made, held)] == [
        "bdglin:24001:2:5120.000", "actrec:24001:cntrct"]
    assert missing_lines(made, [{"origin_id": line.origin_id} for line in made.lines]) == []


def test_describe_names_the_procore_prime_contract() -> None:
    assert describe({"id": 7, "number": "1", "title": "Owner contract"}) == (
        'prime contract 7 #1 "Owner contract"')
    assert describe({"id": 7}) == "prime contract 7"
