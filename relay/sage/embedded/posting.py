"""Sage 100 Contractor's rules for postings: posting periods, job cost distribution and
change order numbers, as pure functions with Sage's error codes (relay/sage/port.py).

The change order numbers number subcontract change orders (change_orders.py); the
posting periods and the distribution check payable invoices (payables.py; the company's
periods are kept by periods.py) and are ready for owner invoices. A real Sage applies
them itself when its API saves a record; the embedded Sage calls them inside the write
transaction, after reading what they need (the company's periods, the numbers a job
already has).

Error codes (reference/sage-schema/real_schema.json `error_codes`, from the XmlMB module):
  * 14050 INVALID_DATA "invalid data, statusMessage contains details": a date outside the
    open posting periods or in a locked one, a distribution that differs from the ledger
    total. No source gives Sage's own "period locked" text (reference/sage100c.md section
    4, "Not found"), so the message is ours and names the period.
  * 14201 CONSTRAINT_FAILED "Failed Coded Constraint, e.g. Purchase Order number already
    exists": a change order number already used on the job (and phase).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from relay.sage.embedded.rules import NUMBER_MAX, _invalid, _money, _text
from relay.sage.port import CONSTRAINT_FAILED, SageError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date

# ---- posting periods ------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingPeriods:
    """The company's posting periods, as Sage's help describes them (reference/sage100c.md
    section 2, [S18]): periods 1-12 of the posting year (jobcst.actprd / acpinv.actper with
    postyr; period 0 holds opening balances and is never reached from a date); an
    administrator may lock any period but the current one; period 1 of the next year opens
    only when the current period is 12.

    real_schema.json names no table holding these settings, so this is a value the caller
    builds (a real Sage keeps it in its company setup; the embedded Sage keeps it in its
    own ``_posting`` table, periods.py). ``lock_date`` is the minimum the
    brief asks for when the reference is silent: nothing dated before it posts. The fiscal
    year is taken as the calendar year (period = month): UNCONFIRMED, Sage lets a company
    start its fiscal year in another month.
    """

    year: int  # the posting year (postyr)
    current: int  # the current period, 1-12
    locked: frozenset[int] = frozenset()  # locked periods of ``year``
    lock_date: date | None = None  # nothing dated before it posts

    def __post_init__(self) -> None:
        if not 1 <= self.current <= 12:
            raise ValueError(f"current period {self.current} is not 1-12")
        if not self.locked <= frozenset(range(1, 13)):
            raise ValueError(f"locked periods {sorted(self.locked)} are not all 1-12")
        if self.current in self.locked:
            raise ValueError(f"the current period {self.current} cannot be locked")


def posting_period(when: date, periods: PostingPeriods) -> tuple[int, int]:
    """The (postyr, period) a transaction dated ``when`` posts to, or SageError 14050 when
    the date is before the lock date, in a locked period or outside the open periods."""
    if periods.lock_date is not None and when < periods.lock_date:
        raise _invalid(f"date {when} is before the lock date {periods.lock_date}; "
                       "that posting period is locked")
    year, period = when.year, when.month
    if year == periods.year:
        if period in periods.locked:
            raise _invalid(f"date {when} falls in period {period} of {year}, which is locked")
        return year, period
    if year == periods.year + 1 and period == 1 and periods.current == 12:
        return year, period
    opened = f"periods 1-12 of {periods.year}"
    if periods.current == 12:
        opened += f" and period 1 of {periods.year + 1}"
    raise _invalid(f"date {when} is not in an open posting period (open: {opened})")


# ---- job cost distribution ------------------------------------------------------------------


def check_distribution(ledger_total: Decimal, distribution: Iterable[Decimal]) -> Decimal:
    """The distribution's total when it equals ``ledger_total`` exactly, else SageError
    14050.

    A payable invoice's lines on job cost accounts (Direct Expense, WIP) need a job cost
    distribution (job, phase, cost code, cost type, amount) whose total must equal the
    ledger total (Sage's help, About job cost distribution; reference/sage100c.md section 2
    [S21]). Amounts are Decimal, compared exactly, each storable as decimal(12,2)
    (jobcst.cstamt); a float is refused (TypeError), never rounded.
    """
    amounts = [ledger_total, *distribution]
    if not all(isinstance(amount, Decimal) for amount in amounts):
        raise TypeError("amounts must be Decimal")
    ledger = _money(ledger_total, "ledger total", "acpinv.invttl")
    total = sum((_money(amount, "distribution amount", "jobcst.cstamt")
                 for amount in amounts[1:]), Decimal("0.00"))
    if total != ledger:
        raise _invalid(f"the job cost distribution totals {total}, the ledger total is "
                       f"{ledger}; they must be equal")
    return total


# ---- change order numbers -------------------------------------------------------------------

_PLAIN = re.compile(r"\d+")
_DASHED = re.compile(r"(.+)-(\d+)")


def next_change_order_number(taken: Iterable[str], *, prefix: str | None = None) -> str:
    """The number Sage suggests for a job's next change order: the highest of the job's
    numbers + 1 ("1" for the first).

    ``taken`` are the prmchg.chgnum of the job (and phase: Sage numbers each phase of a job
    independently). With ``prefix`` ("220" for job 220, "850" for subcontract 850) the
    number right of the dash counts: 220-1, 220-2, ... Numbers mixing letters and digits
    (AAA5) are not counted: Sage cannot increment them (Sage's help, About automatic
    numbering for change orders).
    """
    if prefix is None:
        highest = max((int(n.strip()) for n in taken if _PLAIN.fullmatch(n.strip())), default=0)
        return str(highest + 1)
    wanted = prefix.strip().casefold()
    highest = 0
    for number in taken:
        match = _DASHED.fullmatch(number.strip())
        if match and match[1].strip().casefold() == wanted:
            highest = max(highest, int(match[2]))
    return f"{prefix.strip()}-{highest + 1}"


def check_change_order_number(number: str, taken: Iterable[str]) -> str:
    """``number`` trimmed when the job (and phase) has not used it, else SageError 14201;
    blank or over 20 characters (prmchg.chgnum nvarchar(20)) -> 14050. Numbers compare
    trimmed and case-insensitively, as SQL Server's default collation does."""
    wanted = _text(number.strip(), NUMBER_MAX, "change order number", "prmchg.chgnum",
                   required=True)
    if any(other.strip().casefold() == wanted.casefold() for other in taken):
        raise SageError(CONSTRAINT_FAILED, f"Failed coded constraint: change order number "
                        f"{wanted} already exists on the job (prmchg.chgnum)")
    return wanted
