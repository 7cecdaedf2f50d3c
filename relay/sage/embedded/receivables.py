"""The embedded Sage's accounts receivable: a Procore owner invoice (payment application) as
a Sage receivable invoice (acrinv + arivln), the receipts against it (acrpmt), and the
reads the owner side needs (a part of EmbeddedSage). Choices: docs/decisions.md ("Embedded
Sage receivables: owner invoices, receipts and their rules").

What ``add_receivable_invoice`` writes, in one transaction (Sage's 3-2 Receivable Invoices
saved):
  * acrinv: recnum the next number; invnum, jobnum, phsnum (0 = none), dscrpt, invdte,
    duedte (NULL when none), pchord (the client's PO number, '' = none); invtyp 1 Contract,
    status 1 Open; invttl = the lines' amounts (retention included), retain = the lines'
    retentions, invnet = invttl - retain (Sage's "Net Due"); nothing received yet: amtpad =
    ttlpad = 0 and invbal = invttl (the balance keeps the retention, as payables do: the
    invoice is Paid (4) only once the retention is received too); actper/postyr = the
    posting period of the invoice date.
  * arivln: one row per line: linnum, dscrpt, linqty 1, linprc = extprc = the amount,
    cstcde, lgract NULL (the ledger account comes from Sage's defaults).
  A line's retention is the command's, else the job's retention rate (actrec.retain %) of
  its amount, rounded half up to the cent; Sage keeps only the invoice's total (acrinv
  .retain), arivln has no retention column.

Rules, with Sage's codes (relay/sage/port.py):
  * the job (12802), its phase when one is named (12802) and each line's cost code (12802)
    must exist;
  * invoice numbers are unique in the company (trimmed, case-insensitive, void invoices
    included) -> 14201, unless the invoice holding it is this very invoice again (same
    job, date, lines, amounts and retentions: a resend of the same command), which answers
    the keys it got without writing anything;
  * the invoice date must fall in an open posting period -> 14050; a blank number, text
    over its width, an amount outside decimal(12,2), a negative total, a retention of
    another sign than its amount or larger than it -> 14050; a line number twice -> 12000.

``record_receipt`` (3-3-1 Cash Receipts): acrpmt (_idref = the invoice, chknum, chkdte,
amount, dsctkn 0, aplcrd 0) and the invoice's amtpad/ttlpad += amount, invbal -= amount,
status 4 Paid when the balance reaches 0. An unknown invoice -> 12802; a Void one, an
amount not positive or over the balance, a check number over 20 -> 14050. The same
receipt again (same invoice, check number, date and amount) is a resend: its id comes back
and nothing is written. Nothing is written on any refusal.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from relay.sage.embedded.periods import Periods
from relay.sage.embedded.posting import posting_period
from relay.sage.embedded.rules import (
    DESCRIPTION_MAX,
    _bindable,
    _check_job,
    _check_phase,
    _guid,
    _invalid,
    _line_numbers,
    _money,
    _number,
    _reference,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.embedded.subcontracts import as_money, sum_money
from relay.sage.port import CONSTRAINT_FAILED, INVALID_DATA, SageError

CONTRACT = 1  # acrinv.invtyp 1 Contract
OPEN, PAID, VOID = 1, 4, 5  # acrinv.status (real_schema codes: 1 Open ... 4 Paid 5 Void)
CHECK_NUMBER_MAX = 20  # acrpmt.chknum nvarchar(20)
PO_MAX = 20  # acrinv.pchord nvarchar(20)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ReceivableLine:
    """One billed line of an owner invoice (any object with these attributes will do)."""

    line_number: int  # arivln.linnum
    description: str  # arivln.dscrpt
    cost_code: str  # arivln.cstcde ("3300" or "3300.000")
    amount: Decimal | str  # arivln.extprc: work billed, retention included
    retention: Decimal | str | None = None  # None: the job's rate of the amount


@dataclass(frozen=True)
class ReceivableInvoice:
    """An owner invoice for Sage AR (the command the connector will send)."""

    job: int  # acrinv.jobnum
    invoice_number: str  # acrinv.invnum
    description: str  # acrinv.dscrpt
    invoice_date: dt.date  # acrinv.invdte: sets the posting period
    lines: Sequence[ReceivableLine] = field(default_factory=tuple)
    due_date: dt.date | None = None  # acrinv.duedte
    phase: int = 0  # acrinv.phsnum, 0 = none
    client_po: str = ""  # acrinv.pchord


@dataclass(frozen=True)
class _Line:
    number: int
    description: str
    code: str
    amount: Decimal
    retention: Decimal | None


def _checked_lines(invoice: Any) -> list[_Line]:
    if not invoice.lines:
        raise _invalid("a receivable invoice needs at least one line (arivln)")
    _line_numbers([line.line_number for line in invoice.lines], "arivln")
    checked = []
    for line in invoice.lines:
        where = f"line {line.line_number}"
        amount = _money(line.amount, f"{where} amount", "arivln.extprc")
        retention = (None if line.retention is None
                     else _money(line.retention, f"{where} retention", "acrinv.retain"))
        checked.append(_Line(line.line_number, _text(line.description, DESCRIPTION_MAX,
                                                     f"{where} description", "arivln.dscrpt"),
                             normalize_cost_code(line.cost_code), amount, retention))
    return checked


def _keys(recnum: int, invnum: str, postyr: int, actper: int) -> dict[str, str]:
    return {"acrinv": str(recnum), "invnum": invnum, "period": f"{postyr}-{actper:02d}"}


class Receivables(Periods):
    """Owner invoices and receipts in Sage AR (a part of EmbeddedSage)."""

    # -- writes ----------------------------------------------------------------------------
    def add_receivable_invoice(self, invoice: Any) -> dict[str, str]:
        """Write acrinv + arivln in one transaction; {"acrinv": recnum, "invnum": number,
        "period": "2025-03"}. A resend of the same invoice answers the same keys."""
        invnum = _number(invoice.invoice_number, "invoice number", "acrinv.invnum")
        dscrpt = _text(invoice.description, DESCRIPTION_MAX, "invoice description",
                       "acrinv.dscrpt")
        pchord = _text((invoice.client_po or "").strip(), PO_MAX, "client PO number",
                       "acrinv.pchord")
        lines = _checked_lines(invoice)
        invttl = sum_money([line.amount for line in lines], "invoice total", "acrinv.invttl")
        if invttl < 0:
            raise _invalid(f"invoice {invnum} totals {invttl}; an owner invoice cannot be "
                           "negative (acrinv.invttl): enter a credit memo in Sage")
        job, phase = invoice.job, int(invoice.phase or 0)
        with self._write() as conn:
            _check_job(conn, job)
            _check_phase(conn, job, phase)
            rate = as_money(conn.execute("SELECT retain FROM actrec WHERE recnum = ?",
                                         (job,)).fetchone()["retain"])
            retained = [self._line_retention(line, rate) for line in lines]
            retain = sum_money(retained, "invoice retention", "acrinv.retain")
            for line in lines:
                if conn.execute("SELECT 1 FROM cstcde WHERE recnum = ?",
                                (line.code,)).fetchone() is None:
                    raise _reference(f"line {line.number}: cost code {line.code} does not "
                                     "exist (cstcde.recnum)")
            again = self._same_invoice(conn, invoice, invnum, lines, retain)
            if again is not None:
                return again
            postyr, actper = self._ar_period(conn, invoice.invoice_date, invnum)
            recnum = self._next_recnum(conn, "acrinv")
            idnum = _guid()
            conn.execute(
                "INSERT INTO acrinv (_idnum, recnum, invnum, jobnum, phsnum, invdte, duedte, "
                "dscrpt, pchord, invtyp, status, invttl, retain, amtpad, ttlpad, invbal, "
                "invnet, actper, postyr, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?)",
                (idnum, recnum, invnum, job, phase, _bindable(invoice.invoice_date),
                 _bindable(invoice.due_date), dscrpt, pchord, CONTRACT, OPEN, str(invttl),
                 str(retain), str(invttl), str(invttl - retain), actper, postyr, self.user))
            conn.executemany(
                "INSERT INTO arivln (_idnum, _idref, recnum, linnum, dscrpt, linqty, linprc, "
                "extprc, cstcde, lgract, insusr) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, NULL, ?)",
                [(_guid(), idnum, recnum, line.number, line.description, str(line.amount),
                  str(line.amount), line.code, self.user) for line in lines])
        return _keys(recnum, invnum, postyr, actper)

    def record_receipt(self, invoice_recnum: int, *, check_number: str,
                       date: dt.date | str, amount: Decimal | str | int) -> str:
        """Receive ``amount`` against receivable invoice ``invoice_recnum``: acrpmt + the
        invoice's paid amounts, balance and status; returns the receipt id (_idnum)."""
        received = _money(amount, "receipt amount", "acrpmt.amount")
        if received <= 0:
            raise _invalid(f"receipt amount {received} must be positive (acrpmt.amount)")
        chknum = _text(check_number.strip(), CHECK_NUMBER_MAX, "check number", "acrpmt.chknum")
        chkdte = _receipt_date(date)
        with self._write() as conn:
            row = None
            if _storable(invoice_recnum):
                row = conn.execute("SELECT * FROM acrinv WHERE recnum = ?",
                                   (invoice_recnum,)).fetchone()
            if row is None:
                raise _reference(f"receivable invoice {invoice_recnum} does not exist "
                                 "(acrinv.recnum)")
            before = conn.execute(
                "SELECT _idnum, amount FROM acrpmt WHERE recnum = ? AND chkdte = ? "
                "AND sage_fold(chknum) = sage_fold(?) ORDER BY insdte, _idnum",
                (row["recnum"], chkdte.isoformat(), chknum)).fetchall()
            for earlier in before:
                if as_money(earlier["amount"]) == received:
                    return str(earlier["_idnum"])  # a resend of the same receipt
            name = f"receivable invoice {row['recnum']} {row['invnum']} of job {row['jobnum']}"
            if row["status"] == VOID:
                raise _invalid(f"{name} is Void (acrinv.status 5) and takes no receipt")
            balance = as_money(row["invbal"])
            if received > balance:
                raise _invalid(f"a receipt of {received} is more than the {balance} balance "
                               f"of {name} (acrinv.invbal)")
            invbal = _money(balance - received, f"{name} balance", "acrinv.invbal")
            amtpad = _money(as_money(row["amtpad"]) + received, f"{name} paid", "acrinv.amtpad")
            ttlpad = _money(as_money(row["ttlpad"]) + received, f"{name} total paid",
                            "acrinv.ttlpad")
            idnum = _guid()
            conn.execute(
                "INSERT INTO acrpmt (_idnum, _idref, recnum, chknum, chkdte, amount, dsctkn, "
                "aplcrd, insusr) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)",
                (idnum, row["_idnum"], row["recnum"], chknum, _bindable(chkdte),
                 str(received), self.user))
            conn.execute(
                "UPDATE acrinv SET amtpad = ?, ttlpad = ?, invbal = ?, status = ?, updusr = ? "
                "WHERE recnum = ?",
                (str(amtpad), str(ttlpad), str(invbal), PAID if invbal == 0 else row["status"],
                 self.user, row["recnum"]))
        return idnum

    # -- reads -------------------------------------------------------------------------------
    def job_contract(self, job: int) -> dict[str, Any] | None:
        """The job's contract as Sage holds it (actrec), or None: {"job", "name", "status",
        "contract" (cntrct), "retention_rate" (retain %), "contract_number" (connum),
        "client_po" (pchord)}."""
        if not _storable(job):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT recnum, jobnme, status, cntrct, retain, connum, pchord "
                               "FROM actrec WHERE recnum = ?", (job,)).fetchone()
        if row is None:
            return None
        return {"job": row["recnum"], "name": row["jobnme"], "status": row["status"],
                "contract": as_money(row["cntrct"]), "retention_rate": as_money(row["retain"]),
                "contract_number": row["connum"], "client_po": row["pchord"]}

    def receivable_invoices(self, job: int) -> list[dict[str, Any]]:
        """The job's receivable invoices (acrinv, by recnum) with their lines (arivln)."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM acrinv WHERE jobnum = ? ORDER BY recnum",
                                (job,)).fetchall()
            lines = conn.execute(
                "SELECT l.* FROM arivln l JOIN acrinv i ON i._idnum = l._idref "
                "WHERE i.jobnum = ? ORDER BY l.recnum, l.linnum", (job,)).fetchall()
        by_invoice: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            by_invoice.setdefault(line["recnum"], []).append({
                "line": line["linnum"], "description": line["dscrpt"],
                "cost_code": f"{Decimal(str(line['cstcde'])):.3f}",
                "amount": as_money(line["extprc"])})
        return [{
            "recnum": row["recnum"], "invnum": row["invnum"], "job": row["jobnum"],
            "phase": row["phsnum"], "invoice_date": row["invdte"], "due_date": row["duedte"],
            "description": row["dscrpt"], "status": row["status"],
            **{name: as_money(row[name]) for name in ("invttl", "retain", "amtpad", "ttlpad",
                                                      "invbal", "invnet")},
            "period": f"{row['postyr']}-{row['actper']:02d}",
            "lines": by_invoice.get(row["recnum"], []),
        } for row in rows]

    def receipts(self, job: int) -> list[dict[str, Any]]:
        """The receipts (acrpmt) against the job's receivable invoices, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT p._idnum, p.recnum, i.invnum, p.chknum, p.chkdte, p.amount, i.status "
                "FROM acrpmt p JOIN acrinv i ON i._idnum = p._idref WHERE i.jobnum = ? "
                "ORDER BY p.chkdte, p.insdte, p._idnum", (job,)).fetchall()
        return [{"id": row["_idnum"], "invoice": row["recnum"], "invnum": row["invnum"],
                 "check_number": row["chknum"], "date": row["chkdte"],
                 "amount": as_money(row["amount"]), "invoice_paid": row["status"] == PAID}
                for row in rows]

    def find_receivable_invoice(self, invoice: Any) -> dict[str, str] | None:
        """The keys add_receivable_invoice returned for this invoice number on this job,
        if it exists (reconciliation after a crash), else None."""
        if not _storable(invoice.job):
            return None
        with self._read() as conn:
            row = conn.execute(
                "SELECT recnum, invnum, actper, postyr FROM acrinv WHERE jobnum = ? "
                "AND sage_fold(invnum) = sage_fold(?)", (invoice.job, invoice.invoice_number),
            ).fetchone()
        return None if row is None else _keys(row["recnum"], row["invnum"], row["postyr"],
                                               row["actper"])

    # -- helpers (inside the write transaction) ----------------------------------------------
    @staticmethod
    def _line_retention(line: _Line, rate: Decimal) -> Decimal:
        where = f"line {line.number}"
        if line.retention is None:
            retention = (line.amount * rate / 100).quantize(_CENT, rounding=ROUND_HALF_UP)
        else:
            retention = line.retention
        if retention and (retention * line.amount < 0 or abs(retention) > abs(line.amount)):
            raise _invalid(f"{where} withholds {retention} retention on {line.amount}; "
                           "retention is part of the amount billed, so it cannot be larger "
                           "than the amount or of the other sign (acrinv.retain)")
        return retention

    @staticmethod
    def _same_invoice(conn: sqlite3.Connection, invoice: Any, invnum: str,
                      lines: list[_Line], retain: Decimal) -> dict[str, str] | None:
        """The keys of this invoice if it is already written (a resend), None if the number
        is free; 14201 when another invoice holds the number."""
        used = conn.execute("SELECT * FROM acrinv WHERE sage_fold(invnum) = sage_fold(?)",
                            (invnum,)).fetchone()
        if used is None:
            return None
        written = [(r["linnum"], r["dscrpt"], f"{Decimal(str(r['cstcde'])):.3f}",
                    as_money(r["extprc"])) for r in conn.execute(
            "SELECT * FROM arivln WHERE _idref = ? ORDER BY linnum", (used["_idnum"],))]
        wanted = sorted((line.number, line.description, line.code, line.amount)
                        for line in lines)
        if (used["jobnum"] == invoice.job and used["invdte"] == invoice.invoice_date
                and as_money(used["retain"]) == retain and written == wanted):
            return _keys(used["recnum"], used["invnum"], used["postyr"], used["actper"])
        raise SageError(CONSTRAINT_FAILED, (
            f"Failed coded constraint: invoice number {invnum} is already used by receivable "
            f"invoice {used['recnum']} of job {used['jobnum']}; a receivable invoice number "
            "is used once in the company (acrinv.invnum)"))

    def _ar_period(self, conn: sqlite3.Connection, when: dt.date,
                   invnum: str) -> tuple[int, int]:
        try:
            return posting_period(when, self._periods(conn))
        except SageError as exc:
            raise SageError(INVALID_DATA, (
                f"{exc.message}; receivable invoice {invnum} cannot be posted there "
                "(acrinv.invdte): date it in an open period or have the period unlocked "
                "in Sage")) from None


def _receipt_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid(f"receipt date {value!r} is not a date (acrpmt.chkdte)") from None
