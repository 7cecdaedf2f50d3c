"""The embedded Sage's prime contract change orders: an approved Procore PCCO as a Sage
change order (prmchg + pmcgln prime lines) and the look-up the agent reconciles it with (a
part of EmbeddedSage).

Sage keeps prime and subcontract changes in one change order (6-4-1): prime lines
(pmcgln: what the owner pays) and budget/subcontract lines (sbcgln: what it costs). So a
PCCO meets the CCOs of its Procore change event in one Sage change order when it can:

  * The command names ``join``: the prmchg a CCO of the same change event wrote (the
    connector picks it, chalicelib/kinds/pcco.py). Its prime lines go there when that
    change order is still one Sage adds prime lines to: on the command's job, no phase
    (phsnum 0, as the connector writes them), Approved (status 1: an Open, Review,
    Disputed, Void or Rejected change order was changed in Sage after the CCO wrote it,
    and an approved owner change is not mixed into it), and without prime lines yet (one
    PCCO per Sage change order). The header then says what the owner approved: reqamt =
    appamt = the prime lines' total; its cost amount (cstamt, the CCO's lines), number,
    date and description stay.
  * Otherwise (no ``join``, or it is not joinable) the PCCO gets a change order of its
    own, numbered by Sage as the job's next chgnum (no phase), dated ``change_date``,
    Approved (status 1, aprdte = the date), described by the command's description (the
    PCCO reference first), reqamt = appamt = the lines' total, cstamt 0.

Each prime line is one pmcgln row (reqprc = aprprc = the amount, linnum after the change
order's last prime line), its description starting with the PCCO reference: that is how
the agent finds the lines after a crash, joined or not. The job's contract (actrec.cntrct)
does not follow: Sage keeps the original contract on the job and reports approved change
orders beside it (docs/decisions.md, "PCCOs in Sage's change orders").

Rules, with Sage's codes (relay/sage/port.py): the job must exist -> 12802; a line's cost
code must exist and be active and its cost type exist -> 12802 (inactive 14050); the
description and every line's must start with the reference -> 14050; descriptions over 50
characters, amounts or the total outside decimal(12,2) -> 14050. One transaction: all of
it is written or none.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.relay_protocol import PrimeChangeOrderPayload
from relay.sage.embedded.change_orders import APPROVED, _check_reference, _starts_with
from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.posting import check_change_order_number, next_change_order_number
from relay.sage.embedded.rules import (
    DESCRIPTION_MAX,
    _bindable,
    _check_cost,
    _check_job,
    _guid,
    _money,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.embedded.subcontracts import sum_money, update_columns


@dataclass(frozen=True)
class _PrimeLine:
    number: int  # its position in the command, 1..
    description: str
    code: str
    cost_type: int
    amount: Decimal


def _prime_lines(payload: PrimeChangeOrderPayload) -> list[_PrimeLine]:
    checked = []
    for number, line in enumerate(payload.lines, start=1):
        description = _text(line.description, DESCRIPTION_MAX, f"line {number} description",
                            "pmcgln.dscrpt")
        checked.append(_PrimeLine(
            number=number,
            description=_check_reference(description, payload.reference,
                                         f"line {number} description", "pmcgln.dscrpt"),
            code=normalize_cost_code(line.cost_code), cost_type=line.cost_type,
            amount=_money(line.amount, f"line {number} amount", "pmcgln.aprprc")))
    return checked


class PrimeChanges(SageDatabase):
    """The port's prime change order command (a part of EmbeddedSage)."""

    def add_prime_change_order(self, payload: PrimeChangeOrderPayload) -> dict[str, str]:
        """Write the PCCO's pmcgln lines into the ``join`` change order when Sage takes
        them there, else into a prmchg of its own, in one transaction;
        {"prmchg": recnum, "chgnum": number, "joined": "true" | "false", "lines": "a-b"}."""
        description = _text(payload.description, DESCRIPTION_MAX, "change order description",
                            "prmchg.dscrpt")
        _check_reference(description, payload.reference, "change order description",
                         "prmchg.dscrpt")
        lines = _prime_lines(payload)
        total = sum_money([line.amount for line in lines], "change order total",
                          "prmchg.appamt")
        job = payload.job
        with self._write() as conn:
            _check_job(conn, job)
            for line in lines:
                _check_cost(conn, line.number, line.code, line.cost_type)
            joined = self._joinable(conn, payload.join, job)
            if joined is not None:
                recnum, idnum, chgnum = joined["recnum"], joined["_idnum"], joined["chgnum"]
                update_columns(conn, self.user, "prmchg",
                               {"reqamt": total, "appamt": total}, "recnum = ?", (recnum,))
            else:
                taken = [row[0] for row in conn.execute(
                    "SELECT chgnum FROM prmchg WHERE jobnum = ? AND phsnum = 0", (job,))]
                chgnum = check_change_order_number(next_change_order_number(taken), taken)
                recnum, idnum = self._next_recnum(conn, "prmchg"), _guid()
                conn.execute(
                    "INSERT INTO prmchg (_idnum, recnum, chgnum, chgdte, jobnum, phsnum, "
                    "dscrpt, status, reqamt, appamt, cstamt, aprdte, insusr) "
                    "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 0, ?, ?)",
                    (idnum, recnum, chgnum, _bindable(payload.change_date), job, description,
                     APPROVED, str(total), str(total), _bindable(payload.change_date),
                     self.user))
            last = conn.execute("SELECT MAX(linnum) FROM pmcgln WHERE recnum = ?",
                                (recnum,)).fetchone()[0]
            first = 1 if last is None else int(last) + 1
            conn.executemany(
                "INSERT INTO pmcgln (_idnum, _idref, recnum, linnum, dscrpt, reqprc, aprprc, "
                "cstcde, csttyp, insusr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(_guid(), idnum, recnum, first + index, line.description, str(line.amount),
                  str(line.amount), line.code, line.cost_type, self.user)
                 for index, line in enumerate(lines)])
        return {"prmchg": str(recnum), "chgnum": str(chgnum),
                "joined": "true" if joined is not None else "false",
                "lines": f"{first}-{first + len(lines) - 1}"}

    def find_prime_change_order(
            self, payload: PrimeChangeOrderPayload) -> dict[str, str] | None:
        """The keys add_prime_change_order returned, if a change order of the job has prime
        lines whose descriptions start with the command's reference (reconciliation),
        else None."""
        if not _storable(payload.job):
            return None
        with self._read() as conn:
            rows = conn.execute(
                "SELECT p.recnum, p.chgnum, p.dscrpt AS header, l.linnum, l.dscrpt "
                "FROM prmchg p JOIN pmcgln l ON l.recnum = p.recnum "
                "WHERE p.jobnum = ? ORDER BY p.recnum, l.linnum", (payload.job,)).fetchall()
        found = [row for row in rows if _starts_with(row["dscrpt"], payload.reference)]
        if not found:
            return None
        recnum = found[0]["recnum"]
        numbers = [row["linnum"] for row in found if row["recnum"] == recnum]
        joined = not _starts_with(found[0]["header"], payload.reference)
        return {"prmchg": str(recnum), "chgnum": str(found[0]["chgnum"]),
                "joined": "true" if joined else "false",
                "lines": f"{numbers[0]}-{numbers[-1]}"}

    @staticmethod
    def _joinable(conn: sqlite3.Connection, join: int | None,
                  job: int) -> sqlite3.Row | None:
        """The prmchg row to add prime lines to, or None when Sage does not take them
        there (see the module's rules)."""
        if join is None or not _storable(join):
            return None
        row = conn.execute("SELECT * FROM prmchg WHERE recnum = ?", (join,)).fetchone()
        if row is None or row["jobnum"] != job or row["phsnum"] != 0 or \
                row["status"] != APPROVED:
            return None
        has_prime = conn.execute("SELECT 1 FROM pmcgln WHERE recnum = ? LIMIT 1",
                                 (join,)).fetchone()
        return None if has_prime is not None else row
