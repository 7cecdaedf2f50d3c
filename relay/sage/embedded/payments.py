"""The embedded Sage's vendor payments: a payment of a payable invoice, as Sage's 4-3
Vendor Payments records it (a part of EmbeddedSage).

Not an agent command: the connector never pays an invoice, it pulls the payments Sage
recorded (``payments``, relay/sage/reads.py). ``pay_invoice`` is how tests and the demo
have the embedded company pay one. In one transaction:
  * acppmt: _idnum a new uniqueidentifier (the payment id, returned), _idref = the
    invoice's acpinv._idnum, recnum = acpinv.recnum, chknum, chkdte, amount, dsctkn 0;
  * acpinv: amtpad += amount, ttlpad += amount, invbal -= amount, and status 4 Paid when
    the balance reaches 0 (Sage sets Paid itself when an invoice is fully paid:
    reference/sage100c.md section 2).

Rules, with Sage's codes: an invoice that does not exist -> 12802; a Void invoice (5), an
amount that is not positive, has more than 2 decimals or is larger than the invoice's
balance (a Paid invoice has none), a check number over 20 characters, a date that is
not one -> 14050. Nothing is written on a refusal. The payment's posting period and the
cash account are not modelled.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.rules import (
    _bindable,
    _guid,
    _invalid,
    _money,
    _reference,
    _storable,
    _text,
)
from relay.sage.embedded.subcontracts import as_money

PAID = 4  # acpinv.status 4 Paid
VOID = 5  # acpinv.status 5 Void
CHECK_NUMBER_MAX = 20  # acppmt.chknum nvarchar(20)


def _payment_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid(f"payment date {value!r} is not a date (acppmt.chkdte)") from None


class Payments(SageDatabase):
    """Vendor payments of payable invoices (tests and the demo; not a port command)."""

    def pay_invoice(self, invoice_recnum: int, *, check_number: str, date: dt.date | str,
                    amount: Decimal | str | int) -> str:
        """Pay ``amount`` of payable invoice ``invoice_recnum`` by check ``check_number``
        on ``date`` (a date or "YYYY-MM-DD"): acppmt + the invoice's paid amounts and
        balance, in one transaction; returns the payment id (acppmt._idnum)."""
        paid = _money(amount, "payment amount", "acppmt.amount")
        if paid <= 0:
            raise _invalid(f"payment amount {paid} must be positive (acppmt.amount)")
        chknum = _text(check_number.strip(), CHECK_NUMBER_MAX, "check number", "acppmt.chknum")
        chkdte = _payment_date(date)

        with self._write() as conn:
            invoice = None
            if _storable(invoice_recnum):
                invoice = conn.execute(
                    "SELECT _idnum, recnum, invnum, vndnum, status, amtpad, ttlpad, invbal "
                    "FROM acpinv WHERE recnum = ?", (invoice_recnum,)).fetchone()
            if invoice is None:
                raise _reference(f"payable invoice {invoice_recnum} does not exist "
                                 "(acpinv.recnum)")
            name = (f"payable invoice {invoice['recnum']} {invoice['invnum']} of vendor "
                    f"{invoice['vndnum']}")
            if invoice["status"] == VOID:
                raise _invalid(f"{name} is Void (acpinv.status 5) and takes no payment")
            balance = as_money(invoice["invbal"])
            if paid > balance:
                raise _invalid(f"a payment of {paid} is more than the {balance} balance of "
                               f"{name} (acpinv.invbal)")
            invbal = _money(balance - paid, f"{name} balance", "acpinv.invbal")
            amtpad = _money(as_money(invoice["amtpad"]) + paid, f"{name} paid", "acpinv.amtpad")
            ttlpad = _money(as_money(invoice["ttlpad"]) + paid, f"{name} total paid",
                            "acpinv.ttlpad")
            status = PAID if invbal == 0 else invoice["status"]

            idnum = _guid()
            conn.execute(
                "INSERT INTO acppmt (_idnum, _idref, recnum, chknum, chkdte, amount, dsctkn, "
                "insusr) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                (idnum, invoice["_idnum"], invoice["recnum"], chknum, _bindable(chkdte),
                 _bindable(paid), self.user),
            )
            conn.execute(
                "UPDATE acpinv SET amtpad = ?, ttlpad = ?, invbal = ?, status = ?, updusr = ? "
                "WHERE recnum = ?",
                (_bindable(amtpad), _bindable(ttlpad), _bindable(invbal), status, self.user,
                 invoice["recnum"]),
            )
        return idnum
