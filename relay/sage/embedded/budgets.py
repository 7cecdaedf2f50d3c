"""The embedded Sage's budget writes: a job's budget exported from Procore once (budget +
bdglin), its later change sets, and the look-up the agent reconciles an add with (a part
of EmbeddedSage).

A budget line is one bdglin row per job, phase (0 = none) and cost code, with one current
column per cost type (matbdg, labbdg, eqpbdg, subbdg, othbdg, usrcs6..9; ttlbdg their sum)
and one original column per cost type (matorg .. cs9org; ttlorg their sum), which Sage
keeps when a budget changes. Line numbers (linnum) count within the job and phase.

Rules, with Sage's codes (relay/sage/port.py):
  * the job must exist; each phase must exist on the job; each cost code must exist and
    be active, and every cost type a line names must exist (csttyp) -> 12802 (an inactive
    cost code 14050), as for subcontracts. Rows a change set updates are not checked
    against jobphs/cstcde again: Sage already holds them, and zeroing a line whose code
    has since been made inactive must still be possible;
  * add: a job that already has budget lines -> 14201 (a budget is set up in one system
    and then exported or imported, never in both);
  * change: a job without a budget (no header and no lines) -> 12802;
  * a locked budget (budget.lckedt) -> 14050, for an add and a change;
  * two lines of one command with the same phase and cost code -> 14050 (one row each);
  * every amount, original and total must fit decimal(12,2) (Decimal, exact) -> 14050.
Each command is one transaction: all of it is written or none. A change sets absolute
values, so applying it twice leaves the rows as applying it once; values a row already
has are not written again (its upddte stays).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.relay_protocol import BudgetChangePayload, BudgetLine, BudgetPayload
from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.rules import (
    UNIT_MAX,
    _bindable,
    _check_cost,
    _check_job,
    _check_phase,
    _guid,
    _invalid,
    _money,
    _reference,
    _same,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.port import CONSTRAINT_FAILED, SageError
from relay.sage.tables import BUDGET_COLUMNS

_ZERO = Decimal("0.00")
_CURRENT = tuple(current for current, _ in BUDGET_COLUMNS.values())
_ORIGINAL = tuple(original for _, original in BUDGET_COLUMNS.values())


@dataclass(frozen=True)
class _Line:
    """One payload line, checked and in Sage's terms."""

    number: int  # its position in the command, 1.. (for messages)
    phase: int  # bdglin.phsnum; 0 = no phase
    code: str  # bdglin.cstcde, "3300.000"
    unit: str | None  # bdglin.untdsc; None = not given
    amounts: Mapping[int, Decimal]  # cost type -> current budget
    originals: Mapping[int, Decimal]  # cost type -> original budget (may be empty)

    @property
    def where(self) -> str:
        phase = f"phase {self.phase}" if self.phase else "no phase"
        return f"line {self.number} ({phase}, cost code {self.code})"

    @property
    def cost_types(self) -> list[int]:
        return sorted({*self.amounts, *self.originals})


def _by_type(values: Mapping[int, Any], number: int, what: str,
             columns: Sequence[str]) -> dict[int, Decimal]:
    """cost type -> exact decimal(12,2) amount, or 14050."""
    checked: dict[int, Decimal] = {}
    for cost_type, value in sorted(values.items()):
        if cost_type not in BUDGET_COLUMNS:
            raise _invalid(f"line {number} cost type {cost_type} is not 1-9 (csttyp.recnum)")
        column = columns[cost_type - 1]
        checked[cost_type] = _money(value, f"line {number} cost type {cost_type} {what}",
                                    f"bdglin.{column}")
    return checked


def _lines(lines: Iterable[BudgetLine]) -> list[_Line]:
    """The command's lines checked as values (before any lock is taken): amounts, units,
    one line per phase and cost code."""
    checked: list[_Line] = []
    seen: dict[tuple[int, str], _Line] = {}
    for number, line in enumerate(lines, start=1):
        unit = None
        if line.unit is not None:
            unit = _text(line.unit, UNIT_MAX, f"line {number} unit", "bdglin.untdsc")
        if not line.amounts:
            raise _invalid(f"line {number} has no amounts (bdglin.{_CURRENT[0]}..)")
        item = _Line(number=number, phase=line.phase or 0,
                     code=normalize_cost_code(line.cost_code), unit=unit,
                     amounts=_by_type(line.amounts, number, "amount", _CURRENT),
                     originals=_by_type(line.originals, number, "original", _ORIGINAL))
        first = seen.get((item.phase, item.code))
        if first is not None:
            raise _invalid(
                f"{item.where} repeats line {first.number}; a budget has one line per job, "
                "phase and cost code (bdglin), so give each phase and cost code once"
            )
        seen[(item.phase, item.code)] = item
        checked.append(item)
    return checked


def _total(values: Iterable[Decimal], line: _Line, column: str) -> Decimal:
    return _money(sum(values, _ZERO), f"{line.where} total", f"bdglin.{column}")


def _new_row(line: _Line, originals: Mapping[int, Decimal]) -> dict[str, Decimal]:
    """The budget columns of a row inserted for ``line``: current columns from its amounts,
    original columns from ``originals``; unnamed types 0; ttlbdg/ttlorg their sums."""
    row: dict[str, Decimal] = {}
    for cost_type, (current, original) in BUDGET_COLUMNS.items():
        row[current] = line.amounts.get(cost_type, _ZERO)
        row[original] = originals.get(cost_type, _ZERO)
    row["ttlbdg"] = _total((row[c] for c in _CURRENT), line, "ttlbdg")
    row["ttlorg"] = _total((row[c] for c in _ORIGINAL), line, "ttlorg")
    return row


def _lines_text(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def _locked(job: int) -> SageError:
    return _invalid(
        f"the budget of job {job} is locked in Sage (budget.lckedt); someone with access to "
        "the job's budget in Sage must unlock it before it can be written"
    )


class Budgets(SageDatabase):
    """The port's budget commands (a part of EmbeddedSage)."""

    # -- SagePort: budgets ----------------------------------------------------------------

    def add_budget(self, payload: BudgetPayload) -> dict[str, str]:
        """Write the job's first budget; {"budget": job, "lines": count}.

        Creates the budget header when the job has none (not locked) and one bdglin row
        per line, in the command's order; originals are the line's ``originals``, or its
        amounts when it gives none (a new budget's originals are its amounts).
        """
        lines = _lines(payload.lines)
        rows = [(line, _new_row(line, line.originals or line.amounts)) for line in lines]
        job = payload.job
        with self._write() as conn:
            _check_job(conn, job)
            header = self._budget_header(conn, job)
            count = self._line_count(conn, job)
            if count:
                raise SageError(
                    CONSTRAINT_FAILED,
                    f"Failed coded constraint: job {job} already has a budget "
                    f"({_lines_text(count)}) in Sage; a budget is set up in one system and "
                    "then exported or imported, never in both",
                )
            if header is not None and header["lckedt"]:
                raise _locked(job)
            for line in lines:
                self._check_new_line(conn, job, line)
            idref = header["_idnum"] if header is not None else self._add_header(conn, job)
            self._insert_lines(conn, job, idref, rows)
        return {"budget": str(job), "lines": str(len(rows))}

    def change_budget(self, payload: BudgetChangePayload) -> dict[str, str]:
        """Apply a change set; {"budget": job, "changed": n, "added": n}.

        A row of the job, phase and cost code that exists gets the current columns named
        in ``amounts`` set to those values (the other current columns, every original and
        the unit stay; ``originals`` is ignored) and ttlbdg recomputed from all nine;
        "changed" counts the rows whose values this changed. A row that does not exist is
        inserted as add_budget inserts it, with the line's ``originals`` (none given: 0, a
        line added by a change has no original budget); "added" counts them.
        """
        lines = _lines(payload.lines)
        job = payload.job
        changed = 0
        with self._write() as conn:
            _check_job(conn, job)
            header = self._budget_header(conn, job)
            if header is None and not self._line_count(conn, job):
                raise _reference(f"job {job} has no budget in Sage; export the budget first "
                                 "(budget.recnum)")
            if header is not None and header["lckedt"]:
                raise _locked(job)
            found = [(line, self._line_row(conn, job, line)) for line in lines]
            for line, row in found:  # every check first, then the writes
                if row is None:
                    self._check_new_line(conn, job, line)
                else:
                    for cost_type in line.amounts:
                        self._check_cost_type(conn, line, cost_type)
            added = [(line, _new_row(line, line.originals)) for line, row in found
                     if row is None]
            for line, row in found:
                if row is not None:
                    changed += self._set_amounts(conn, line, row)
            idref = header["_idnum"] if header is not None else None
            self._insert_lines(conn, job, idref, added)
        return {"budget": str(job), "changed": str(changed), "added": str(len(added))}

    def find_budget(self, payload: BudgetPayload) -> dict[str, str] | None:
        """The keys add_budget returned, if every line of ``payload`` is in Sage with
        exactly its current amounts (the other current columns 0), else None."""
        try:
            lines = _lines(payload.lines)
        except SageError:
            return None  # an add Sage would refuse was never written
        if not _storable(payload.job):
            return None
        with self._read() as conn:
            for line in lines:
                row = self._line_row(conn, payload.job, line)
                if row is None:
                    return None
                for cost_type, current in zip(BUDGET_COLUMNS, _CURRENT, strict=True):
                    if not _same(row[current], line.amounts.get(cost_type, _ZERO)):
                        return None
        return {"budget": str(payload.job), "lines": str(len(lines))}

    # -- helpers (inside the write transaction) -------------------------------------------

    @staticmethod
    def _budget_header(conn: sqlite3.Connection, job: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT _idnum, lckedt FROM budget WHERE recnum = ?", (job,)).fetchone()
        return row

    @staticmethod
    def _line_count(conn: sqlite3.Connection, job: int) -> int:
        return int(conn.execute("SELECT COUNT(*) FROM bdglin WHERE recnum = ?",
                                (job,)).fetchone()[0])

    @staticmethod
    def _line_row(conn: sqlite3.Connection, job: int, line: _Line) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM bdglin WHERE recnum = ? AND phsnum = ? AND cstcde = ?",
            (job, line.phase, line.code),
        ).fetchone()
        return row

    @staticmethod
    def _check_new_line(conn: sqlite3.Connection, job: int, line: _Line) -> None:
        """A row to insert: its phase on the job, its cost code and every cost type."""
        _check_phase(conn, job, line.phase)
        for cost_type in line.cost_types:
            _check_cost(conn, line.number, line.code, cost_type)

    @staticmethod
    def _check_cost_type(conn: sqlite3.Connection, line: _Line, cost_type: int) -> None:
        if conn.execute("SELECT 1 FROM csttyp WHERE recnum = ?",
                        (cost_type,)).fetchone() is None:
            raise _reference(f"line {line.number} cost type {cost_type} does not exist "
                             "(csttyp.recnum)")

    def _add_header(self, conn: sqlite3.Connection, job: int) -> str:
        idnum = _guid()
        conn.execute("INSERT INTO budget (_idnum, recnum, lckedt, insusr) VALUES (?, ?, 0, ?)",
                     (idnum, job, self.user))
        return idnum

    def _insert_lines(self, conn: sqlite3.Connection, job: int, idref: str | None,
                      rows: Sequence[tuple[_Line, dict[str, Decimal]]]) -> None:
        """Insert rows in order, each with the next line number of its job and phase."""
        following: dict[int, int] = {}
        for line, amounts in rows:
            if line.phase not in following:
                highest = conn.execute(
                    "SELECT MAX(linnum) FROM bdglin WHERE recnum = ? AND phsnum = ?",
                    (job, line.phase),
                ).fetchone()[0]
                following[line.phase] = 1 if highest is None else int(highest) + 1
            linnum = following[line.phase]
            following[line.phase] += 1
            row: dict[str, Any] = {
                "_idnum": _guid(), "_idref": idref, "recnum": job, "phsnum": line.phase,
                "linnum": linnum, "cstcde": line.code, "untdsc": line.unit or "",
                **amounts, "insusr": self.user,
            }
            conn.execute(
                f"INSERT INTO bdglin ({', '.join(row)}) "  # noqa: S608 # nosec B608 (fixed identifiers)
                f"VALUES ({', '.join('?' for _ in row)})",
                tuple(_bindable(value) for value in row.values()),
            )

    def _set_amounts(self, conn: sqlite3.Connection, line: _Line, row: sqlite3.Row) -> int:
        """Set the named current columns of an existing row; 1 if a value changed, else 0."""
        current = {column: Decimal(str(row[column])) for column in _CURRENT}
        for cost_type, amount in line.amounts.items():
            current[BUDGET_COLUMNS[cost_type][0]] = amount
        wanted = {**current, "ttlbdg": _total(current.values(), line, "ttlbdg")}
        differ = {column: value for column, value in wanted.items()
                  if not _same(row[column], value)}
        if not differ:
            return 0
        assignments = ", ".join(f"{column} = ?" for column in differ)
        conn.execute(
            f"UPDATE bdglin SET {assignments}, updusr = ? "  # noqa: S608 # nosec B608 (fixed identifiers)
            "WHERE _idnum = ?",
            (*(_bindable(value) for value in differ.values()), self.user, row["_idnum"]),
        )
        return 1
