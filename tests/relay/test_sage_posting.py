"""Sage's posting rules (relay/sage/embedded/posting.py): posting periods, job cost
distribution, change order numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relay.sage.embedded.posting import (
    PostingPeriods,
    check_change_order_number,
    check_distribution,
    next_change_order_number,
    posting_period,
)
from relay.sage.port import CONSTRAINT_FAILED, INVALID_DATA, SageError

# ---- posting periods ------------------------------------------------------------------------


def test_a_date_of_the_posting_year_posts_to_its_month() -> None:
    periods = PostingPeriods(year=2025, current=3)
    assert posting_period(date(2025, 3, 14), periods) == (2025, 3)
    assert posting_period(date(2025, 11, 1), periods) == (2025, 11)


def test_a_locked_period_refuses_with_14050() -> None:
    periods = PostingPeriods(year=2025, current=4, locked=frozenset({1, 2}))
    with pytest.raises(SageError) as caught:
        posting_period(date(2025, 2, 28), periods)
    assert caught.value.code == INVALID_DATA
    assert "period 2 of 2025" in caught.value.message
    assert posting_period(date(2025, 3, 1), periods) == (2025, 3)


def test_nothing_posts_before_the_lock_date() -> None:
    periods = PostingPeriods(year=2025, current=6, lock_date=date(2025, 5, 15))
    with pytest.raises(SageError) as caught:
        posting_period(date(2025, 5, 14), periods)
    assert caught.value.code == INVALID_DATA
    assert posting_period(date(2025, 5, 15), periods) == (2025, 5)


@pytest.mark.parametrize("when", [date(2024, 12, 31), date(2026, 1, 2), date(2026, 2, 1)])
def test_a_date_outside_the_open_periods_refuses(when: date) -> None:
    with pytest.raises(SageError) as caught:
        posting_period(when, PostingPeriods(year=2025, current=11))
    assert caught.value.code == INVALID_DATA
    assert "not in an open posting period" in caught.value.message


def test_next_years_period_1_opens_only_when_the_current_period_is_12() -> None:
    assert posting_period(date(2026, 1, 5), PostingPeriods(year=2025, current=12)) == (2026, 1)
    with pytest.raises(SageError):
        posting_period(date(2026, 2, 5), PostingPeriods(year=2025, current=12))


@pytest.mark.parametrize(("current", "locked"), [(0, frozenset()), (13, frozenset()),
                                                 (3, frozenset({3})), (3, frozenset({0}))])
def test_settings_sage_does_not_allow_are_refused(current: int, locked: frozenset[int]) -> None:
    with pytest.raises(ValueError, match="period"):
        PostingPeriods(year=2025, current=current, locked=locked)


# ---- job cost distribution ------------------------------------------------------------------


def test_a_distribution_equal_to_the_ledger_total_passes() -> None:
    total = check_distribution(Decimal("1000.00"), [Decimal("600.10"), Decimal("399.90")])
    assert total == Decimal("1000.00")


@pytest.mark.parametrize("amounts", [[Decimal("600.10"), Decimal("399.89")],
                                     [Decimal("1000.01")], []])
def test_a_distribution_that_differs_by_anything_refuses(amounts: list[Decimal]) -> None:
    with pytest.raises(SageError) as caught:
        check_distribution(Decimal("1000.00"), amounts)
    assert caught.value.code == INVALID_DATA
    assert "1000.00" in caught.value.message


def test_amounts_are_exact_decimals_of_two_places() -> None:
    with pytest.raises(SageError) as caught:  # not rounded into agreement
        check_distribution(Decimal("10.00"), [Decimal("3.333"), Decimal("6.667")])
    assert caught.value.code == INVALID_DATA
    with pytest.raises(TypeError):
        check_distribution(Decimal("0.30"), [0.1, 0.2])  # type: ignore[list-item]


def test_negative_lines_count_as_credits() -> None:
    assert check_distribution(Decimal("50.00"), [Decimal("80.00"), Decimal("-30.00")]) == 50


# ---- change order numbers -------------------------------------------------------------------


def test_the_next_number_is_the_highest_of_the_job_plus_one() -> None:
    assert next_change_order_number([]) == "1"
    assert next_change_order_number(["1", "3", "2"]) == "4"
    assert next_change_order_number(["9", "10"]) == "11"  # numbers, not text order
    assert next_change_order_number(["AAA5", "2"]) == "3"  # Sage cannot increment AAA5


def test_a_dashed_number_increments_right_of_the_dash() -> None:
    taken = ["220-1", "220-2", "850-1", "7"]
    assert next_change_order_number(taken, prefix="220") == "220-3"
    assert next_change_order_number(taken, prefix="850") == "850-2"
    assert next_change_order_number(taken, prefix="900") == "900-1"


def test_a_number_taken_on_the_job_refuses_with_14201() -> None:
    with pytest.raises(SageError) as caught:
        check_change_order_number(" co-1 ", ["CO-1", "CO-2"])
    assert caught.value.code == CONSTRAINT_FAILED
    # another job's (or phase's) numbers are not passed in: the same number is free there
    assert check_change_order_number(" CO-1 ", []) == "CO-1"


@pytest.mark.parametrize("number", ["", "   ", "X" * 21])
def test_a_blank_or_too_long_number_refuses_with_14050(number: str) -> None:
    with pytest.raises(SageError) as caught:
        check_change_order_number(number, [])
    assert caught.value.code == INVALID_DATA
