"""The agent's paged list reads (pulls), built once with SQLAlchemy Core.

The same statements run on the embedded SQLite stand-in and on a real Sage 100 Contractor
company database (SQL Server, ``mssql+pyodbc://...``), which is read-only for the agent.
So a read uses nothing SQLite-only: no COLLATE NOCASE, no LIMIT text, no row-value
comparison, no Python function on the connection. Each is
``select(...).where(...).order_by(key).limit(n + 1)`` (TOP n on SQL Server) with keyset
pagination written as ``or_(k1 > x, and_(k1 == x, k2 > y))``: a page is never shifted by
rows added before it.

The cursor is opaque to callers: JSON of the last row's key values, a decimal cost code as
its text ("3300.000"), e.g. ``[24001]``, ``["3300.000"]``, ``[24001,2]``,
``[24001,0,"3300.000"]`` (budget lines: job, phase, cost code),
``[7,"0E984725-C51C-4BF4-9960-E1C80E27ABA0"]`` (payments: the invoice's record number, the
payment's uniqueidentifier as text, compared as a uniqueidentifier on SQL Server),
``[1,17]`` (commitments: the kind, 1 subcontract or 2 purchase order, and its recnum).

Row shapes are relay_protocol's pull shapes, identical from either database: a cost code
is its text with three decimals; optional text Sage keeps as '' (its NOT NULL columns)
comes out as None, as it always has. Budget lines (``budgets``: bdglin, its header's lock
from budget) carry their amounts as text with two decimals, only the cost types that are
not zero, "no phase" (0) as None, and the unit as Sage keeps it ('' when none).
Payments (``payments``: acppmt with the invoice it pays, acpinv, joined on _idref ->
_idnum) carry the amount and the invoice's balance as text with two decimals, the date as
"YYYY-MM-DD", the payment's id as its uniqueidentifier's text; a blank check number and an
invoice on no job come out as None.
Commitments (``commitments``: one row per subcontract, subcon, and per purchase order,
pchord; a UNION ALL of the two read as one derived table) are keyed by (kind, recnum),
the kind a number written into the statement (1 subcontract, 2 purchase order), so every
subcontract comes before every purchase order, each in record order; ``job`` narrows
them to one job. Their amounts are text with two decimals: a subcontract's original,
changes, total and invoiced are its own cntttl, chgttl, ctcttl and invttl; a purchase
order has no original nor changes (None), its total is pchttl and its invoiced the sum of
invttl of the payable invoices naming it (acpinv.pchord = ordnum on the same job). Paid
is the sum of amtpad of the payable invoices naming the commitment (a subcontract's:
acpinv.ctcnum = ctcnum, same job and vendor; a purchase order's: acpinv.pchord = ordnum).
Void invoices (status 5) count in neither sum. The sums are correlated scalar subqueries
(0 when no invoice), so a commitment is never repeated by a join.

Receivables (``receivables``: the owner side, relay/sage/receivable_reads.py) are keyed by
(kind, recnum) like commitments: a job's contract (``sage_key`` "actrec:{job}": contract
and approved prime changes) then a receivable invoice ("acrinv:{recnum}": invoiced,
retention and received), amounts as text with two decimals, None for the other kind's.

Job costs (``read_job_costs``, the PULL_JOB_COSTS page) are a read of their own: the jobcst
rows of ONE job, Open (1) and Void (2), with the name of the journal they were posted in
(source.srcnme, outer-joined: "" when Sage has no source row) and, for an Accounts Payable
row, the commitment of the payable invoice it distributes (acpinv of the same vendor,
invoice number = trnnum and job: its ctcnum, else its pchord, else None; a scalar
subquery taking the first such invoice, so a row is never repeated by the join). Their
key is (changed at, recnum), changed at = COALESCE(upddte, insdte) (a row Sage keeps
neither stamp for reads as 1900-01-01 00:00:00.000, so it is pulled, not lost), and a
run is capped at ``until`` (inclusive): the database's clock less
JOB_COST_SETTLE_SECONDS when the caller has none, read through SQL (SQLite's strftime,
SQL Server's SYSUTCDATETIME()). Stamps travel as the text 'YYYY-MM-DD HH:MM:SS.SSS'
(relay.sage.tables.stamp_text), the cursor as ``["2026-11-02 10:15:30.123",88]``; on SQL
Server a stamp is bound as CAST(? AS DATETIME) so it compares with datetime columns at
their own precision.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    INTEGER,
    Column,
    ColumnElement,
    FromClause,
    Label,
    Select,
    and_,
    case,
    cast,
    create_engine,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import CompileError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from chalicelib.relay_protocol import JOB_COST_SETTLE_SECONDS
from relay.sage.port import UNAVAILABLE, SageError
from relay.sage.receivable_reads import KINDS as RECEIVABLE_KINDS
from relay.sage.receivable_reads import RECEIVABLES
from relay.sage.tables import (
    BUDGET_COLUMNS,
    MONEY,
    SQLITE_EXECUTION,
    STAMP,
    acpinv,
    acppmt,
    acrinv,
    acrpmt,
    actpay,
    actrec,
    bdglin,
    budget,
    cstcde,
    csttyp,
    jobcst,
    jobphs,
    parse_stamp,
    pchord,
    source,
    stamp_text,
    subcon,
)

_THOUSANDTH = Decimal("0.001")
_CENT = Decimal("0.01")


def cost_code_text(value: Decimal | float | int) -> str:
    """A decimal(15,3) cost code as the protocol writes it: '3300.000'.

    SQL Server returns a Decimal; SQLite a float or an int, exact to decimal(15,3)'s 15
    significant digits, so formatting with three decimals gives the stored code back.
    """
    if isinstance(value, Decimal):
        return str(value.quantize(_THOUSANDTH))
    return f"{value:.3f}"


def money_text(value: Decimal | float | int) -> str:
    """A decimal(12,2) amount as the protocol writes it: '1200.00'.

    SQL Server returns a Decimal; SQLite a float or an int, exact to decimal(12,2)'s 12
    significant digits, so formatting with two decimals gives the stored amount back.
    """
    if isinstance(value, Decimal):
        return str(value.quantize(_CENT))
    return f"{value:.2f}"


def _text(value: str | None) -> str | None:
    """Optional text: Sage's '' (and NULL) is None in a pulled row."""
    return value if value else None


def code_inactive(flag: str | None) -> bool:
    """cstcde.inactv is nvarchar(2): 'T' when inactive ('Y' from some imports), else ''."""
    return (flag or "").strip().upper() in ("T", "Y")


@dataclass(frozen=True)
class ReadSpec:
    """One pullable list: its Sage columns, its key (order and cursor) and its row shape."""

    name: str
    columns: Sequence[Column[Any] | Label[Any]]
    key: Sequence[Column[Any]]
    shape: Callable[[Any], dict[str, Any]]
    job: Column[Any] | None = None  # the column ``job`` narrows (phases, budgets, ...)
    source: FromClause | None = None  # a join or a derived table, when not one table


def _by_type(row: Any, columns: Sequence[str]) -> dict[str, str]:
    """{"1": "1200.00", ...}: the cost types (1-9, in order) whose column is not zero."""
    amounts = {}
    for cost_type, column in zip(BUDGET_COLUMNS, columns, strict=True):
        value = row._mapping[column]
        if value:
            amounts[str(cost_type)] = money_text(value)
    return amounts


_CURRENT = [current for current, _ in BUDGET_COLUMNS.values()]
_ORIGINAL = [original for _, original in BUDGET_COLUMNS.values()]


def _budget_line(r: Any) -> dict[str, Any]:
    return {"job": int(r.recnum), "phase": int(r.phsnum) or None, "line": int(r.linnum),
            "cost_code": cost_code_text(r.cstcde), "unit": r.untdsc or "",
            "amounts": _by_type(r, _CURRENT), "originals": _by_type(r, _ORIGINAL),
            "total": money_text(r.ttlbdg), "locked": bool(r.lckedt)}


def _payment(r: Any) -> dict[str, Any]:
    return {"payment": str(r._idnum), "invoice": int(r.invoice),
            "invoice_number": r.invnum, "vendor": int(r.vndnum),
            "job": None if r.jobnum is None else int(r.jobnum),
            "check_number": _text(r.chknum),
            "date": None if r.chkdte is None else r.chkdte.isoformat(),
            "amount": money_text(r.amount), "invoice_status": int(r.status),
            "invoice_balance": money_text(r.invbal)}


def _receipt(r: Any) -> dict[str, Any]:
    return {"receipt": str(r._idnum), "invoice": int(r.invoice),
            "invoice_number": r.invnum, "job": None if r.jobnum is None else int(r.jobnum),
            "check_number": _text(r.chknum),
            "date": None if r.chkdte is None else r.chkdte.isoformat(),
            "amount": money_text(r.amount), "invoice_status": int(r.status),
            "invoice_balance": money_text(r.invbal)}


# ---- commitments -----------------------------------------------------------------------------

# The kind, as the commitments' first key column: every subcontract, then every purchase
# order. Its row: (Sage table, protocol kind).
SUBCONTRACT, PURCHASE_ORDER = 1, 2
COMMITMENT_KINDS: dict[int, tuple[str, str]] = {SUBCONTRACT: ("subcon", "subcontract"),
                                                PURCHASE_ORDER: ("pchord", "purchase_order")}
VOID_INVOICE = 5  # acpinv.status 5 Void: counts in no commitment's invoiced or paid


def _invoices(total: Column[Any], *naming: ColumnElement[bool]) -> Any:
    """SUM(``total``) of the payable invoices ``naming`` a commitment, void ones left
    out; 0 when there is none (a correlated scalar subquery: one value per commitment)."""
    return (select(func.coalesce(func.sum(total), 0))
            .where(*naming, acpinv.c.status != VOID_INVOICE)
            .scalar_subquery())


_SUBCONTRACT_INVOICES = (acpinv.c.ctcnum == subcon.c.ctcnum,
                         acpinv.c.jobnum == subcon.c.jobnum,
                         acpinv.c.vndnum == subcon.c.vndnum)
_NO_AMOUNT = cast(null(), MONEY)  # a purchase order's original and changes

COMMITMENTS = union_all(
    select(literal_column(str(SUBCONTRACT), INTEGER).label("kind"), subcon.c.recnum,
           subcon.c.jobnum, subcon.c.ctcnum.label("number"), subcon.c.vndnum,
           subcon.c.status, subcon.c.cntttl.label("original"),
           subcon.c.chgttl.label("changes"), subcon.c.ctcttl.label("total"),
           subcon.c.invttl.label("invoiced"),
           _invoices(acpinv.c.amtpad, *_SUBCONTRACT_INVOICES).label("paid")),
    select(literal_column(str(PURCHASE_ORDER), INTEGER).label("kind"), pchord.c.recnum,
           pchord.c.jobnum, pchord.c.ordnum.label("number"), pchord.c.vndnum,
           pchord.c.status, _NO_AMOUNT.label("original"), _NO_AMOUNT.label("changes"),
           pchord.c.pchttl.label("total"),
           _invoices(acpinv.c.invttl, acpinv.c.pchord == pchord.c.ordnum,
                     acpinv.c.jobnum == pchord.c.jobnum).label("invoiced"),
           _invoices(acpinv.c.amtpad, acpinv.c.pchord == pchord.c.ordnum).label("paid")),
).subquery("commitments")


def _optional_money(value: Decimal | float | int | None) -> str | None:
    return None if value is None else money_text(value)


def _commitment(r: Any) -> dict[str, Any]:
    table, kind = COMMITMENT_KINDS[int(r.kind)]
    return {"sage_key": f"{table}:{int(r.recnum)}", "kind": kind, "job": int(r.jobnum),
            "number": r.number, "vendor": int(r.vndnum), "status": int(r.status),
            "original": _optional_money(r.original), "changes": _optional_money(r.changes),
            "total": money_text(r.total), "invoiced": money_text(r.invoiced),
            "paid": money_text(r.paid)}


def _receivable(r: Any) -> dict[str, Any]:
    """A job's contract (kind job_contract) or a receivable invoice (kind invoice):
    relay/sage/receivable_reads.py; the other kind's amounts are None."""
    table, kind = RECEIVABLE_KINDS[int(r.kind)]
    return {"sage_key": f"{table}:{int(r.recnum)}", "kind": kind,
            "job": None if r.jobnum is None else int(r.jobnum), "number": _text(r.number),
            "status": int(r.status), "contract": _optional_money(r.contract),
            "changes": _optional_money(r.changes), "invoiced": _optional_money(r.invoiced),
            "retention": _optional_money(r.retention),
            "received": _optional_money(r.received)}


READS: dict[str, ReadSpec] = {spec.name: spec for spec in (
    ReadSpec("jobs", [actrec.c.recnum, actrec.c.jobnme, actrec.c.shtnme, actrec.c.status,
                      actrec.c.addrs1, actrec.c.ctynme, actrec.c.state_, actrec.c.zipcde],
             [actrec.c.recnum], lambda r: {
                 "job": int(r.recnum), "name": r.jobnme, "short_name": _text(r.shtnme),
                 "status": r.status, "address": _text(r.addrs1), "city": _text(r.ctynme),
                 "state": _text(r.state_), "zip_code": _text(r.zipcde)}),
    ReadSpec("vendors", [actpay.c.recnum, actpay.c.vndnme, actpay.c.shtnme, actpay.c.inactv,
                         actpay.c.fedidn, actpay.c.addrs1, actpay.c.ctynme, actpay.c.state_,
                         actpay.c.zipcde],
             [actpay.c.recnum], lambda r: {
                 "vendor": int(r.recnum), "name": r.vndnme, "short_name": _text(r.shtnme),
                 "inactive": bool(r.inactv), "tax_id": _text(r.fedidn),
                 "address": _text(r.addrs1), "city": _text(r.ctynme), "state": _text(r.state_),
                 "zip_code": _text(r.zipcde)}),
    ReadSpec("cost_codes", [cstcde.c.recnum, cstcde.c.cdenme, cstcde.c.untdsc, cstcde.c.inactv],
             [cstcde.c.recnum], lambda r: {
                 "code": cost_code_text(r.recnum), "name": r.cdenme, "unit": _text(r.untdsc),
                 "inactive": code_inactive(r.inactv)}),
    ReadSpec("cost_types", [csttyp.c.recnum, csttyp.c.typnme], [csttyp.c.recnum],
             lambda r: {"type": int(r.recnum), "name": r.typnme}),
    ReadSpec("phases", [jobphs.c.recnum, jobphs.c.phsnum, jobphs.c.phsnme],
             [jobphs.c.recnum, jobphs.c.phsnum],
             lambda r: {"job": int(r.recnum), "phase": int(r.phsnum), "name": r.phsnme},
             job=jobphs.c.recnum),
    # A line without a budget header (none in Sage's own screens) reads as not locked.
    ReadSpec("budgets", [*bdglin.c, budget.c.lckedt],
             [bdglin.c.recnum, bdglin.c.phsnum, bdglin.c.cstcde], _budget_line,
             job=bdglin.c.recnum,
             source=bdglin.outerjoin(budget, budget.c.recnum == bdglin.c.recnum)),
    # Payments in the order of the invoices they pay, then of their ids.
    ReadSpec("payments", [acppmt.c.recnum, acppmt.c._idnum, acppmt.c.chknum, acppmt.c.chkdte,
                          acppmt.c.amount, acpinv.c.recnum.label("invoice"), acpinv.c.invnum,
                          acpinv.c.vndnum, acpinv.c.jobnum, acpinv.c.status, acpinv.c.invbal],
             [acppmt.c.recnum, acppmt.c._idnum], _payment,
             source=acppmt.join(acpinv, acpinv.c._idnum == acppmt.c._idref)),
    # Receipts of owner invoices, in the order of the invoices they pay, then of their ids.
    ReadSpec("receipts", [acrpmt.c.recnum, acrpmt.c._idnum, acrpmt.c.chknum, acrpmt.c.chkdte,
                          acrpmt.c.amount, acrinv.c.recnum.label("invoice"), acrinv.c.invnum,
                          acrinv.c.jobnum, acrinv.c.status, acrinv.c.invbal],
             [acrpmt.c.recnum, acrpmt.c._idnum], _receipt,
             source=acrpmt.join(acrinv, acrinv.c._idnum == acrpmt.c._idref)),
    # Subcontracts, then purchase orders, each in record order (the derived table's kind).
    ReadSpec("commitments", list(COMMITMENTS.c), [COMMITMENTS.c.kind, COMMITMENTS.c.recnum],
             _commitment, job=COMMITMENTS.c.jobnum, source=COMMITMENTS),
    # The owner side: jobs' contracts, then receivable invoices (receivable_reads.py).
    ReadSpec("receivables", list(RECEIVABLES.c), [RECEIVABLES.c.kind, RECEIVABLES.c.recnum],
             _receivable, job=RECEIVABLES.c.jobnum, source=RECEIVABLES),
)}
READABLE_TABLES = tuple(READS)
JOB_READS = tuple(name for name, spec in READS.items() if spec.job is not None)


# ---- cursors ----------------------------------------------------------------------------------


def _is_decimal(column: Column[Any]) -> bool:
    return column.type.python_type is Decimal


def _is_text(column: Column[Any]) -> bool:
    return column.type.python_type is str  # a uniqueidentifier, read as its text


def _key_value(column: Column[Any], value: Any) -> Any:
    if _is_decimal(column):
        return cost_code_text(value)
    if _is_text(column):
        return str(value)
    return int(value)


def encode_cursor(spec: ReadSpec, row: Any) -> str:
    """The cursor after ``row``: JSON of its key values, a decimal key as text."""
    values = [_key_value(column, row._mapping[column.name]) for column in spec.key]
    return json.dumps(values, separators=(",", ":"))


def decode_cursor(spec: ReadSpec, cursor: str) -> list[Any]:
    """The key values a cursor holds, typed for binding; ValueError if it is not one."""
    bad = ValueError(f"cursor {cursor!r} is not a {spec.name} cursor")
    try:
        values = json.loads(cursor)
    except ValueError:
        raise bad from None
    if not isinstance(values, list) or len(values) != len(spec.key):
        raise bad
    keys: list[Any] = []
    for column, value in zip(spec.key, values, strict=True):
        if _is_decimal(column):
            if not isinstance(value, str):
                raise bad
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise bad from None
            if not number.is_finite():
                raise bad
            keys.append(number)
        elif _is_text(column):
            if not isinstance(value, str):
                raise bad
            try:
                uuid.UUID(value)
            except ValueError:
                raise bad from None
            keys.append(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            keys.append(value)
        else:
            raise bad
    return keys


def _after(key: Sequence[Column[Any]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows whose key sorts after ``values``: k1 > x OR (k1 = x AND (k2 > y OR ...))."""
    first, value = key[0], values[0]
    if len(key) == 1:
        return first > value
    return or_(first > value, and_(first == value, _after(key[1:], values[1:])))


# ---- statements -------------------------------------------------------------------------------


def read_statement(table: str, *, after: str | None, limit: int,
                   job: int | None = None) -> Select[Any]:
    """The SELECT for one page of ``table``: up to ``limit`` + 1 rows (the extra one says
    another page follows). Unknown table, bad cursor or limit -> ValueError."""
    spec = READS.get(table)
    if spec is None:
        raise ValueError(f"unknown table {table!r}; one of {', '.join(READS)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    if job is not None and spec.job is None:
        narrowed = f"{', '.join(JOB_READS[:-1])} and {JOB_READS[-1]}"
        raise ValueError(f"job narrows {narrowed} only, not {table}")
    statement = select(*spec.columns)
    if spec.source is not None:
        statement = statement.select_from(spec.source)
    if job is not None and spec.job is not None:
        statement = statement.where(spec.job == job)
    if after is not None:
        statement = statement.where(_after(spec.key, decode_cursor(spec, after)))
    return statement.order_by(*spec.key).limit(limit + 1)


# ---- job costs --------------------------------------------------------------------------------

# source.srcnme of the journal whose rows may distribute a payable invoice (the name, not
# the number: source numbers are the company's own; see embedded/demo_data.py).
AP_JOURNAL = "Accounts Payable"
JOB_COST_STATUSES = (1, 2)  # jobcst.status 1 Open (posted), 2 Void


class _Earliest(ColumnElement[datetime]):
    """The stamp of a jobcst row Sage keeps no insdte/upddte for: 1900-01-01, rendered
    inline (an expression index on the embedded file can match it; SQL Server reads
    'YYYYMMDD' the same whatever its date format setting)."""

    type = STAMP
    inherit_cache = True


@compiles(_Earliest)
def _earliest(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"job cost reads run on SQLite or SQL Server, not {compiler.dialect.name}")


@compiles(_Earliest, "sqlite")
def _earliest_sqlite(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    return "'1900-01-01 00:00:00.000'"


@compiles(_Earliest, "mssql")
def _earliest_mssql(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    return "CAST('19000101' AS DATETIME)"


# changed at: upddte, or insdte for a row never updated (the order and the cursor).
CHANGED_AT: ColumnElement[datetime] = func.coalesce(jobcst.c.upddte, jobcst.c.insdte,
                                                    _Earliest())

# The commitment an Accounts Payable row's invoice names: subcontract, else purchase order.
_COMMITMENT = (
    select(func.coalesce(func.nullif(acpinv.c.ctcnum, ""), func.nullif(acpinv.c.pchord, "")))
    .where(acpinv.c.vndnum == jobcst.c.vndnum, acpinv.c.invnum == jobcst.c.trnnum,
           acpinv.c.jobnum == jobcst.c.jobnum)
    .order_by(acpinv.c.recnum).limit(1).scalar_subquery()
)

JOB_COST_COLUMNS: list[Any] = [
    jobcst.c.recnum, jobcst.c.jobnum, jobcst.c.phsnum, jobcst.c.cstcde, jobcst.c.csttyp,
    jobcst.c.cstamt, jobcst.c.csthrs, jobcst.c.trndte, jobcst.c.dscrpt, jobcst.c.trnnum,
    jobcst.c.srcnum, source.c.srcnme.label("journal"), jobcst.c.vndnum, jobcst.c.empnum,
    jobcst.c.eqpnum, jobcst.c.status, jobcst.c.actprd, jobcst.c.postyr,
    case((source.c.srcnme == AP_JOURNAL, _COMMITMENT), else_=None).label("commitment"),
    CHANGED_AT.label("changed_at"),
]


def _optional_number(value: int | None) -> int | None:
    """An optional reference (vndnum, empnum, eqpnum): NULL and 0 are None."""
    return int(value) if value else None


def _job_cost(r: Any) -> dict[str, Any]:
    return {"record": int(r.recnum), "job": int(r.jobnum), "phase": int(r.phsnum) or None,
            "cost_code": cost_code_text(r.cstcde), "cost_type": int(r.csttyp),
            "amount": money_text(r.cstamt), "hours": money_text(r.csthrs),
            "date": None if r.trndte is None else r.trndte.isoformat(),
            "description": r.dscrpt, "transaction": r.trnnum, "source": int(r.srcnum),
            "journal": r.journal or "", "vendor": _optional_number(r.vndnum),
            "employee": _optional_number(r.empnum), "equipment": _optional_number(r.eqpnum),
            "status": int(r.status), "period": int(r.actprd), "year": int(r.postyr),
            "commitment": _text(r.commitment), "changed_at": stamp_text(r.changed_at)}


def job_cost_cursor(row: dict[str, Any]) -> str:
    """The cursor after a job cost row (its changed at and record): the next page starts
    after it. The agent uses it to end a page early."""
    return json.dumps([row["changed_at"], int(row["record"])], separators=(",", ":"))


def decode_job_cost_cursor(cursor: str) -> tuple[datetime, int]:
    """(changed at, recnum) a job cost cursor holds; ValueError if it is not one."""
    bad = ValueError(f"cursor {cursor!r} is not a job cost cursor")
    try:
        values = json.loads(cursor)
    except ValueError:
        raise bad from None
    if not (isinstance(values, list) and len(values) == 2 and isinstance(values[0], str)
            and isinstance(values[1], int) and not isinstance(values[1], bool)):
        raise bad
    try:
        return parse_stamp(values[0]), values[1]
    except ValueError:
        raise bad from None


def until_stamp(until: str) -> datetime:
    """The cap a caller gave ('2026-11-02 10:15:30.123'); ValueError if it is not a time."""
    if not isinstance(until, str):
        raise ValueError(f"until {until!r} is not a time")
    try:
        return parse_stamp(until)
    except ValueError:
        raise ValueError(f"until {until!r} is not a time ('YYYY-MM-DD HH:MM:SS.SSS')") from None


class _Stamp(ColumnElement[datetime]):
    """A stamp bound for comparison with changed at: on SQL Server CAST(? AS DATETIME), so
    it compares at datetime's own precision (a bare datetime2 parameter would not equal
    the datetime it came from); on SQLite the bare text, which compares with the stored
    text and lets the expression index seek (a CAST would give it another affinity)."""

    type = STAMP
    inherit_cache = True
    _traverse_internals = [("value", InternalTraversal.dp_clauseelement)]

    def __init__(self, value: datetime) -> None:
        self.value = literal(value, STAMP)


@compiles(_Stamp)
def _stamp_bound(element: _Stamp, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.value, **kw)


@compiles(_Stamp, "mssql")
def _stamp_mssql(element: _Stamp, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.value, **kw)} AS DATETIME)"


def _stamp(value: datetime) -> ColumnElement[datetime]:
    return _Stamp(value)


def _job_cost_page(job: int, after: str | None, limit: int) -> tuple[datetime, int] | None:
    """The key ``after`` holds (None: from the start), once job and limit are checked;
    ValueError for any of them."""
    if isinstance(job, bool) or not isinstance(job, int) or job < 1:
        raise ValueError(f"job must be a positive integer, not {job!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    return None if after is None else decode_job_cost_cursor(after)


def job_costs_statement(job: int, *, after: str | None, until: str,
                        limit: int) -> Select[Any]:
    """The SELECT for one page of ``job``'s job costs changed after the cursor ``after``
    and not after ``until``: up to ``limit`` + 1 rows in (changed at, recnum) order. A bad
    job, cursor, cap or limit -> ValueError."""
    key = _job_cost_page(job, after, limit)
    cap = until_stamp(until)
    statement = (
        select(*JOB_COST_COLUMNS)
        .select_from(jobcst.outerjoin(source, source.c.recnum == jobcst.c.srcnum))
        .where(jobcst.c.jobnum == job, jobcst.c.status.in_(JOB_COST_STATUSES),
               CHANGED_AT <= _stamp(cap))
    )
    if key is not None:
        changed, recnum = key
        # changed >= x first: a range an index on (job, changed at) seeks to, not scans.
        statement = statement.where(CHANGED_AT >= _stamp(changed), or_(
            CHANGED_AT > _stamp(changed),
            and_(CHANGED_AT == _stamp(changed), jobcst.c.recnum > recnum)))
    return statement.order_by(CHANGED_AT, jobcst.c.recnum).limit(limit + 1)


def clock_statement(dialect: str, seconds: int = JOB_COST_SETTLE_SECONDS) -> Select[Any]:
    """SELECT the database's UTC clock less ``seconds``, as a stamp (the run's cap): SQLite
    strftime('%Y-%m-%d %H:%M:%f', 'now', '-60 seconds'), SQL Server
    CAST(DATEADD(second, -60, SYSUTCDATETIME()) AS DATETIME). ValueError for another
    database."""
    if dialect == "sqlite":
        return select(type_coerce(func.strftime("%Y-%m-%d %H:%M:%f", "now",
                                                f"-{int(seconds)} seconds"),
                                  STAMP).label("clock"))
    if dialect == "mssql":
        return select(cast(func.dateadd(literal_column("second"), -int(seconds),
                                        func.sysutcdatetime()), STAMP).label("clock"))
    raise ValueError(f"job cost reads run on SQLite or SQL Server, not {dialect}")


def _default_error(exc: DBAPIError) -> SageError:
    """A database error as Sage's 17000: retryable when the server could not be reached."""
    reachable = not isinstance(exc, OperationalError | InterfaceError)
    detail = str(exc.orig) if exc.orig is not None else str(exc)
    if reachable:
        return SageError(UNAVAILABLE, f"Sage company database refused the read: {detail}")
    return SageError(UNAVAILABLE, f"Sage company database unavailable ({detail}); try again",
                     retryable=True)


class SageReads:
    """The pulls over one SQLAlchemy engine: the embedded file or a real Sage database.

    ``errors`` turns a driver error into the SageError the agent reports (by default a
    17000, retryable when the server could not be reached).
    """

    def __init__(self, engine: Engine, *,
                 errors: Callable[[DBAPIError], SageError] = _default_error) -> None:
        self.engine = engine
        self._errors = errors

    @classmethod
    def connect(cls, url: str) -> SageReads:
        """Reads from the database at ``url`` (``mssql+pyodbc://...`` for a real Sage).

        Only SELECTs are ever sent; give the agent's SQL login read access and nothing
        more. The connection is opened on the first read, not here.
        """
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, execution_options=SQLITE_EXECUTION)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
        return cls(engine)

    def read(self, table: str, *, after: str | None, limit: int,
             job: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``table`` in key order: (rows, cursor of the next page or None)."""
        statement = read_statement(table, after=after, limit=limit, job=job)
        spec = READS[table]
        try:
            with self.engine.connect() as conn:
                found = conn.execute(statement).all()
        except DBAPIError as exc:
            raise self._errors(exc) from exc
        rows = [spec.shape(row) for row in found[:limit]]
        cursor = encode_cursor(spec, found[limit - 1]) if len(found) > limit else None
        return rows, cursor

    def read_job_costs(self, job: int, *, after: str | None, until: str | None,
                       limit: int) -> tuple[list[dict[str, Any]], str | None, str]:
        """One page of ``job``'s job costs: (rows, cursor of the next page or None, the
        cap). ``until`` None: the cap is the database's clock less JOB_COST_SETTLE_SECONDS
        (a run's first page); every later page of the run passes the cap it returned.
        Bad job, cursor, cap or limit -> ValueError (before the database is asked)."""
        _job_cost_page(job, after, limit)
        cap = None if until is None else stamp_text(until_stamp(until))
        try:
            with self.engine.connect() as conn:
                if cap is None:
                    clock = clock_statement(conn.dialect.name)
                    cap = stamp_text(conn.execute(clock).scalar_one())
                statement = job_costs_statement(job, after=after, until=cap, limit=limit)
                found = conn.execute(statement).all()
        except DBAPIError as exc:
            raise self._errors(exc) from exc
        rows = [_job_cost(row) for row in found[:limit]]
        cursor = job_cost_cursor(rows[-1]) if len(found) > limit else None
        return rows, cursor, cap

    def describe(self) -> str:
        """Where reads go, password hidden (for logs)."""
        return self.engine.url.render_as_string(hide_password=True)
