"""What the change order and payable invoice writers share about a subcontract already in
Sage: finding it as the command names it, checking a line it names, amounts as read, and
the in-transaction update of a row's money columns."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from relay.sage.embedded.rules import _bindable, _money, _reference, _storable
from relay.sage.reads import cost_code_text

SUBCONTRACT_CLOSED = {2: "Refused", 6: "Closed"}  # subcon.status that takes nothing more
_ZERO = Decimal("0.00")


def sum_money(amounts: Sequence[Decimal], what: str, column: str) -> Decimal:
    return _money(sum(amounts, _ZERO), what, column)


def as_money(value: Any) -> Decimal:
    """A money column as read (SQLite may hand over a float-looking value)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def subcontract_on_job(conn: sqlite3.Connection, *, record: int, job: int, number: str,
                       vendor: int, names: str, other_vendor: str) -> sqlite3.Row:
    """The subcon row ``record`` of ``job``, refused (12802) when it is missing or its
    number or vendor is not what the command (``names``: "the invoice", ...) says."""
    row: sqlite3.Row | None = None
    if _storable(record):
        row = conn.execute("SELECT * FROM subcon WHERE recnum = ? AND jobnum = ?",
                           (record, job)).fetchone()
    if row is None:
        raise _reference(f"subcontract {record} does not exist on job {job} (subcon.recnum)")
    wanted = number.strip()
    if row["ctcnum"].strip().casefold() != wanted.casefold():
        raise _reference(f"subcontract {record} is number {row['ctcnum']!r} in Sage, not "
                         f"{wanted!r}: {names} names another subcontract (subcon.ctcnum)")
    if row["vndnum"] != vendor:
        raise _reference(f"subcontract {record} {row['ctcnum']} is with vendor "
                         f"{row['vndnum']} in Sage, not vendor {vendor}: {other_vendor} "
                         "(subcon.vndnum)")
    return row


def check_subcontract_line(subcon: sqlite3.Row, lines: dict[int, sqlite3.Row], *,
                           label: str, verb: str, line: int | None, code: str,
                           cost_type: int) -> None:
    """The sbcnln line ``line`` exists with ``code`` and ``cost_type`` (else 12802);
    ``label`` and ``verb`` say who names it ("invoice line 2", "bills")."""
    name = f"subcontract {subcon['recnum']} {subcon['ctcnum']}"
    row = lines.get(line or 0)
    if row is None:
        raise _reference(f"{label} {verb} line {line} of {name}, which Sage does not have "
                         "(sbcnln.linnum)")
    held = cost_code_text(row["cstcde"])
    if (held, row["csttyp"]) != (code, cost_type):
        raise _reference(
            f"{label} {verb} line {line} of {name} as cost code {code} type {cost_type}, but "
            f"that line is cost code {held} type {row['csttyp']} in Sage (sbcnln.cstcde, "
            "sbcnln.csttyp)")


def update_columns(conn: sqlite3.Connection, user: str, table: str,
                   values: dict[str, Decimal], where: str, key: tuple[object, ...]) -> None:
    """Set ``values`` (and updusr) on the rows ``where`` matches, inside the caller's
    transaction; ``table``, the columns and ``where`` are fixed identifiers."""
    assignments = ", ".join(f"{column} = ?" for column in values)
    conn.execute(
        f"UPDATE {table} SET {assignments}, updusr = ? "  # noqa: S608 # nosec B608 (fixed identifiers)
        f"WHERE {where}",
        (*(_bindable(value) for value in values.values()), user, *key),
    )
