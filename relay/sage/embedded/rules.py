"""Sage 100 Contractor's validation rules, as the embedded Sage applies them, with Sage's
own error codes (relay/sage/port.py).

Rules enforced on commitments (subcontracts, purchase orders):
  * unknown job, phase, vendor, cost code or cost type -> 12802 INVALID_REFERENCE;
  * inactive vendor or cost code, blank or over-long numbers/descriptions, bad cost code
    format, amounts that do not fit decimal(12,2) -> 14050 INVALID_DATA;
  * the job's status is not a rule: Sage posts to a job whatever its status ("the job
    status ... does not affect your ability to post to a job", Sage's help, About job
    status), so a Closed or Refused job takes commitments like any other;
  * a subcontract number already used on the job, a PO number already used anywhere
    -> 14201 CONSTRAINT_FAILED; numbers compare case-insensitively and trimmed, like
    SQL Server's default collation;
  * a line number repeated within one document, or a seed row that exists -> 12000.
Contract and order dates (subcon.condte, pchord.orddte) are required by Sage; an add
without one gets today's date, as Sage's entry form starts a new record with it. "No
phase" is phase 0 (subcon.phsnum, pchord.phsnum are NOT NULL); a phase given as 0 means
no phase too.
Negative line amounts are allowed (Procore schedule-of-values lines can be credits) but
a document whose total is negative is refused (14050). Locked posting periods do not
apply to commitments; they are left for payable invoices.

Rules enforced on header modifies (a synced commitment changed in Procore):
  * the record (recnum) must exist on the job -> else 12802 INVALID_REFERENCE;
  * its number must still be the one given (case-insensitive), it must not be locked for
    editing (lckedt), and the description, status and retention must be storable as on an
    add -> else 14050 INVALID_DATA;
  * only the header changes (description, status, retention, date): never lines or
    amounts. A value given as None leaves its column as it is, and values the record
    already has are not written again, so a repeated modify changes nothing (not even
    upddte).

Rules enforced on master data added through the port (jobs, vendors):
  * a job or vendor number that exists -> 12000 DUPLICATE_KEY (the message names it);
  * blank names, over-long names (75), short names (30), addresses (50), cities (50),
    states (2), zip codes (10) or tax ids (64), numbers out of range -> 14050.
Vendor names need not be unique (Sage keys vendors by number only). A vendor without a
number gets the next one (highest + 1; 1 in an empty table), chosen inside the write
transaction so concurrent writers never collide. Optional text not given is stored as
'' (Sage's NOT NULL text columns), never NULL.

The vendor's federal tax id is stored in actpay.fedidn. That name is UNCONFIRMED: it is
the column third-party Sage 100 Contractor import templates use for "Federal ID No"
(String(64)), where Sage keeps it encrypted, so a SQL read of a real company may not
return it in clear text.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from relay.sage.port import DUPLICATE_KEY, INVALID_DATA, INVALID_REFERENCE, SageError
from relay.sage.reads import code_inactive

JOB_STATUS = {1: "Bid", 2: "Refused", 3: "Contract", 4: "Current", 5: "Complete", 6: "Closed"}

COST_TYPES = {
    1: "Material",
    2: "Labor",
    3: "Equipment",
    4: "Subcontract",
    5: "Other",
    6: "User Def Type 6",
    7: "User Def Type 7",
    8: "User Def Type 8",
    9: "User Def Type 9",
}

# Sage column widths that matter for commitments (reference/sage100c.md section 1).
NUMBER_MAX = 20  # subcon.ctcnum, pchord.ordnum
DESCRIPTION_MAX = 50  # subcon.dscrpt, pchord.dscrpt, sbcnln.dscrpt, pcorln.prtdsc
NAME_MAX = 75  # actrec.jobnme, actpay.vndnme
SHORT_NAME_MAX = 30  # actrec.shtnme, actpay.shtnme
PHASE_NAME_MAX = 50  # jobphs.phsnme
COST_CODE_NAME_MAX = 50  # cstcde.cdenme
UNIT_MAX = 10  # cstcde.untdsc
ADDRESS_MAX = 50  # addrs1, ctynme
STATE_MAX = 2  # state_
ZIP_MAX = 10  # zipcde
TAX_ID_MAX = 64  # actpay.fedidn nvarchar(64) (the protocol carries at most 20)
MAX_RECNUM = 9_999_999_999  # MBXML ObjectID range 0-9999999999

# decimal(15,3): positive, no leading 0, space or letter, at most 3 decimals.
_COST_CODE = re.compile(r"[1-9]\d{0,11}(\.\d{0,3})?")


# ---- value checks (pure: run before any lock is taken) -------------------------------------


def _invalid(message: str) -> SageError:
    return SageError(INVALID_DATA, f"Invalid data: {message}")


def _reference(message: str) -> SageError:
    return SageError(INVALID_REFERENCE, f"Invalid object reference: {message}")


def normalize_cost_code(code: str | int | Decimal) -> str:
    """Sage's cost code as text with three decimals ('3300' -> '3300.000'), or 14050.

    Sage stores cost codes as decimal(15,3) and refuses codes starting with 0, a space or
    a letter; the text form with three decimals is the key every table uses.
    """
    text = str(code)
    if not _COST_CODE.fullmatch(text):
        raise _invalid(
            f"cost code {text!r} is not a valid cost code; it must be a positive number that "
            "does not start with 0, a space or a letter, with at most 3 decimals "
            "(cstcde.recnum decimal(15,3))"
        )
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(3, '0')}"


def _decimal(value: Any, what: str, column: str, *, places: int, digits: int) -> Decimal:
    """``value`` as an exact Decimal that fits decimal(digits, places), or 14050."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise _invalid(f"{what} {value!r} is not a number ({column})") from None
    if not number.is_finite():
        raise _invalid(f"{what} {value} is not a number ({column})")
    if abs(number) >= Decimal(10) ** (digits - places):
        raise _invalid(f"{what} {number} is too large for {column} decimal({digits},{places})")
    exact = number.quantize(Decimal(1).scaleb(-places))
    if exact != number:
        raise _invalid(
            f"{what} {number} has more than {places} decimal places ({column} "
            f"decimal({digits},{places}))"
        )
    return exact


def _money(value: Any, what: str, column: str) -> Decimal:
    return _decimal(value, what, column, places=2, digits=12)


def _quantity(value: Any, what: str, column: str) -> Decimal:
    # Sage's exact precision for quantities and unit prices is UNCONFIRMED; 4 decimals.
    return _decimal(value, what, column, places=4, digits=14)


def _text(value: str, limit: int, what: str, column: str, *, required: bool = False) -> str:
    if required and not value.strip():
        raise _invalid(f"{what} is blank; {column} is required")
    if len(value) > limit:
        raise _invalid(
            f"{what} {value!r} is {len(value)} characters; {column} allows at most {limit}"
        )
    return value


def _number(value: str, what: str, column: str) -> str:
    """A document number (ctcnum, ordnum): trimmed, not blank, at most 20 characters."""
    return _text(value.strip(), NUMBER_MAX, what, column, required=True)


def _recnum(value: int, what: str, column: str) -> int:
    if not 1 <= value <= MAX_RECNUM:
        raise _invalid(f"{what} {value} is out of range 1-{MAX_RECNUM} ({column})")
    return value


def _status(value: int, column: str) -> int:
    """A commitment status 1-6 (subcon.status, pchord.status), or 14050."""
    if not 1 <= value <= 6:
        raise _invalid(f"status {value} is not 1-6 ({column})")
    return value


def _retention(value: Any) -> Decimal:
    """A retention rate 0-100 with at most two decimals (subcon.rtnrte), or 14050."""
    rate = _decimal(value, "retention rate", "subcon.rtnrte", places=2, digits=5)
    if not 0 <= rate <= 100:
        raise _invalid(f"retention rate {rate} is outside 0-100 (subcon.rtnrte)")
    return rate


def _bindable(value: Any) -> Any:
    """A value as it is bound for SQLite: a Decimal as its exact text (the DECIMAL column
    stores it as a number), a date as ISO text ('2025-03-01')."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _same(stored: Any, wanted: Any) -> bool:
    """Whether a column already holds ``wanted``: decimals compare as numbers (5.5 is
    5.50), dates as dates."""
    if isinstance(wanted, Decimal) and stored is not None:
        return Decimal(str(stored)) == wanted
    return bool(stored == wanted)


def _storable(key: int) -> bool:
    """Whether ``key`` can be a Sage record number (larger ints cannot even be queried)."""
    return 0 <= key <= MAX_RECNUM


def _fold(value: str | None) -> str | None:
    """How Sage compares names: trimmed and case-insensitive (SQL Server's collation)."""
    return None if value is None else value.strip().casefold()


def _short_name(short_name: str | None, name: str, what: str, column: str) -> str:
    """The short name given, else the name cut to 30 characters (as Sage's form does)."""
    if short_name is None:
        short_name = name[:SHORT_NAME_MAX].rstrip()
    return _text(short_name, SHORT_NAME_MAX, what, column)


def _address(table: str, address: str | None, city: str | None, state: str | None,
             zip_code: str | None) -> dict[str, str]:
    """addrs1, ctynme, state_, zipcde checked against Sage's widths (None is '')."""
    fields = (("addrs1", address, ADDRESS_MAX, "address"), ("ctynme", city, ADDRESS_MAX, "city"),
              ("state_", state, STATE_MAX, "state"), ("zipcde", zip_code, ZIP_MAX, "zip code"))
    return {column: _text(value or "", limit, what, f"{table}.{column}")
            for column, value, limit, what in fields}


def _guid() -> str:
    return str(uuid.uuid4()).upper()


def _line_numbers(numbers: list[int], table: str) -> None:
    seen: set[int] = set()
    for number in numbers:
        if number in seen:
            raise SageError(
                DUPLICATE_KEY, f"Duplicate key: line {number} appears twice ({table}.linnum)"
            )
        seen.add(number)


# ---- reference checks (inside the write transaction) ---------------------------------------


def _check_job(conn: sqlite3.Connection, job: int) -> None:
    """The job must exist; its status does not matter (Sage posts to a job of any status)."""
    row = None
    if _storable(job):
        row = conn.execute("SELECT 1 FROM actrec WHERE recnum = ?", (job,)).fetchone()
    if row is None:
        raise _reference(f"job {job} does not exist (actrec.recnum)")


def _check_phase(conn: sqlite3.Connection, job: int, phase: int | None) -> None:
    if not phase:  # None or 0: no phase
        return
    row = None
    if _storable(phase):
        row = conn.execute(
            "SELECT 1 FROM jobphs WHERE recnum = ? AND phsnum = ?", (job, phase)
        ).fetchone()
    if row is None:
        raise _reference(f"phase {phase} does not exist on job {job} (jobphs.phsnum)")


def _check_vendor(conn: sqlite3.Connection, vendor: int) -> None:
    row = None
    if _storable(vendor):
        row = conn.execute(
            "SELECT vndnme, inactv FROM actpay WHERE recnum = ?", (vendor,)
        ).fetchone()
    if row is None:
        raise _reference(f"vendor {vendor} does not exist (actpay.recnum)")
    if row["inactv"]:
        raise _invalid(
            f"vendor {vendor} {row['vndnme']} is inactive (actpay.inactv); "
            "reactivate the vendor or choose another"
        )


def _check_cost(conn: sqlite3.Connection, line: int, code: str, cost_type: int) -> None:
    row = conn.execute(
        "SELECT cdenme, inactv FROM cstcde WHERE recnum = ?", (code,)
    ).fetchone()
    if row is None:
        raise _reference(f"line {line} cost code {code} does not exist (cstcde.recnum)")
    if code_inactive(row["inactv"]):
        raise _invalid(
            f"line {line} cost code {code} {row['cdenme']} is inactive (cstcde.inactv)"
        )
    if conn.execute("SELECT 1 FROM csttyp WHERE recnum = ?", (cost_type,)).fetchone() is None:
        raise _reference(
            f"line {line} cost type {cost_type} does not exist (csttyp.recnum)"
        )
