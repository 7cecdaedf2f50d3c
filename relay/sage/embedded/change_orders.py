"""The embedded Sage's commitment change orders: a Procore CCO on a subcontract already in
Sage (prmchg + sbcgln, the subcontract's lines and totals following), a Procore CCO on a
purchase order (new pcorln lines appended to the original PO), and the look-ups the agent
reconciles them with (a part of EmbeddedSage).

A subcontract change order is one prmchg record (6-4-1: prime and subcontract changes in
one record) numbered by Sage: the job's next change number (posting.next_change_order_number
over the job's numbers with no phase, phsnum 0), dated ``change_date``, described by the
command's description (the Procore reference first), with one sbcgln line per change line
(bdgprc = the change, vndnum/vndctc = the vendor and subcon.recnum, ctclin = the
subcontract line, chgsts = the status). When the change order is Approved (status 1),
the subcontract follows in the same transaction, as Sage's help describes it (About change
order status; reference/sage100c.md section 2): a changed line gets change += amount,
cntrct = amount + change, remain = cntrct - billed; a new line becomes the subcontract's
next sbcnln line (original amount 0, change = cntrct = remain = the amount); subcon.chgttl
grows by the change order's total, ctcttl = cntttl + chgttl, balttl = ctcttl - invttl.
The original amounts (sbcnln.amount, subcon.cntttl) never change. A change order of any
other status (Open, Review, ...) is recorded without touching the subcontract, and a new
line of it gets no sbcnln line yet (ctclin NULL): Sage adds it when the change is approved.
An approved CCO whose command names ``join`` (a PCCO's change order of the same Procore
change event) adds its lines there when Sage takes them (cost_joins.py), else gets its own.

A purchase order change order, as Procore's connector exports it, appends lines to the
original PO: numbered after the PO's last pcorln line, pchttl and pchbal growing by their
total.

Rules, with Sage's codes (relay/sage/port.py):
  * the job must exist; the subcontract (subcon.recnum) must be on the job, with the
    number and vendor the command names; the purchase order (pchord.recnum) must have the
    number given and be on the job -> 12802, naming what differs;
  * a line naming a subcontract line that the subcontract does not have, or whose cost
    code or type differ from Sage's line -> 12802; a new line's cost code must exist and
    be active and its cost type exist -> 12802 (an inactive cost code 14050);
  * a subcontract or PO locked for editing (lckedt) -> 14050; a subcontract Refused (2)
    or Closed (6) -> 14050 (Bid, Contract, Current and Complete take changes: a completed
    subcontract still gets its closing changes); a PO Closed (4) or Void (5) -> 14050;
  * a description that does not start with the command's reference -> 14050 (the
    reference is how a change order written before a crash is found again);
  * every amount and every total that follows must fit decimal(12,2), quantities and
    prices decimal(14,4) -> 14050; a subcontract whose new contract (ctcttl) or a PO whose
    total (pchttl) would be negative -> 14050, as an add with a negative total is.
Each command is one transaction: all of it is written or none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.relay_protocol import PurchaseOrderChangePayload, SubcontractChangeOrderPayload
from relay.sage.embedded.cost_joins import (
    APPROVED,
    _check_reference,
    _starts_with,
    find_joined,
    joinable_for_costs,
    joined_description,
)
from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.posting import check_change_order_number, next_change_order_number
from relay.sage.embedded.rules import (
    DESCRIPTION_MAX,
    _bindable,
    _check_cost,
    _check_job,
    _guid,
    _invalid,
    _money,
    _quantity,
    _reference,
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

# Statuses whose records take no change order (codes: real_schema.json `codes`).
PURCHASE_ORDER_CLOSED = {4: "Closed", 5: "Void"}  # pchord.status


@dataclass(frozen=True)
class _Change:
    """One change line, checked and in Sage's terms."""

    number: int  # its position in the command, 1.. (sbcgln.linnum)
    line: int | None  # sbcnln.linnum it changes; None = a new line
    description: str
    code: str  # "3300.000"
    cost_type: int
    amount: Decimal  # + or -


@dataclass(frozen=True)
class _Added:
    """One purchase order line to append, checked."""

    number: int  # its position in the command, 1..
    description: str
    quantity: Decimal
    price: Decimal
    amount: Decimal
    code: str
    cost_type: int


def _changes(payload: SubcontractChangeOrderPayload) -> list[_Change]:
    """The command's lines checked as values (before any lock is taken)."""
    return [_Change(
        number=number,
        line=line.subcontract_line,
        description=_text(line.description, DESCRIPTION_MAX, f"line {number} description",
                          "sbcgln.dscrpt"),
        code=normalize_cost_code(line.cost_code),
        cost_type=line.cost_type,
        amount=_money(line.amount, f"line {number} amount", "sbcgln.bdgprc"),
    ) for number, line in enumerate(payload.lines, start=1)]


def _added(payload: PurchaseOrderChangePayload) -> list[_Added]:
    checked = []
    for number, line in enumerate(payload.lines, start=1):
        description = _text(line.description, DESCRIPTION_MAX, f"line {number} description",
                            "pcorln.prtdsc")
        checked.append(_Added(
            number=number,
            description=_check_reference(description, payload.reference,
                                         f"line {number} description", "pcorln.prtdsc"),
            quantity=_quantity(line.quantity, f"line {number} quantity", "pcorln.linqty"),
            price=_quantity(line.unit_price, f"line {number} unit price", "pcorln.linprc"),
            amount=_money(line.amount, f"line {number} amount", "pcorln.extttl"),
            code=normalize_cost_code(line.cost_code),
            cost_type=line.cost_type,
        ))
    return checked


class ChangeOrders(SageDatabase):
    """The port's change order commands (a part of EmbeddedSage)."""

    # -- SagePort: subcontract change orders ----------------------------------------------

    def add_subcontract_change_order(
            self, payload: SubcontractChangeOrderPayload) -> dict[str, str]:
        """Write prmchg + sbcgln (and, when Approved, the subcontract's lines and totals)
        in one transaction, into the ``join`` change order when Sage takes them there;
        {"prmchg": recnum, "chgnum": number, "subcon": recnum, "joined": "true"|"false"}."""
        description = _text(payload.description, DESCRIPTION_MAX,
                            "change order description", "prmchg.dscrpt")
        _check_reference(description, payload.reference, "change order description",
                         "prmchg.dscrpt")
        if not 1 <= payload.status <= 6:
            raise _invalid(f"change order status {payload.status} is not 1-6 (prmchg.status)")
        changes = _changes(payload)
        total = sum_money([c.amount for c in changes], "change order total", "prmchg.appamt")
        approved = payload.status == APPROVED
        job, record = payload.job, payload.subcontract

        with self._write() as conn:
            _check_job(conn, job)
            subcon = self._subcontract(conn, payload)
            lines = {row["linnum"]: row for row in conn.execute(
                "SELECT * FROM sbcnln WHERE recnum = ? ORDER BY linnum", (record,))}
            for change in changes:
                if change.line is None:
                    _check_cost(conn, change.number, change.code, change.cost_type)
                else:
                    check_subcontract_line(subcon, lines, label=f"line {change.number}",
                                           verb="changes", line=change.line,
                                           code=change.code, cost_type=change.cost_type)
            # New lines of an approved change order become the subcontract's next lines.
            following = max(lines, default=0) + 1
            ctclin: dict[int, int | None] = {}
            for change in changes:
                if change.line is not None:
                    ctclin[change.number] = change.line
                elif approved:
                    ctclin[change.number] = following
                    following += 1
                else:
                    ctclin[change.number] = None
            updates: dict[int, dict[str, Decimal]] = {}
            header: dict[str, Decimal] = {}
            if approved:
                updates = self._line_updates(subcon, lines, changes)
                header = self._totals(subcon, total)

            joined = joinable_for_costs(conn, payload.join, job, payload.status)
            if joined is not None:  # a PCCO's: its amounts stay, its cost is these lines
                recnum, idnum, chgnum = joined["recnum"], joined["_idnum"], joined["chgnum"]
                update_columns(conn, self.user, "prmchg", {"cstamt": total}, "recnum = ?",
                               (recnum,))
            else:
                taken = [row[0] for row in conn.execute(
                    "SELECT chgnum FROM prmchg WHERE jobnum = ? AND phsnum = 0", (job,))]
                chgnum = check_change_order_number(next_change_order_number(taken), taken)
                recnum, idnum = self._next_recnum(conn, "prmchg"), _guid()
                conn.execute(
                    "INSERT INTO prmchg (_idnum, recnum, chgnum, chgdte, jobnum, phsnum, "
                    "dscrpt, status, appamt, cstamt, aprdte, insusr) "
                    "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                    (idnum, recnum, chgnum, _bindable(payload.change_date), job, description,
                     payload.status, str(total), str(total),
                     _bindable(payload.change_date) if approved else None, self.user))
            conn.executemany(
                "INSERT INTO sbcgln (_idnum, _idref, recnum, linnum, dscrpt, bdgprc, vndnum, "
                "vndctc, ctclin, chgsts, cstcde, csttyp, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(_guid(), idnum, recnum, c.number,
                  joined_description(c.description, payload.reference) if joined is not None
                  else c.description, str(c.amount),
                  payload.vendor, record, ctclin[c.number], payload.status, c.code,
                  c.cost_type, self.user) for c in changes],
            )
            if approved:
                for linnum, values in updates.items():
                    update_columns(conn, self.user, "sbcnln", values, "recnum = ? AND linnum = ?",
                                 (record, linnum))
                conn.executemany(
                    "INSERT INTO sbcnln (_idnum, _idref, recnum, linnum, dscrpt, cstcde, "
                    "csttyp, amount, change, cntrct, billed, remain, insusr) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?, ?)",
                    [(_guid(), subcon["_idnum"], record, ctclin[c.number], c.description,
                      c.code, c.cost_type, str(c.amount), str(c.amount), str(c.amount),
                      self.user) for c in changes if c.line is None],
                )
                update_columns(conn, self.user, "subcon", header, "recnum = ?", (record,))
        return {"prmchg": str(recnum), "chgnum": str(chgnum), "subcon": str(record),
                "joined": "true" if joined is not None else "false"}

    def find_subcontract_change_order(
            self, payload: SubcontractChangeOrderPayload) -> dict[str, str] | None:
        """The keys add_subcontract_change_order returned, if the job has a change order
        whose description starts with the command's reference and whose lines are on the
        same subcontract, or whose lines on it start with the reference (joined to a
        PCCO's; reconciliation), else None."""
        if not (_storable(payload.job) and _storable(payload.subcontract)):
            return None
        with self._read() as conn:
            found = conn.execute(
                "SELECT recnum, chgnum, dscrpt FROM prmchg WHERE jobnum = ? ORDER BY recnum",
                (payload.job,),
            ).fetchall()
            for row in found:
                if not _starts_with(row["dscrpt"], payload.reference):
                    continue
                on_subcontract = conn.execute(
                    "SELECT 1 FROM sbcgln WHERE recnum = ? AND vndctc = ?",
                    (row["recnum"], payload.subcontract),
                ).fetchone()
                if on_subcontract is not None:
                    return {"prmchg": str(row["recnum"]), "chgnum": row["chgnum"],
                            "subcon": str(payload.subcontract), "joined": "false"}
            return find_joined(conn, payload.job, payload.subcontract, payload.reference)

    # -- SagePort: purchase order change orders -------------------------------------------

    def append_purchase_order_lines(
            self, payload: PurchaseOrderChangePayload) -> dict[str, str]:
        """Append pcorln lines to the PO after its last line, pchttl and pchbal following,
        in one transaction; {"pchord": recnum, "lines": "first-last"}."""
        added = _added(payload)
        total = sum_money([line.amount for line in added], "change order total", "pchord.pchttl")
        with self._write() as conn:
            _check_job(conn, payload.job)
            order = self._purchase_order(conn, payload)
            for line in added:
                _check_cost(conn, line.number, line.code, line.cost_type)
            pchttl = _money(as_money(order["pchttl"]) + total, "purchase order total",
                            "pchord.pchttl")
            if pchttl < 0:
                raise _invalid(
                    f"purchase order {order['recnum']} {order['ordnum']} would total {pchttl} "
                    f"with these lines; a purchase order total cannot be negative "
                    "(pchord.pchttl)")
            pchbal = _money(as_money(order["pchbal"]) + total, "purchase order balance",
                            "pchord.pchbal")
            last = conn.execute("SELECT MAX(linnum) FROM pcorln WHERE recnum = ?",
                                (order["recnum"],)).fetchone()[0]
            first = 1 if last is None else int(last) + 1
            conn.executemany(
                "INSERT INTO pcorln (_idnum, _idref, recnum, linnum, prtdsc, linqty, linprc, "
                "extttl, rcvdte, cancel, cstcde, csttyp, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
                [(_guid(), order["_idnum"], order["recnum"], first + index, line.description,
                  str(line.quantity), str(line.price), str(line.amount), line.code,
                  line.cost_type, self.user) for index, line in enumerate(added)],
            )
            update_columns(conn, self.user, "pchord", {"pchttl": pchttl, "pchbal": pchbal},
                           "recnum = ?", (order["recnum"],))
        return {"pchord": str(payload.order), "lines": f"{first}-{first + len(added) - 1}"}

    def find_purchase_order_lines(
            self, payload: PurchaseOrderChangePayload) -> dict[str, str] | None:
        """The keys append_purchase_order_lines returned, if the PO has lines whose
        description starts with the command's reference (reconciliation), else None."""
        if not _storable(payload.order):
            return None
        with self._read() as conn:
            found = conn.execute(
                "SELECT linnum, prtdsc FROM pcorln WHERE recnum = ? ORDER BY linnum",
                (payload.order,),
            ).fetchall()
        numbers = [row["linnum"] for row in found
                   if _starts_with(row["prtdsc"], payload.reference)]
        if not numbers:
            return None
        return {"pchord": str(payload.order), "lines": f"{numbers[0]}-{numbers[-1]}"}

    # -- helpers (inside the write transaction) -------------------------------------------

    @staticmethod
    def _subcontract(conn: sqlite3.Connection,
                     payload: SubcontractChangeOrderPayload) -> sqlite3.Row:
        """The subcon row the change order is for, checked as Sage would."""
        row = subcontract_on_job(conn, record=payload.subcontract, job=payload.job,
                                 number=payload.subcontract_number, vendor=payload.vendor,
                                 names="the change order",
                                 other_vendor="the change order names another vendor")
        name = f"subcontract {payload.subcontract} {row['ctcnum']}"
        if row["lckedt"]:
            raise _invalid(f"{name} is locked for editing in Sage (subcon.lckedt); someone "
                           "with access to the subcontract must unlock it before a change "
                           "order can be written")
        if row["status"] in SUBCONTRACT_CLOSED:
            raise _invalid(f"{name} is {SUBCONTRACT_CLOSED[row['status']]} in Sage "
                           f"(subcon.status {row['status']}) and takes no change orders; "
                           "reopen it in Sage first")
        return row

    @staticmethod
    def _line_updates(subcon: sqlite3.Row, lines: dict[int, sqlite3.Row],
                      changes: Sequence[_Change]) -> dict[int, dict[str, Decimal]]:
        """linnum -> the new change/cntrct/remain of each existing line changed."""
        updates: dict[int, dict[str, Decimal]] = {}
        for change in changes:
            if change.line is None:
                continue
            row = lines[change.line]
            before = updates.get(change.line, {"change": as_money(row["change"])})
            where = (f"line {change.number} (line {change.line} of subcontract "
                     f"{subcon['recnum']})")
            new_change = _money(before["change"] + change.amount, f"{where} changes",
                                "sbcnln.change")
            cntrct = _money(as_money(row["amount"]) + new_change, f"{where} new contract",
                            "sbcnln.cntrct")
            remain = _money(cntrct - as_money(row["billed"]), f"{where} remaining",
                            "sbcnln.remain")
            updates[change.line] = {"change": new_change, "cntrct": cntrct, "remain": remain}
        return updates

    @staticmethod
    def _totals(subcon: sqlite3.Row, total: Decimal) -> dict[str, Decimal]:
        """The subcontract's chgttl, ctcttl and balttl after an approved change of
        ``total``."""
        name = f"subcontract {subcon['recnum']} {subcon['ctcnum']}"
        chgttl = _money(as_money(subcon["chgttl"]) + total, f"{name} changes total",
                        "subcon.chgttl")
        ctcttl = _money(as_money(subcon["cntttl"]) + chgttl, f"{name} new contract total",
                        "subcon.ctcttl")
        if ctcttl < 0:
            raise _invalid(f"{name} would have a new contract total of {ctcttl} with this "
                           "change order; a subcontract total cannot be negative "
                           "(subcon.ctcttl)")
        balttl = _money(ctcttl - as_money(subcon["invttl"]), f"{name} remaining total",
                        "subcon.balttl")
        return {"chgttl": chgttl, "ctcttl": ctcttl, "balttl": balttl}

    @staticmethod
    def _purchase_order(conn: sqlite3.Connection,
                        payload: PurchaseOrderChangePayload) -> sqlite3.Row:
        """The pchord row the lines are for, checked as Sage would."""
        record, job = payload.order, payload.job
        row: sqlite3.Row | None = None
        if _storable(record):
            row = conn.execute("SELECT * FROM pchord WHERE recnum = ?", (record,)).fetchone()
        if row is None:
            raise _reference(f"purchase order {record} does not exist (pchord.recnum)")
        name = f"purchase order {record} {row['ordnum']}"
        wanted = payload.number.strip()
        if row["ordnum"].strip().casefold() != wanted.casefold():
            raise _reference(f"purchase order {record} is number {row['ordnum']!r} in Sage, "
                             f"not {wanted!r}: the change order names another purchase order "
                             "(pchord.ordnum)")
        if row["jobnum"] != job:
            raise _reference(f"{name} is on job {row['jobnum']} in Sage, not job {job} "
                             "(pchord.jobnum)")
        if row["lckedt"]:
            raise _invalid(f"{name} is locked for editing in Sage (pchord.lckedt); someone "
                           "with access to the purchase order must unlock it before lines "
                           "can be added")
        if row["status"] in PURCHASE_ORDER_CLOSED:
            raise _invalid(f"{name} is {PURCHASE_ORDER_CLOSED[row['status']]} in Sage "
                           f"(pchord.status {row['status']}) and takes no new lines; "
                           "reopen it in Sage first")
        return row
