"""The embedded Sage's job cost postings: jobcst rows posted in a journal, as Sage's 6-3
Job Cost entry, its payroll or any other posting that job-costs records them (a part of
EmbeddedSage).

Not an agent command: the connector never posts job cost, it pulls what Sage holds
(PULL_JOB_COSTS, ``read_job_costs`` in relay/sage/reads.py). ``post_job_costs`` is how
tests, the demo and the bench have the embedded company hold job costs, in bulk: one
transaction and one executemany, each job, phase, cost code and type, vendor and journal
checked once however many rows name it. A row is a dict:
  * job, cost_code ("3300.000"), cost_type (1-9), amount (Decimal, str or int; a float is
    refused with TypeError, never rounded), journal (the source's name, e.g. "Payroll",
    compared as Sage compares names, or its number) - required;
  * phase (None or 0: no phase), hours (decimal(7,2)), date (a date or "YYYY-MM-DD";
    None leaves trndte NULL), description, transaction (trnnum), vendor, employee,
    equipment (None or 0: none) - optional.
What each row writes: jobcst recnum the next numbers (in row order; returned), jobnum,
phsnum, trnnum, trndte, entdte = today, dscrpt, cstcde, csttyp, cstamt, csthrs, vndnum,
empnum, eqpnum (NULL when none), srcnum = the journal's source number, actprd/postyr =
the date's month and year (what posting.posting_period gives a date in an open period,
the fiscal year being the calendar year; a row without a date takes today's), status 1
Open (posted). No period lock is checked: these rows are history planted as Sage already
holds it, not postings the agent makes. ``inserted_at`` (UTC) sets insdte of every row
instead of now, so a test or the bench can plant rows older than the pull's settle time
(JOB_COST_SETTLE_SECONDS).

``void_job_cost`` voids a posted row (status 2 Void; the upddte trigger stamps the change,
so the row comes again in the next pull); ``set_job_cost_amount`` corrects a posted row's
amount in place (tests planting a difference between Sage and Procore). Their
``changed_at`` (UTC) sets upddte instead of now, for a change already settled.

Rules, with Sage's codes: an unknown job, phase, cost code, cost type, vendor or journal
-> 12802; an inactive cost code or vendor, a missing or unknown field, a date that is not
one, a description over 50 or a transaction number over 20 characters, an amount outside
decimal(12,2), hours outside decimal(7,2), an employee or equipment number out of range
-> 14050; a float amount or hours -> TypeError. Voiding or correcting a row that does not
exist -> 12802, a Void row -> 14050. Nothing is written on a refusal. Employees and
equipment are not modelled (no employ or eqpmnt table): their numbers are stored as given.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.payables import POSTED
from relay.sage.embedded.rules import (
    COST_TYPES,
    DESCRIPTION_MAX,
    NUMBER_MAX,
    _bindable,
    _check_cost,
    _check_job,
    _check_phase,
    _check_vendor,
    _decimal,
    _fold,
    _invalid,
    _money,
    _recnum,
    _reference,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.port import SageError
from relay.sage.tables import parse_stamp, stamp_text

VOID = 2  # jobcst.status 2 Void

_REQUIRED = ("job", "cost_code", "cost_type", "amount", "journal")
_FIELDS = frozenset({*_REQUIRED, "phase", "hours", "date", "description", "transaction",
                     "vendor", "employee", "equipment"})

_INSERT = (
    "INSERT INTO jobcst (_idnum, recnum, jobnum, phsnum, trnnum, trndte, entdte, dscrpt, "
    "cstcde, csttyp, cstamt, csthrs, vndnum, empnum, eqpnum, srcnum, actprd, postyr, status, "
    "insdte, insusr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "COALESCE(?, strftime('%Y-%m-%d %H:%M:%f', 'now')), ?)"
)


class _Cost(NamedTuple):
    """One row checked as values, in Sage's terms."""

    job: int
    phase: int
    trnnum: str
    trndte: date | None
    dscrpt: str
    code: str  # "3300.000"
    cost_type: int
    amount: Decimal
    hours: Decimal
    vendor: int | None
    employee: int | None
    equipment: int | None
    journal: str | int  # as given: a source name or number
    period: int  # actprd
    year: int  # postyr


# A random hex digit -> the RFC 4122 variant digit (8, 9, A or B) at its place.
_VARIANT = {digit: "89AB"[int(digit, 16) & 3] for digit in "0123456789ABCDEF"}


def _guids(count: int) -> Iterator[str]:
    """``count`` new uniqueidentifiers, upper-case version 4 text as rules._guid writes
    them, from one read of the OS's randomness (a bulk of rows needs one each)."""
    raw = os.urandom(16 * count).hex().upper()
    for start in range(0, 32 * count, 32):
        h = raw[start:start + 32]
        yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _exact(value: Any, what: str) -> Any:
    """``value`` unless it is a float: amounts are never rounded from binary floats."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be a Decimal, str or int, not a float ({value!r})")
    return value


def _whole(value: Any, what: str, column: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{what} {value!r} is not a whole number ({column})")
    return value


def _optional(value: Any, what: str, column: str) -> int | None:
    """An optional reference (vendor, employee, equipment): None or 0 is none."""
    if value is None or value == 0:
        return None
    return _recnum(_whole(value, what, column), what, column)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid(f"date {value!r} is not a date (jobcst.trndte)") from None


def _stamp(value: datetime | str | None, what: str, column: str) -> str | None:
    """A stamp as the file keeps it ('YYYY-MM-DD HH:MM:SS.SSS', UTC), or None for now."""
    if value is None:
        return None
    try:
        return stamp_text(value if isinstance(value, datetime) else parse_stamp(value))
    except (TypeError, ValueError):
        raise _invalid(f"{what} {value!r} is not a time ({column})") from None


def _checked(row: Mapping[str, Any], codes: dict[Any, str], today: date) -> _Cost:
    unknown = row.keys() - _FIELDS
    if unknown:
        raise _invalid(f"unknown field {sorted(unknown)[0]!r}; the fields are "
                       f"{', '.join(sorted(_FIELDS))}")
    for name in _REQUIRED:
        if row.get(name) is None:
            raise _invalid(f"no {name} (jobcst)")
    raw_code = row["cost_code"]
    code = codes.get(raw_code)
    if code is None:
        code = codes[raw_code] = normalize_cost_code(raw_code)
    cost_type = _whole(row["cost_type"], "cost type", "jobcst.csttyp")
    if cost_type not in COST_TYPES:
        raise _invalid(f"cost type {cost_type} is not 1-9 (jobcst.csttyp)")
    journal = row["journal"]
    if isinstance(journal, bool) or not isinstance(journal, str | int):
        raise _invalid(f"journal {journal!r} is not a source name or number (jobcst.srcnum)")
    trndte = _day(row.get("date"))
    dated = trndte or today
    return _Cost(
        _whole(row["job"], "job", "jobcst.jobnum"),
        _whole(row.get("phase") or 0, "phase", "jobcst.phsnum"),
        _text(str(row.get("transaction") or ""), NUMBER_MAX, "transaction", "jobcst.trnnum"),
        trndte,
        _text(str(row.get("description") or ""), DESCRIPTION_MAX, "description",
              "jobcst.dscrpt"),
        code,
        cost_type,
        _money(_exact(row["amount"], "amount"), "amount", "jobcst.cstamt"),
        _decimal(_exact(row.get("hours") or 0, "hours"), "hours", "jobcst.csthrs", places=2,
                 digits=7),
        _optional(row.get("vendor"), "vendor", "jobcst.vndnum"),
        _optional(row.get("employee"), "employee", "jobcst.empnum"),
        _optional(row.get("equipment"), "equipment", "jobcst.eqpnum"),
        journal,
        dated.month,
        dated.year,
    )


class JobCosts(SageDatabase):
    """Job cost postings (tests, the demo and the bench; not a port command)."""

    def post_job_costs(self, rows: Sequence[Mapping[str, Any]], *,
                       inserted_at: datetime | str | None = None) -> list[int]:
        """Post ``rows`` as Open jobcst rows in one transaction; their recnums, in order."""
        if not rows:
            return []
        today = self.today()
        codes: dict[Any, str] = {}  # the cost code as given -> Sage's text
        checked = [self._job_cost(number, row, codes, today)
                   for number, row in enumerate(rows, start=1)]
        insdte = _stamp(inserted_at, "inserted_at", "jobcst.insdte")
        entdte = _bindable(today)

        with self._write() as conn:
            # Each referenced value once, in the order of the first row naming it.
            for job in dict.fromkeys(cost.job for cost in checked):
                _check_job(conn, job)
            for job, phase in dict.fromkeys((cost.job, cost.phase) for cost in checked
                                            if cost.phase):
                _check_phase(conn, job, phase)
            costs: dict[tuple[str, int], int] = {}
            for number, cost in enumerate(checked, start=1):
                costs.setdefault((cost.code, cost.cost_type), number)
            for (code, cost_type), number in costs.items():
                _check_cost(conn, number, code, cost_type)
            for vendor in dict.fromkeys(cost.vendor for cost in checked
                                        if cost.vendor is not None):
                _check_vendor(conn, vendor)
            sources = self._sources(conn, dict.fromkeys(cost.journal for cost in checked))

            first = self._next_recnum(conn, "jobcst")
            conn.executemany(_INSERT, (
                (idnum, first + index, c.job, c.phase, c.trnnum, _bindable(c.trndte), entdte,
                 c.dscrpt, c.code, c.cost_type, str(c.amount), str(c.hours), c.vendor,
                 c.employee, c.equipment, sources[c.journal], c.period, c.year, POSTED,
                 insdte, self.user)
                for index, (c, idnum) in enumerate(zip(checked, _guids(len(checked)),
                                                       strict=True))))
        return list(range(first, first + len(checked)))

    def void_job_cost(self, recnum: int, *, changed_at: datetime | str | None = None) -> None:
        """Void a posted jobcst row (status 2); its upddte stamps the change (now, or
        ``changed_at``, UTC, for a change already settled)."""
        upddte = _stamp(changed_at, "changed_at", "jobcst.upddte")
        with self._write() as conn:
            self._posted(conn, recnum, "void")
            conn.execute("UPDATE jobcst SET status = ?, updusr = ?, upddte = COALESCE(?, "
                         "upddte) WHERE recnum = ?", (VOID, self.user, upddte, recnum))

    def set_job_cost_amount(self, recnum: int, amount: Decimal | str | int, *,
                            changed_at: datetime | str | None = None) -> None:
        """Correct a posted jobcst row's amount in place (cstamt); upddte stamps it (now,
        or ``changed_at``)."""
        cstamt = _money(_exact(amount, "amount"), f"job cost {recnum} amount", "jobcst.cstamt")
        upddte = _stamp(changed_at, "changed_at", "jobcst.upddte")
        with self._write() as conn:
            self._posted(conn, recnum, "correct")
            conn.execute("UPDATE jobcst SET cstamt = ?, updusr = ?, upddte = COALESCE(?, "
                         "upddte) WHERE recnum = ?", (str(cstamt), self.user, upddte, recnum))

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _job_cost(number: int, row: Mapping[str, Any], codes: dict[Any, str],
                  today: date) -> _Cost:
        """Row ``number`` checked as values (before any lock is taken); a refusal names
        the row. Messages are built only on a refusal: this runs once per row of a bulk."""
        try:
            return _checked(row, codes, today)
        except SageError as exc:
            raise SageError(exc.code, f"{exc.message} (job cost row {number})") from None
        except TypeError as exc:
            raise TypeError(f"{exc} (job cost row {number})") from None

    @staticmethod
    def _sources(conn: sqlite3.Connection, journals: Mapping[str | int, None]
                 ) -> dict[str | int, int]:
        """Each journal as given (a source name or number) -> its source number, or 12802."""
        found = conn.execute("SELECT recnum, srcnme FROM source ORDER BY recnum").fetchall()
        numbers = {int(row["recnum"]) for row in found}
        by_name: dict[str | None, int] = {}
        for row in found:
            by_name.setdefault(_fold(row["srcnme"]), int(row["recnum"]))
        resolved: dict[str | int, int] = {}
        for journal in journals:
            if isinstance(journal, int):
                number: int | None = journal if journal in numbers else None
            else:
                number = by_name.get(_fold(journal))
            if number is None:
                raise _reference(f"journal {journal!r} is not a source journal of the company "
                                 "(source.recnum, source.srcnme)")
            resolved[journal] = number
        return resolved

    @staticmethod
    def _posted(conn: sqlite3.Connection, recnum: int, verb: str) -> sqlite3.Row:
        """The jobcst row ``recnum`` when it exists (12802) and is not Void (14050)."""
        row = None
        if _storable(recnum):
            row = conn.execute("SELECT recnum, status FROM jobcst WHERE recnum = ?",
                               (recnum,)).fetchone()
        if row is None:
            raise _reference(f"job cost {recnum} does not exist (jobcst.recnum)")
        if row["status"] == VOID:
            raise _invalid(f"job cost {recnum} is Void (jobcst.status 2); Sage cannot {verb} "
                           "it")
        return row
