"""Procore cost code -> Sage cost code: only an origin id or the one exact rule maps it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.domain.cost_codes import (
    DEFAULT_RULE,
    DIVISION_DASH_CODE,
    NONE,
    RULES,
    SAGE_DECIMAL,
    CostCodeError,
    CostCodeRuleError,
    cost_code_problem,
    sage_code_text,
    to_sage,
)


def code(full_code: str | None, origin_id: Any = None) -> dict[str, Any]:
    return {"id": 300, "full_code": full_code, "name": "Concrete", "origin_id": origin_id}


def test_the_default_rule_is_the_strict_one() -> None:
    assert DEFAULT_RULE == NONE
    assert set(RULES) == {NONE, DIVISION_DASH_CODE, SAGE_DECIMAL}


@pytest.mark.parametrize(("origin", "expected"), [
    ("3300.000", "3300.000"), ("3300", "3300.000"), ("3300.5", "3300.500"),
    ("3300.125", "3300.125"), (3300, "3300.000"), ("999999999999.999", "999999999999.999"),
])
def test_origin_id_is_the_sage_code_under_every_rule(origin: Any, expected: str) -> None:
    for rule in RULES:
        assert to_sage(code("03-300", origin), rule) == expected
        assert to_sage(code("anything at all", origin), rule) == expected


def test_origin_id_wins_over_the_rule() -> None:
    assert to_sage(code("03-300", "3310.000"), DIVISION_DASH_CODE) == "3310.000"
    assert to_sage(code("5120", "3310.000"), SAGE_DECIMAL) == "3310.000"


@pytest.mark.parametrize("origin", [
    "03-300", "0300.000", "0", "0.000", "-3300", "3300.1234", "1234567890123", " 3300",
    "3300 ", "3e3", "ABC", "٣٣٠٠",  # Arabic-Indic digits: int() reads them, Sage does not
])
def test_an_origin_id_that_is_not_a_sage_code_is_refused_not_repaired(origin: str) -> None:
    for rule in RULES:  # the rule would map "03-300"; a bad origin still refuses
        with pytest.raises(CostCodeError,
                           match=re.escape(f"origin id '{origin}', which is not a Sage")):
            to_sage(code("03-300", origin), rule)


def test_without_a_rule_only_origin_ids_map() -> None:
    with pytest.raises(CostCodeError) as caught:
        to_sage(code("03-300"), NONE)
    message = str(caught.value)
    assert "cost code '03-300' did not come from Sage" in message
    assert "refresh the project's cost codes from Sage" in message


@pytest.mark.parametrize(("full_code", "expected"), [
    ("03-300", "3300.000"), ("26-000", "26000.000"), ("01-100", "1100.000"),
    ("00-100", "100.000"), ("99-999", "99999.000"),
])
def test_division_dash_code(full_code: str, expected: str) -> None:
    assert to_sage(code(full_code), DIVISION_DASH_CODE) == expected


@pytest.mark.parametrize("full_code", [
    "3-300", "033-00", "03300", "03-300-1", "03-300.5", "03-30", "003-300", "03 300",
    "03_300", " 03-300", "03-300 ", "AB-300", "00-000", "٠٣-٣٠٠", "",
])
def test_division_dash_code_refuses_what_is_not_exactly_nn_nnn(full_code: str) -> None:
    with pytest.raises(CostCodeError) as caught:
        to_sage(code(full_code or None), DIVISION_DASH_CODE)
    assert "does not follow the cost code rule 'division-dash-code' (NN-NNN" in \
        str(caught.value)


def test_the_ambiguous_codes_are_named_in_the_refusal() -> None:
    for full_code in ("3-300", "033-00", "03300"):
        problem = cost_code_problem(code(full_code), DIVISION_DASH_CODE)
        assert problem is not None and f"cost code '{full_code}'" in problem


@pytest.mark.parametrize(("full_code", "expected"), [
    ("3300", "3300.000"), ("3300.125", "3300.125"), ("3300.5", "3300.500"),
    ("3300.000", "3300.000"), ("1", "1.000"), ("999999999999", "999999999999.000"),
])
def test_sage_decimal(full_code: str, expected: str) -> None:
    assert to_sage(code(full_code), SAGE_DECIMAL) == expected


@pytest.mark.parametrize("full_code", [
    "03-300", "0300", "0", "3300.1234", "3300.", ".5", "1234567890123", "-3300", "+3300",
    "3,300", "3300 ", "3e3",
])
def test_sage_decimal_refuses_what_is_not_a_sage_code(full_code: str) -> None:
    with pytest.raises(CostCodeError, match=re.escape(
            f"'{full_code}' does not follow the cost code rule 'sage-decimal'")):
        to_sage(code(full_code), SAGE_DECIMAL)


def test_an_unknown_rule_is_a_configuration_error() -> None:
    with pytest.raises(CostCodeRuleError, match=r"'digits' .* is not one of none, "
                                                r"division-dash-code, sage-decimal"):
        to_sage(code("03-300", "3300.000"), "digits")
    assert "is not one of" in (cost_code_problem(code("03-300"), "digits") or "")


def test_no_cost_code() -> None:
    with pytest.raises(CostCodeError, match="has no cost code"):
        to_sage(None, DIVISION_DASH_CODE)


def test_a_code_sage_does_not_have_is_a_problem_naming_it() -> None:
    known = {"1100.000", "5120.000"}
    problem = cost_code_problem(code("03-300"), DIVISION_DASH_CODE, known_codes=known)
    assert problem is not None
    assert problem.startswith("Sage has no active cost code 3300.000 (cost code '03-300')")
    assert cost_code_problem(code("05-120"), DIVISION_DASH_CODE, known_codes=known) is None
    assert cost_code_problem(code("x", "5120"), NONE, known_codes=known) is None
    with pytest.raises(CostCodeError, match=r"no active cost code 3300\.000"):
        to_sage(code("x", "3300.000"), NONE, known_codes=known)


def test_an_unknown_list_checks_the_format_only() -> None:
    assert cost_code_problem(code("03-300"), DIVISION_DASH_CODE, known_codes=None) is None
    assert cost_code_problem(code("03-300"), DIVISION_DASH_CODE, known_codes=set()) is not None


def test_sage_code_text() -> None:
    assert sage_code_text("3300") == "3300.000"
    assert sage_code_text("3300.12") == "3300.120"
    assert [sage_code_text(v) for v in (None, "", "0300", "3300.0001", "x")] == [None] * 5


def test_the_advanced_settings_body_offers_exactly_the_rules() -> None:
    from typing import get_args

    from chalicelib.domain.cost_codes import RULES
    from chalicelib.requests import AdvancedBody

    offered = get_args(get_args(AdvancedBody.model_fields["cost_code_rule"].annotation)[0])
    assert set(offered) == set(RULES)
