"""The embedded Sage's accounts payable: a Procore subcontractor invoice as a Sage payable
invoice (acpinv + apivln + its job cost distribution in jobcst), the subcontract's billed
amounts following, and the look-up the agent reconciles it with (a part of EmbeddedSage).

What one command writes, in one transaction (Sage's 4-2 Payable Invoices saved, which
posts it: reference/sage100c.md section 2):
  * acpinv: recnum the next number; invnum, vndnum, jobnum, phsnum (the subcontract's
    phase, 0 when it has none), ctcnum = the subcontract number (pchord ''), dscrpt,
    invdte, duedte (NULL when Procore has none); invtyp 1 Contract, status 1 Open;
    invttl = the lines' amounts (the work completed this period, retention included),
    retain = the lines' retentions; nothing is paid yet: amtpad = ttlpad = setpay = 0 and
    invbal = invttl. The balance keeps the retention: retention is withheld from payment,
    not from what is owed, and Sage marks an invoice Paid (4) only when its balance is 0
    (About payable invoice status), so an invoice whose retention is unpaid stays open;
    what may be paid now is invttl - retain. actper/postyr = the posting period of the
    invoice date.
  * apivln: one line per invoice line: linnum, prtdsc, linqty 1, linprc = extttl = the
    amount. actnum/subact (the ledger account) stay NULL: Sage fills them from the
    vendor's or job's defaults, which the embedded company does not have, and no source
    documents a default account number.
  * jobcst: the job cost distribution, one row per line: jobnum, phsnum (as acpinv),
    trnnum = the invoice number, trndte = the invoice date, entdte = today, dscrpt, cstcde,
    csttyp, cstamt = the amount, vndnum, srcnum 11 (the Accounts Payable source journal,
    AP_SOURCE), actprd/postyr = the period, status 1 Open (posted). Its total must equal
    the ledger total (posting.check_distribution).
  * the subcontract follows: each billed sbcnln line gets billed += amount and remain =
    cntrct - billed; subcon.invttl += the invoice total and balttl = ctcttl - invttl.

Rules, with Sage's codes (relay/sage/port.py):
  * the job must exist, the vendor exist (12802) and be active (14050); the subcontract
    (subcon.recnum) must be on the job with the number and vendor the command names, and
    each line's subcontract line must be on it with the same cost code and cost type
    -> 12802, naming what differs; a subcontract Refused (2) or Closed (6) -> 14050;
  * the vendor's invoice numbers are unique (trimmed, case-insensitive, void invoices
    included) unless the vendor allows duplicates (actpay.dupchk) -> 14201 CONSTRAINT_FAILED
    (Sage's code for a document number already used: MBXML "Failed Coded Constraint", as
    for a PO number), the message naming the vendor, the number and the invoice holding it;
  * the invoice date must fall in an open posting period (periods.py: the company's
    posting year, locked periods and lock date) -> 14050 naming the period;
  * the job cost distribution must total the ledger total -> 14050 (posting.py);
  * a line number twice -> 12000; a blank invoice number, a description over 50
    characters, an amount or total outside decimal(12,2), a negative invoice total, a
    retention of another sign than its amount or larger than it -> 14050.
Billing a line past its contract is allowed (remain goes negative), as Sage records
what the subcontractor billed; Procore is where over-billing is prevented.
Nothing is written on any refusal: all of it is written or none.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.relay_protocol import PayableInvoicePayload
from relay.sage.embedded.periods import Periods
from relay.sage.embedded.posting import check_distribution, posting_period
from relay.sage.embedded.rules import (
    DESCRIPTION_MAX,
    _bindable,
    _check_job,
    _check_vendor,
    _guid,
    _invalid,
    _line_numbers,
    _money,
    _number,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.embedded.subcontracts import (
    SUBCONTRACT_CLOSED,
    as_money,
    check_subcontract_line,
    subcontract_on_job,
    sum_money,
    update_columns,
)
from relay.sage.port import CONSTRAINT_FAILED, INVALID_DATA, SageError

AP_SOURCE = 11  # source.recnum of the Accounts Payable journal (jobcst.srcnum)
CONTRACT = 1  # acpinv.invtyp 1 Contract
OPEN = 1  # acpinv.status 1 Open
POSTED = 1  # jobcst.status 1 Open (posted)


@dataclass(frozen=True)
class _Billed:
    """One invoice line, checked and in Sage's terms."""

    number: int  # apivln.linnum
    line: int  # sbcnln.linnum it bills
    description: str
    code: str  # "3300.000"
    cost_type: int
    amount: Decimal
    retention: Decimal


def _billed(payload: PayableInvoicePayload) -> list[_Billed]:
    """The command's lines checked as values (before any lock is taken)."""
    _line_numbers([line.line_number for line in payload.lines], "apivln")
    checked = []
    for line in payload.lines:
        where = f"line {line.line_number}"
        amount = _money(line.amount, f"{where} amount", "apivln.extttl")
        retention = _money(line.retention, f"{where} retention", "acpinv.retain")
        if retention and (retention * amount < 0 or abs(retention) > abs(amount)):
            raise _invalid(f"{where} withholds {retention} retention on {amount} of work; "
                           "retention is part of the amount billed, so it cannot be larger "
                           "than the amount or of the other sign (acpinv.retain)")
        checked.append(_Billed(
            number=line.line_number,
            line=line.subcontract_line,
            description=_text(line.description, DESCRIPTION_MAX, f"{where} description",
                              "apivln.prtdsc"),
            code=normalize_cost_code(line.cost_code),
            cost_type=line.cost_type,
            amount=amount,
            retention=retention,
        ))
    return checked


def _keys(recnum: int, invnum: str, postyr: int, actper: int) -> dict[str, str]:
    return {"acpinv": str(recnum), "invnum": invnum, "period": f"{postyr}-{actper:02d}"}


class Payables(Periods):
    """The port's payable invoice commands (a part of EmbeddedSage)."""

    # -- SagePort ------------------------------------------------------------------------------

    def add_payable_invoice(self, payload: PayableInvoicePayload) -> dict[str, str]:
        """Write acpinv + apivln + jobcst (and the subcontract's billed amounts) in one
        transaction; {"acpinv": recnum, "invnum": number, "period": "2025-03"}."""
        invnum = _number(payload.invoice_number, "invoice number", "acpinv.invnum")
        dscrpt = _text(payload.description, DESCRIPTION_MAX, "invoice description",
                       "acpinv.dscrpt")
        billed = _billed(payload)
        invttl = sum_money([b.amount for b in billed], "invoice total", "acpinv.invttl")
        if invttl < 0:
            raise _invalid(f"invoice {invnum} totals {invttl}; a subcontractor invoice "
                           "cannot be negative (acpinv.invttl): enter a credit in Sage")
        retain = sum_money([b.retention for b in billed], "invoice retention", "acpinv.retain")
        job, vendor, record = payload.job, payload.vendor, payload.subcontract

        with self._write() as conn:
            _check_job(conn, job)
            _check_vendor(conn, vendor)
            subcon = self._invoiced_subcontract(conn, payload)
            lines = {row["linnum"]: row for row in conn.execute(
                "SELECT * FROM sbcnln WHERE recnum = ? ORDER BY linnum", (record,))}
            for line in billed:
                check_subcontract_line(subcon, lines, label=f"invoice line {line.number}",
                                       verb="bills", line=line.line, code=line.code,
                                       cost_type=line.cost_type)
            self._check_invoice_number(conn, vendor, invnum)
            postyr, actper = self._period(conn, payload, invnum)
            check_distribution(invttl, [b.amount for b in billed])
            updates = self._billed_lines(subcon, lines, billed)
            totals = self._invoiced_totals(subcon, invttl)

            phase = int(subcon["phsnum"] or 0)
            recnum = self._next_recnum(conn, "acpinv")
            idnum = _guid()
            conn.execute(
                "INSERT INTO acpinv (_idnum, recnum, invnum, vndnum, jobnum, phsnum, ctcnum, "
                "dscrpt, invdte, duedte, invtyp, status, invttl, retain, setpay, amtpad, "
                "ttlpad, invbal, actper, postyr, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?)",
                (idnum, recnum, invnum, vendor, job, phase, subcon["ctcnum"], dscrpt,
                 _bindable(payload.invoice_date), _bindable(payload.due_date), CONTRACT,
                 OPEN, str(invttl), str(retain), str(invttl), actper, postyr, self.user),
            )
            conn.executemany(
                "INSERT INTO apivln (_idnum, _idref, recnum, linnum, prtdsc, linqty, linprc, "
                "extttl, actnum, subact, linref, insusr) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?, NULL, NULL, ?, ?)",
                # linref: the subcontract line the payable line bills (Sage's caption
                # "Subcontract Line Reference #")
                [(_guid(), idnum, recnum, b.number, b.description, str(b.amount),
                  str(b.amount), str(b.line), self.user) for b in billed],
            )
            first = self._next_recnum(conn, "jobcst")
            today = _bindable(self.today())
            conn.executemany(
                "INSERT INTO jobcst (_idnum, recnum, jobnum, phsnum, trnnum, trndte, entdte, "
                "dscrpt, cstcde, csttyp, cstamt, vndnum, srcnum, actprd, postyr, status, "
                "insusr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(_guid(), first + index, job, phase, invnum, _bindable(payload.invoice_date),
                  today, b.description, b.code, b.cost_type, str(b.amount), vendor, AP_SOURCE,
                  actper, postyr, POSTED, self.user) for index, b in enumerate(billed)],
            )
            for linnum, values in updates.items():
                update_columns(conn, self.user, "sbcnln", values, "recnum = ? AND linnum = ?",
                          (record, linnum))
            update_columns(conn, self.user, "subcon", totals, "recnum = ?", (record,))
        return _keys(recnum, invnum, postyr, actper)

    def find_payable_invoice(self, payload: PayableInvoicePayload) -> dict[str, str] | None:
        """The keys add_payable_invoice returned, if the vendor has an invoice of that
        number on the same job and subcontract with the same total (reconciliation), else
        None."""
        if not (_storable(payload.job) and _storable(payload.vendor)):
            return None
        try:
            total = sum_money([_money(line.amount, "amount", "apivln.extttl")
                          for line in payload.lines], "invoice total", "acpinv.invttl")
        except SageError:
            return None  # never written: add_payable_invoice refuses it
        with self._read() as conn:
            found = conn.execute(
                "SELECT recnum, invnum, invttl, actper, postyr FROM acpinv "
                "WHERE vndnum = ? AND jobnum = ? AND sage_fold(invnum) = sage_fold(?) "
                "AND sage_fold(ctcnum) = sage_fold(?) ORDER BY recnum",
                (payload.vendor, payload.job, payload.invoice_number,
                 payload.subcontract_number),
            ).fetchall()
        for row in found:
            if as_money(row["invttl"]) == total:
                return _keys(row["recnum"], row["invnum"], row["postyr"], row["actper"])
        return None

    # -- helpers (inside the write transaction) -------------------------------------------

    @staticmethod
    def _invoiced_subcontract(conn: sqlite3.Connection,
                              payload: PayableInvoicePayload) -> sqlite3.Row:
        """The subcon row the invoice bills, checked as Sage would."""
        row = subcontract_on_job(
            conn, record=payload.subcontract, job=payload.job,
            number=payload.subcontract_number, vendor=payload.vendor, names="the invoice",
            other_vendor="the invoice is from another vendor than the subcontractor")
        name = f"subcontract {payload.subcontract} {row['ctcnum']}"
        if row["status"] in SUBCONTRACT_CLOSED:
            raise _invalid(f"{name} is {SUBCONTRACT_CLOSED[row['status']]} in Sage "
                           f"(subcon.status {row['status']}) and takes no invoices; "
                           "reopen it in Sage first")
        return row

    @staticmethod
    def _check_invoice_number(conn: sqlite3.Connection, vendor: int, invnum: str) -> None:
        """Sage's duplicate invoice check: once per vendor unless actpay.dupchk allows."""
        who = conn.execute("SELECT vndnme, dupchk FROM actpay WHERE recnum = ?",
                           (vendor,)).fetchone()
        if who["dupchk"]:
            return
        used = conn.execute(
            "SELECT recnum, invdte FROM acpinv WHERE vndnum = ? "
            "AND sage_fold(invnum) = sage_fold(?) ORDER BY recnum", (vendor, invnum),
        ).fetchone()
        if used is not None:
            dated = f", dated {used['invdte']}" if used["invdte"] is not None else ""
            raise SageError(CONSTRAINT_FAILED, (
                f"Failed coded constraint: vendor {vendor} {who['vndnme']} already has an "
                f"invoice number {invnum} (payable invoice {used['recnum']}{dated}); "
                "an invoice number is used once per vendor unless the vendor allows "
                "duplicate invoice numbers (acpinv.invnum, actpay.dupchk)"))

    def _period(self, conn: sqlite3.Connection, payload: PayableInvoicePayload,
                invnum: str) -> tuple[int, int]:
        """(postyr, period) of the invoice date, or 14050 saying which invoice and why."""
        try:
            return posting_period(payload.invoice_date, self._periods(conn))
        except SageError as exc:
            raise SageError(INVALID_DATA, (
                f"{exc.message}; invoice {invnum} of vendor {payload.vendor} cannot be "
                "posted there (acpinv.invdte): date it in an open period or have the period "
                "unlocked in Sage")) from None

    @staticmethod
    def _billed_lines(subcon: sqlite3.Row, lines: dict[int, sqlite3.Row],
                      billed: list[_Billed]) -> dict[int, dict[str, Decimal]]:
        """linnum -> the new billed/remain of each subcontract line the invoice bills."""
        updates: dict[int, dict[str, Decimal]] = {}
        for line in billed:
            row = lines[line.line]
            before = updates.get(line.line, {"billed": as_money(row["billed"])})
            where = f"line {line.line} of subcontract {subcon['recnum']} {subcon['ctcnum']}"
            total = _money(before["billed"] + line.amount, f"{where} billed", "sbcnln.billed")
            remain = _money(as_money(row["cntrct"]) - total, f"{where} remaining",
                            "sbcnln.remain")
            updates[line.line] = {"billed": total, "remain": remain}
        return updates

    @staticmethod
    def _invoiced_totals(subcon: sqlite3.Row, invttl: Decimal) -> dict[str, Decimal]:
        """The subcontract's invttl and balttl after an invoice of ``invttl``."""
        name = f"subcontract {subcon['recnum']} {subcon['ctcnum']}"
        invoiced = _money(as_money(subcon["invttl"]) + invttl, f"{name} invoiced total",
                          "subcon.invttl")
        balttl = _money(as_money(subcon["ctcttl"]) - invoiced, f"{name} remaining total",
                        "subcon.balttl")
        return {"invttl": invoiced, "balttl": balttl}
