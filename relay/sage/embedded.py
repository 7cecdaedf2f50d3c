"""The embedded Sage 100 Contractor company database: SQLite with Sage's own layout.

It is the default behind relay/sage/port.py so the whole connector runs and is tested
without a Sage server. Tables and columns carry Sage's real names (schema.sql), and writes
apply the rules a real Sage applies, refusing with Sage's own error codes, so the agent
and the cloud see the same outcomes they will see against the real product.

Concurrency: a new connection per operation, WAL journal, and ``BEGIN IMMEDIATE`` for
every write, so the agent's threads and a CLI in another process can share one file;
each write (header plus lines) is a single transaction. A write that cannot get the lock
within ``timeout`` seconds raises SageError(UNAVAILABLE, retryable=True).

Money is stored as exact decimal text ("1500.00") and read back as ``Decimal``.

Rules enforced on commitments (subcontracts, purchase orders):
  * unknown job, phase, vendor, cost code or cost type -> 12802 INVALID_REFERENCE;
  * inactive vendor or cost code, job Closed (6) or Refused (2), blank or over-long
    numbers/descriptions, bad cost code format, amounts that do not fit decimal(12,2)
    -> 14050 INVALID_DATA;
  * a subcontract number already used on the job, a PO number already used anywhere
    -> 14201 CONSTRAINT_FAILED; numbers compare case-insensitively and trimmed, like
    SQL Server's default collation;
  * a line number repeated within one document, or a seed row that exists -> 12000.
Contract and order dates (subcon.condte, pchord.orddte) are stored as ISO text and may
be empty for now.
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
  * a vendor whose name matches an existing vendor's (trimmed, case-insensitive) -> 14201;
  * blank names, over-long names (75), short names (30), addresses (50), cities (50),
    states (2), zip codes (10) or tax ids (20), numbers out of range -> 14050.
A vendor without a number gets the next free one (highest + 1, 1000 in an empty table),
chosen inside the write transaction so concurrent writers never collide.

The vendor's federal tax id is stored in actpay.fedidn. That name is UNCONFIRMED: it is
the column third-party Sage 100 Contractor import templates use for "Federal ID No"
(String(64)), where Sage keeps it encrypted, so a SQL read of a real company may not
return it in clear text.

Pulls (``read``) page through jobs, vendors, cost codes, cost types and phases in key
order with an opaque cursor holding the last key returned (keyset pagination: a page is
never shifted by rows added before it).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from chalicelib.relay_protocol import (
    JobPayload,
    PurchaseOrderHeaderPayload,
    PurchaseOrderPayload,
    SubcontractHeaderPayload,
    SubcontractPayload,
    VendorPayload,
)
from relay.sage.port import (
    CONSTRAINT_FAILED,
    DUPLICATE_KEY,
    INVALID_DATA,
    INVALID_REFERENCE,
    UNAVAILABLE,
    SageError,
)

SCHEMA_FILE = Path(__file__).with_name("schema.sql")

# Column types named DECTEXT hold exact decimal text; read them back as Decimal.
# (The converter applies only to columns declared DECTEXT, on connections opened here.)
sqlite3.register_converter("DECTEXT", lambda raw: Decimal(raw.decode()))

JOB_STATUS = {1: "Bid", 2: "Refused", 3: "Contract", 4: "Current", 5: "Complete", 6: "Closed"}
CLOSED_JOB_STATUSES = (2, 6)  # Refused, Closed: a closed record takes no new commitments

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
ADDRESS_MAX = 50  # addrs1, ctynme
STATE_MAX = 2  # state_
ZIP_MAX = 10  # zipcde
TAX_ID_MAX = 20  # actpay.fedidn as the protocol carries it (Sage's column is wider)
FIRST_VENDOR = 1000  # the first number handed out when no vendor exists yet
MAX_RECNUM = 9_999_999_999  # MBXML ObjectID range 0-9999999999

# decimal(15,3): positive, no leading 0, space or letter, at most 3 decimals.
_COST_CODE = re.compile(r"[1-9]\d{0,11}(\.\d{0,3})?")

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
# Columns added after a database file may have been created: init() adds them if missing.
_ADDED_COLUMNS = (("actpay", "fedidn", "TEXT"), ("subcon", "condte", "TEXT"),
                  ("pchord", "orddte", "TEXT"))
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


# ---- value checks (pure: run before any lock is taken) -------------------------------------


def _invalid(message: str) -> SageError:
    return SageError(INVALID_DATA, f"Invalid data: {message}")


def _invalid_closed(message: str) -> SageError:
    """A closed record: Sage's 14050 with the record named first ("Job 23099 is Closed; ...")."""
    return SageError(INVALID_DATA, message)


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


def _iso_date(value: date | None) -> str | None:
    """A date as Sage's date column holds it here: ISO text ('2025-03-01'), or None."""
    return None if value is None else value.isoformat()


def _as_stored(value: Any) -> Any:
    """A column value as its text is stored (DECTEXT reads back as Decimal)."""
    return str(value) if isinstance(value, Decimal) else value


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
             zip_code: str | None) -> dict[str, str | None]:
    """addrs1, ctynme, state_, zipcde checked against Sage's widths (None stays None)."""
    fields = (("addrs1", address, ADDRESS_MAX, "address"), ("ctynme", city, ADDRESS_MAX, "city"),
              ("state_", state, STATE_MAX, "state"), ("zipcde", zip_code, ZIP_MAX, "zip code"))
    return {column: None if value is None else _text(value, limit, what, f"{table}.{column}")
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


# ---- pulls: what each readable list is and how its cursor works -----------------------------


def _bad_cursor(cursor: str, table: str) -> ValueError:
    return ValueError(f"cursor {cursor!r} is not a {table} cursor")


def _after_int(cursor: str, table: str) -> tuple[str, tuple[Any, ...]]:
    try:
        return "recnum > ?", (int(cursor),)
    except ValueError:
        raise _bad_cursor(cursor, table) from None


def _after_code(cursor: str, table: str) -> tuple[str, tuple[Any, ...]]:
    # Codes are stored as '3300.000' (no leading zero, three decimals), so decimal order is
    # (length, text) order: exact, with no float in between.
    if not re.fullmatch(r"[1-9]\d*\.\d{3}", cursor):
        raise _bad_cursor(cursor, table)
    return ("(length(recnum) > ? OR (length(recnum) = ? AND recnum > ?))",
            (len(cursor), len(cursor), cursor))


def _after_phase(cursor: str, table: str) -> tuple[str, tuple[Any, ...]]:
    try:
        job, phase = (int(part) for part in cursor.split(":"))
    except ValueError:
        raise _bad_cursor(cursor, table) from None
    return "(recnum, phsnum) > (?, ?)", (job, phase)


@dataclass(frozen=True)
class _ReadSpec:
    """One pullable list: its Sage table, key order, cursor and row shape (relay_protocol)."""

    name: str
    table: str
    columns: str
    order: str
    after_key: Callable[[str, str], tuple[str, tuple[Any, ...]]]
    shape: Callable[[sqlite3.Row], dict[str, Any]]
    key: Callable[[sqlite3.Row], str]  # the cursor: the last row's key, as text


def _recnum_key(row: sqlite3.Row) -> str:
    return str(row["recnum"])


_READS: dict[str, _ReadSpec] = {spec.name: spec for spec in (
    _ReadSpec("jobs", "actrec", "recnum, jobnme, shtnme, status, addrs1, ctynme, state_, zipcde",
              "recnum", _after_int, lambda r: {
                  "job": r["recnum"], "name": r["jobnme"], "short_name": r["shtnme"],
                  "status": r["status"], "address": r["addrs1"], "city": r["ctynme"],
                  "state": r["state_"], "zip_code": r["zipcde"]}, _recnum_key),
    _ReadSpec("vendors", "actpay",
              "recnum, vndnme, shtnme, inactv, fedidn, addrs1, ctynme, state_, zipcde",
              "recnum", _after_int, lambda r: {
                  "vendor": r["recnum"], "name": r["vndnme"], "short_name": r["shtnme"],
                  "inactive": bool(r["inactv"]), "tax_id": r["fedidn"],
                  "address": r["addrs1"], "city": r["ctynme"], "state": r["state_"],
                  "zip_code": r["zipcde"]}, _recnum_key),
    _ReadSpec("cost_codes", "cstcde", "recnum, cdenme, untdsc, inactv",
              "length(recnum), recnum", _after_code, lambda r: {
                  "code": r["recnum"], "name": r["cdenme"], "unit": r["untdsc"],
                  "inactive": bool(r["inactv"])}, _recnum_key),
    _ReadSpec("cost_types", "csttyp", "recnum, typnme", "recnum", _after_int,
              lambda r: {"type": r["recnum"], "name": r["typnme"]}, _recnum_key),
    _ReadSpec("phases", "jobphs", "recnum, phsnum, phsnme", "recnum, phsnum", _after_phase,
              lambda r: {"job": r["recnum"], "phase": r["phsnum"], "name": r["phsnme"]},
              lambda r: f"{r['recnum']}:{r['phsnum']}"),
)}
READABLE_TABLES = tuple(_READS)


# ---- commitment headers (what a modify needs to know of each) -------------------------------


@dataclass(frozen=True)
class _Header:
    """A commitment header table: its name, its number column and what Sage calls it."""

    table: str  # subcon, pchord (also the key name in the returned keys)
    number: str  # ctcnum, ordnum
    what: str  # in messages: "subcontract 17 ..."

    @property
    def number_column(self) -> str:
        return f"{self.table}.{self.number}"


_SUBCON = _Header("subcon", "ctcnum", "subcontract")
_PCHORD = _Header("pchord", "ordnum", "purchase order")


# ---- the database ---------------------------------------------------------------------------


class EmbeddedSage:
    """A Sage 100 Contractor company database in one SQLite file (implements SagePort)."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0, user: str = "relay") -> None:
        self.path = Path(path)
        self.timeout = timeout  # seconds to wait for the write lock before UNAVAILABLE
        self.user = user  # recorded in insusr/updusr, as Sage records its user
        self._local = threading.local()  # this thread's open batch() connection, if any

    # -- connections --------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
            detect_types=sqlite3.PARSE_DECLTYPES,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.create_function("sage_fold", 1, _fold, deterministic=True)
        return conn

    def _unavailable(self, exc: sqlite3.OperationalError) -> SageError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return SageError(
                UNAVAILABLE,
                f"Company database {self.path.name} is busy ({text}); try again",
                retryable=True,
            )
        if "no such table" in text:
            return SageError(
                UNAVAILABLE,
                f"Company database {self.path} is not initialized ({text}); "
                "run `python -m relay.sage init`",
            )
        return SageError(UNAVAILABLE, f"Company database {self.path.name} failed: {text}")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        joined = getattr(self._local, "conn", None)
        if joined is not None:  # inside batch(): see its uncommitted rows
            yield joined
            return
        try:
            conn = self._open()
            try:
                yield conn
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from the first check to COMMIT."""
        joined = getattr(self._local, "conn", None)
        if joined is not None:  # inside batch(): part of its transaction
            yield joined
            return
        try:
            conn = self._open()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._local.conn = conn
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                finally:
                    self._local.conn = None
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc
        except sqlite3.IntegrityError as exc:  # backstop: the checks below come first
            code = DUPLICATE_KEY if "UNIQUE" in str(exc) else INVALID_REFERENCE
            raise SageError(code, f"Record refused by the database: {exc}") from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run several writes of this thread as one transaction (one commit, all or none)."""
        with self._write():
            yield

    def init(self) -> None:
        """Create the schema if missing (idempotent) and switch the file to WAL."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        schema = SCHEMA_FILE.read_text(encoding="utf-8")
        triggers = []
        for table in _TABLE.findall(schema):  # Sage sets upddte in a trigger; so do we
            update = f"UPDATE {table} SET upddte = {_NOW} WHERE rowid = NEW.rowid;"  # noqa: S608
            triggers.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_upddte AFTER UPDATE ON {table} "
                f"FOR EACH ROW WHEN NEW.upddte IS OLD.upddte BEGIN {update} END;"
            )
        with self._read() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            # One transaction, one commit; a failure leaves the file as it was.
            conn.executescript("BEGIN IMMEDIATE;\n" + schema + "\n".join(triggers) + "\nCOMMIT;")
            conn.execute("BEGIN IMMEDIATE")
            for table, column, declared in _ADDED_COLUMNS:  # files made by an older schema
                have = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declared}")
            conn.execute("COMMIT")

    # -- reference checks (inside the write transaction) --------------------------------------

    @staticmethod
    def _check_job(conn: sqlite3.Connection, job: int) -> None:
        row = None
        if _storable(job):
            row = conn.execute("SELECT jobnme, status FROM actrec WHERE recnum = ?",
                               (job,)).fetchone()
        if row is None:
            raise _reference(f"job {job} does not exist (actrec.recnum)")
        if row["status"] in CLOSED_JOB_STATUSES:
            status = JOB_STATUS[row["status"]]
            raise _invalid_closed(
                f"Job {job} is {status}; a {status} job (actrec.status {row['status']}) "
                "cannot take new commitments"
            )

    @staticmethod
    def _check_phase(conn: sqlite3.Connection, job: int, phase: int | None) -> None:
        if phase is None:
            return
        row = None
        if _storable(phase):
            row = conn.execute(
                "SELECT 1 FROM jobphs WHERE recnum = ? AND phsnum = ?", (job, phase)
            ).fetchone()
        if row is None:
            raise _reference(f"phase {phase} does not exist on job {job} (jobphs.phsnum)")

    @staticmethod
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

    @staticmethod
    def _check_cost(conn: sqlite3.Connection, line: int, code: str, cost_type: int) -> None:
        row = conn.execute(
            "SELECT cdenme, inactv FROM cstcde WHERE recnum = ?", (code,)
        ).fetchone()
        if row is None:
            raise _reference(f"line {line} cost code {code} does not exist (cstcde.recnum)")
        if row["inactv"]:
            raise _invalid(
                f"line {line} cost code {code} {row['cdenme']} is inactive (cstcde.inactv)"
            )
        if conn.execute("SELECT 1 FROM csttyp WHERE recnum = ?", (cost_type,)).fetchone() is None:
            raise _reference(
                f"line {line} cost type {cost_type} does not exist (csttyp.recnum)"
            )

    # -- SagePort: commitments ----------------------------------------------------------------

    def add_subcontract(self, payload: SubcontractPayload) -> dict[str, str]:
        """Insert subcon + sbcnln in one transaction; {"subcon": recnum, "ctcnum": number}."""
        number = _number(payload.number, "subcontract number", "subcon.ctcnum")
        dscrpt = _text(payload.description, DESCRIPTION_MAX, "subcontract description",
                       "subcon.dscrpt")
        rate = Decimal("0.00")
        if payload.retention_rate is not None:
            rate = _retention(payload.retention_rate)
        if not payload.lines:
            raise _invalid("a subcontract needs at least one line (sbcnln)")
        _line_numbers([line.line_number for line in payload.lines], "sbcnln")
        lines = []
        for line in payload.lines:
            n = line.line_number
            lines.append((
                n,
                _text(line.description, DESCRIPTION_MAX, f"line {n} description",
                      "sbcnln.dscrpt"),
                normalize_cost_code(line.cost_code),
                line.cost_type,
                _money(line.amount, f"line {n} amount", "sbcnln.amount"),
            ))
        total = _money(sum((amount for *_, amount in lines), Decimal("0.00")),
                       "subcontract total", "subcon.cntttl")
        if total < 0:
            raise _invalid(f"subcontract total {total} is negative (subcon.cntttl)")

        with self._write() as conn:
            self._check_job(conn, payload.job)
            self._check_phase(conn, payload.job, payload.phase)
            self._check_vendor(conn, payload.vendor)
            for n, _, code, cost_type, _ in lines:
                self._check_cost(conn, n, code, cost_type)
            existing = conn.execute(
                "SELECT recnum FROM subcon WHERE jobnum = ? AND ctcnum = ? COLLATE NOCASE",
                (payload.job, number),
            ).fetchone()
            if existing is not None:
                raise SageError(
                    CONSTRAINT_FAILED,
                    f"Failed coded constraint: subcontract number {number!r} already exists "
                    f"on job {payload.job} (subcon.recnum {existing['recnum']})",
                )
            idnum = _guid()
            zero = "0.00"
            cursor = conn.execute(
                "INSERT INTO subcon (_idnum, ctcnum, condte, vndnum, jobnum, phsnum, dscrpt, "
                "status, rtnrte, cntttl, chgttl, ctcttl, invttl, balttl, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idnum, number, _iso_date(payload.contract_date), payload.vendor, payload.job,
                 payload.phase, dscrpt, payload.status, str(rate), str(total), zero,
                 str(total), zero, str(total), self.user),
            )
            recnum = cursor.lastrowid
            conn.executemany(
                "INSERT INTO sbcnln (_idnum, _idref, recnum, linnum, dscrpt, cstcde, csttyp, "
                "amount, change, cntrct, billed, remain, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(_guid(), idnum, recnum, n, text, code, cost_type, str(amount), zero,
                  str(amount), zero, str(amount), self.user)
                 for n, text, code, cost_type, amount in lines],
            )
        return {"subcon": str(recnum), "ctcnum": number}

    def add_purchase_order(self, payload: PurchaseOrderPayload) -> dict[str, str]:
        """Insert pchord + pcorln in one transaction; {"pchord": recnum, "ordnum": number}.

        extttl is taken as given (Procore's line amount), not recomputed from quantity
        times price: lump-sum lines carry no meaningful quantity.
        """
        number = _number(payload.number, "purchase order number", "pchord.ordnum")
        dscrpt = _text(payload.description, DESCRIPTION_MAX, "purchase order description",
                       "pchord.dscrpt")
        if not payload.lines:
            raise _invalid("a purchase order needs at least one line (pcorln)")
        _line_numbers([line.line_number for line in payload.lines], "pcorln")
        lines = []
        for line in payload.lines:
            n = line.line_number
            lines.append((
                n,
                _text(line.description, DESCRIPTION_MAX, f"line {n} description",
                      "pcorln.prtdsc"),
                _quantity(line.quantity, f"line {n} quantity", "pcorln.linqty"),
                _quantity(line.unit_price, f"line {n} unit price", "pcorln.linprc"),
                _money(line.amount, f"line {n} amount", "pcorln.extttl"),
                normalize_cost_code(line.cost_code),
                line.cost_type,
            ))
        total = _money(sum((line[4] for line in lines), Decimal("0.00")),
                       "purchase order total", "pchord.pchttl")
        if total < 0:
            raise _invalid(f"purchase order total {total} is negative (pchord.pchttl)")

        with self._write() as conn:
            self._check_job(conn, payload.job)
            self._check_phase(conn, payload.job, payload.phase)
            self._check_vendor(conn, payload.vendor)
            for n, _, _, _, _, code, cost_type in lines:
                self._check_cost(conn, n, code, cost_type)
            existing = conn.execute(
                "SELECT recnum, jobnum FROM pchord WHERE ordnum = ? COLLATE NOCASE", (number,)
            ).fetchone()
            if existing is not None:
                raise SageError(
                    CONSTRAINT_FAILED,
                    f"Failed coded constraint: purchase order number {number!r} already exists "
                    f"(pchord.recnum {existing['recnum']}, job {existing['jobnum']})",
                )
            idnum = _guid()
            cursor = conn.execute(
                "INSERT INTO pchord (_idnum, ordnum, orddte, vndnum, jobnum, phsnum, dscrpt, "
                "status, pchttl, pchbal, insusr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idnum, number, _iso_date(payload.order_date), payload.vendor, payload.job,
                 payload.phase, dscrpt, payload.status, str(total), str(total), self.user),
            )
            recnum = cursor.lastrowid
            conn.executemany(
                "INSERT INTO pcorln (_idnum, _idref, recnum, linnum, prtdsc, linqty, linprc, "
                "extttl, rcvdte, cancel, cstcde, csttyp, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(_guid(), idnum, recnum, n, text, str(qty), str(price), str(amount),
                  "0.0000", "0.0000", code, cost_type, self.user)
                 for n, text, qty, price, amount, code, cost_type in lines],
            )
        return {"pchord": str(recnum), "ordnum": number}

    def modify_subcontract(self, payload: SubcontractHeaderPayload) -> dict[str, str]:
        """Update the subcon header in place; {"subcon": recnum, "ctcnum": number}.

        Lines and amounts stay as they are (after sync they change by change orders).
        """
        changes: dict[str, Any] = {
            "dscrpt": _text(payload.description, DESCRIPTION_MAX, "subcontract description",
                            "subcon.dscrpt"),
            "status": _status(payload.status, "subcon.status"),
        }
        if payload.retention_rate is not None:  # None: leave the rate as it is
            changes["rtnrte"] = str(_retention(payload.retention_rate))
        if payload.contract_date is not None:
            changes["condte"] = _iso_date(payload.contract_date)
        return self._modify_header(_SUBCON, payload.job, payload.record, payload.number,
                                   changes)

    def modify_purchase_order(self, payload: PurchaseOrderHeaderPayload) -> dict[str, str]:
        """Update the pchord header in place; {"pchord": recnum, "ordnum": number}.

        Lines and amounts stay as they are.
        """
        changes: dict[str, Any] = {
            "dscrpt": _text(payload.description, DESCRIPTION_MAX, "purchase order description",
                            "pchord.dscrpt"),
            "status": _status(payload.status, "pchord.status"),
        }
        if payload.order_date is not None:  # None: leave the date as it is
            changes["orddte"] = _iso_date(payload.order_date)
        return self._modify_header(_PCHORD, payload.job, payload.record, payload.number,
                                   changes)

    def _modify_header(self, header: _Header, job: int, record: int, number: str,
                       changes: dict[str, Any]) -> dict[str, str]:
        """Check the record as Sage would, then write the columns whose value differs.

        Writing only what differs keeps a repeated modify from touching the row at all:
        upddte (set by the trigger on any UPDATE) stays as the first apply left it.
        """
        wanted = _number(number, f"{header.what} number", header.number_column)
        with self._write() as conn:
            row = None
            if _storable(job) and _storable(record):
                row = conn.execute(
                    f"SELECT * FROM {header.table} "  # noqa: S608 (fixed identifiers)
                    "WHERE recnum = ? AND jobnum = ?", (record, job),
                ).fetchone()
            if row is None:
                raise _reference(f"{header.what} {record} does not exist on job {job} "
                                 f"({header.table}.recnum)")
            current = row[header.number]
            if _fold(current) != _fold(wanted):
                raise _invalid(
                    f"{header.what} {record} is number {current!r}, not {wanted!r}: the "
                    f"record's number differs ({header.number_column})"
                )
            if row["lckedt"]:
                raise _invalid(f"{header.what} {record} {current} is locked for editing "
                               f"({header.table}.lckedt)")
            differ = {column: value for column, value in changes.items()
                      if _as_stored(row[column]) != value}
            if differ:
                assignments = ", ".join(f"{column} = ?" for column in differ)
                conn.execute(
                    f"UPDATE {header.table} SET {assignments}, updusr = ? "  # noqa: S608
                    "WHERE recnum = ?", (*differ.values(), self.user, record),
                )
        return {header.table: str(record), header.number: current}

    def find_subcontract(self, job: int, number: str) -> dict[str, str] | None:
        """Keys of subcontract ``number`` on ``job`` (same matching as the duplicate rule)."""
        if not _storable(job):
            return None
        with self._read() as conn:
            row = conn.execute(
                "SELECT recnum, ctcnum FROM subcon WHERE jobnum = ? AND ctcnum = ? COLLATE NOCASE",
                (job, number.strip()),
            ).fetchone()
        return None if row is None else {"subcon": str(row["recnum"]), "ctcnum": row["ctcnum"]}

    def find_purchase_order(self, number: str) -> dict[str, str] | None:
        """Keys of purchase order ``number`` (PO numbers are unique company-wide)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT recnum, ordnum FROM pchord WHERE ordnum = ? COLLATE NOCASE",
                (number.strip(),),
            ).fetchone()
        return None if row is None else {"pchord": str(row["recnum"]), "ordnum": row["ordnum"]}

    # -- SagePort: master data (jobs, vendors) ------------------------------------------------

    def add_job(self, payload: JobPayload) -> dict[str, str]:
        """Insert actrec; {"actrec": job}. 12000 if the job number exists."""
        self.seed_job(payload.job, payload.name, payload.status, short_name=payload.short_name,
                      address=payload.address, city=payload.city, state=payload.state,
                      zip_code=payload.zip_code)
        return {"actrec": str(payload.job)}

    def add_vendor(self, payload: VendorPayload) -> dict[str, str]:
        """Insert actpay; {"actpay": recnum}. Without a number, the next free one is used.

        12000 if the number exists, 14201 if a vendor of the same name (trimmed,
        case-insensitive) exists, 14050 for values Sage would not store.
        """
        name = _text(payload.name.strip(), NAME_MAX, "vendor name", "actpay.vndnme",
                     required=True)
        values = {
            "vndnme": name,
            "shtnme": _short_name(payload.short_name, name, "vendor short name",
                                  "actpay.shtnme"),
            **_address("actpay", payload.address, payload.city, payload.state,
                       payload.zip_code),
            "fedidn": (None if payload.tax_id is None else
                       _text(payload.tax_id.strip(), TAX_ID_MAX, "tax id", "actpay.fedidn")),
        }
        if payload.vendor is not None:
            _recnum(payload.vendor, "vendor", "actpay.recnum")
        with self._write() as conn:
            recnum = payload.vendor
            if recnum is None:  # chosen under the write lock: two writers never collide
                highest = conn.execute("SELECT MAX(recnum) FROM actpay").fetchone()[0]
                recnum = FIRST_VENDOR if highest is None else highest + 1
                _recnum(recnum, "next vendor number", "actpay.recnum")
            elif conn.execute("SELECT 1 FROM actpay WHERE recnum = ?",
                              (recnum,)).fetchone() is not None:
                raise SageError(DUPLICATE_KEY, f"Duplicate key: vendor {recnum} already "
                                               "exists (actpay.recnum)")
            same = conn.execute(
                "SELECT recnum, vndnme FROM actpay WHERE sage_fold(vndnme) = ? "
                "ORDER BY recnum LIMIT 1", (_fold(name),),
            ).fetchone()
            if same is not None:
                raise SageError(
                    CONSTRAINT_FAILED,
                    f"Failed coded constraint: a vendor named {same['vndnme']!r} already "
                    f"exists (actpay.recnum {same['recnum']})",
                )
            row = {"_idnum": _guid(), "recnum": recnum, **values, "insusr": self.user}
            conn.execute(
                f"INSERT INTO actpay ({', '.join(row)}) "  # noqa: S608 (fixed identifiers)
                f"VALUES ({', '.join('?' for _ in row)})",
                tuple(row.values()),
            )
        return {"actpay": str(recnum)}

    def find_job(self, job: int) -> dict[str, str] | None:
        """Keys of job ``job`` if it exists (reconciliation)."""
        if not _storable(job):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT recnum FROM actrec WHERE recnum = ?", (job,)).fetchone()
        return None if row is None else {"actrec": str(row["recnum"])}

    def find_vendor(self, vendor: int | None, name: str) -> dict[str, str] | None:
        """Keys of vendor ``vendor``; without a number, of the vendor named ``name`` (the
        same matching as the duplicate-name rule: trimmed, case-insensitive)."""
        with self._read() as conn:
            if vendor is not None:
                row = (conn.execute("SELECT recnum FROM actpay WHERE recnum = ?",
                                    (vendor,)).fetchone() if _storable(vendor) else None)
            else:
                row = conn.execute(
                    "SELECT recnum FROM actpay WHERE sage_fold(vndnme) = ? "
                    "ORDER BY recnum LIMIT 1", (_fold(name),),
                ).fetchone()
        return None if row is None else {"actpay": str(row["recnum"])}

    # -- SagePort: pulls ---------------------------------------------------------------------

    def read(self, table: str, *, after: str | None, limit: int,
             job: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``table`` (jobs, vendors, cost_codes, cost_types, phases) in key order.

        ``after`` is the cursor a previous page returned (None for the first page); the
        result is (rows, cursor of the next page, or None on the last page). ``job``
        narrows phases to one job. Unknown table, bad cursor or limit -> ValueError.
        """
        spec = _READS.get(table)
        if spec is None:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(_READS)}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, not {limit!r}")
        if job is not None and table != "phases":
            raise ValueError(f"job narrows phases only, not {table}")
        conditions: list[str] = []
        params: list[Any] = []
        if job is not None:
            conditions.append("recnum = ?")
            params.append(job)
        if after is not None:
            condition, values = spec.after_key(after, table)
            conditions.append(condition)
            params.extend(values)
        where = " AND ".join(conditions) or "1"
        sql = (f"SELECT {spec.columns} FROM {spec.table} WHERE {where} "  # noqa: S608
               f"ORDER BY {spec.order} LIMIT ?")
        with self._read() as conn:
            found = conn.execute(sql, (*params, limit + 1)).fetchall()
        rows = [spec.shape(row) for row in found[:limit]]
        cursor = spec.key(found[limit - 1]) if len(found) > limit else None
        return rows, cursor

    # -- reads for tests and the CLI -----------------------------------------------------------

    def tables(self) -> list[str]:
        """Names of the Sage tables in this file, in creation order."""
        with self._read() as conn:
            return [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]

    def columns(self, table: str) -> list[str]:
        """Column names of ``table``, or KeyError if it is not a Sage table here."""
        if table not in self.tables():
            raise KeyError(f"no table {table!r}; tables: {', '.join(self.tables())}")
        with self._read() as conn:
            return [r["name"] for r in conn.execute(f"PRAGMA table_info({table})")]

    def rows(self, table: str, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``table`` in insertion order, filtered by column = value pairs."""
        columns = self.columns(table)
        where = dict(where or {})
        unknown = [name for name in where if name not in columns]
        if unknown:
            raise KeyError(f"{table} has no column {unknown[0]!r}")
        clause = " AND ".join(f"{name} = ?" for name in where) or "1"
        # Identifiers were checked against sqlite_master and PRAGMA table_info above.
        sql = f"SELECT * FROM {table} WHERE {clause} ORDER BY rowid"  # noqa: S608
        with self._read() as conn:
            return [dict(r) for r in conn.execute(sql, tuple(where.values()))]

    def count(self, table: str) -> int:
        """Number of rows in ``table``."""
        self.columns(table)  # validates the name
        with self._read() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608

    def subcontract(self, recnum: int | str) -> dict[str, Any]:
        """The subcon row with its sbcnln rows under "lines" (KeyError if absent)."""
        return self._document("subcon", "sbcnln", int(recnum))

    def purchase_order(self, recnum: int | str) -> dict[str, Any]:
        """The pchord row with its pcorln rows under "lines" (KeyError if absent)."""
        return self._document("pchord", "pcorln", int(recnum))

    def _document(self, header: str, lines: str, recnum: int) -> dict[str, Any]:
        found = self.rows(header, {"recnum": recnum})
        if not found:
            raise KeyError(f"{header} {recnum} does not exist")
        document = found[0]
        document["lines"] = sorted(self.rows(lines, {"_idref": document["_idnum"]}),
                                   key=lambda line: line["linnum"])
        return document

    # -- seed helpers --------------------------------------------------------------------------

    def _insert(self, table: str, key: str, values: dict[str, Any], *,
                skip_existing: bool) -> bool:
        """Insert one master-data row; 12000 if the key exists (or False when skipping)."""
        key_columns = [name for name in ("recnum", "phsnum") if name in values]
        with self._write() as conn:
            match = " AND ".join(f"{name} = ?" for name in key_columns)
            exists = conn.execute(
                f"SELECT 1 FROM {table} WHERE {match}",  # noqa: S608 (fixed identifiers)
                tuple(values[name] for name in key_columns),
            ).fetchone()
            if exists is not None:
                if skip_existing:
                    return False
                raise SageError(DUPLICATE_KEY, f"Duplicate key: {key} already exists "
                                               f"({table}.{'/'.join(key_columns)})")
            row = {"_idnum": _guid(), **values, "insusr": self.user}
            conn.execute(
                f"INSERT INTO {table} ({', '.join(row)}) "  # noqa: S608 (fixed identifiers)
                f"VALUES ({', '.join('?' for _ in row)})",
                tuple(row.values()),
            )
        return True

    def seed_job(self, recnum: int, name: str, status: int = 4, *,
                 short_name: str | None = None, retain: Decimal | str | int = 0,
                 address: str | None = None, city: str | None = None, state: str | None = None,
                 zip_code: str | None = None, skip_existing: bool = False) -> bool:
        """Add a job (actrec); returns False if it existed and ``skip_existing``, else 12000.

        The short name defaults to the name cut to 30 characters.
        """
        _recnum(recnum, "job", "actrec.recnum")
        if status not in JOB_STATUS:
            raise _invalid(f"job status {status} is not 1-6 (actrec.status)")
        retain_rate = _decimal(retain, "retention", "actrec.retain", places=2, digits=5)
        name = _text(name.strip(), NAME_MAX, "job name", "actrec.jobnme", required=True)
        return self._insert("actrec", f"job {recnum}", {
            "recnum": recnum,
            "jobnme": name,
            "shtnme": _short_name(short_name, name, "job short name", "actrec.shtnme"),
            "status": status,
            "retain": str(retain_rate),
            **_address("actrec", address, city, state, zip_code),
        }, skip_existing=skip_existing)

    def add_phase(self, job: int, phsnum: int, name: str, *,
                  skip_existing: bool = False) -> bool:
        """Add a phase (jobphs) to an existing job."""
        _recnum(phsnum, "phase", "jobphs.phsnum")
        name = _text(name, PHASE_NAME_MAX, "phase name", "jobphs.phsnme", required=True)
        with self._read() as conn:
            if conn.execute("SELECT 1 FROM actrec WHERE recnum = ?", (job,)).fetchone() is None:
                raise _reference(f"job {job} does not exist (actrec.recnum)")
        return self._insert("jobphs", f"phase {phsnum} of job {job}",
                            {"recnum": job, "phsnum": phsnum, "phsnme": name},
                            skip_existing=skip_existing)

    def seed_vendor(self, recnum: int, name: str, *, short_name: str | None = None,
                    vendor_type: int | None = None, default_cost_code: str | None = None,
                    default_cost_type: int | None = None, duplicate_invoices: bool = False,
                    inactive: bool = False, tax_id: str | None = None,
                    skip_existing: bool = False) -> bool:
        """Add a vendor (actpay) by number, as an accountant would in Sage (no name rule);
        the short name defaults to the name cut to 30 characters."""
        _recnum(recnum, "vendor", "actpay.recnum")
        name = _text(name.strip(), NAME_MAX, "vendor name", "actpay.vndnme", required=True)
        return self._insert("actpay", f"vendor {recnum}", {
            "recnum": recnum,
            "vndnme": name,
            "shtnme": _short_name(short_name, name, "vendor short name", "actpay.shtnme"),
            "vndtyp": vendor_type,
            "cdedft": (normalize_cost_code(default_cost_code)
                       if default_cost_code is not None else None),
            "typdft": default_cost_type,
            "dupchk": int(duplicate_invoices),
            "inactv": int(inactive),
            "fedidn": (None if tax_id is None
                       else _text(tax_id, TAX_ID_MAX, "tax id", "actpay.fedidn")),
        }, skip_existing=skip_existing)

    def add_cost_code(self, code: str | int | Decimal, name: str, *, unit: str | None = None,
                      inactive: bool = False, skip_existing: bool = False) -> bool:
        """Add a company-wide cost code (cstcde), checking Sage's format ('3300.000')."""
        recnum = normalize_cost_code(code)
        return self._insert("cstcde", f"cost code {recnum}", {
            "recnum": recnum,
            "cdenme": _text(name, COST_CODE_NAME_MAX, "cost code name", "cstcde.cdenme",
                            required=True),
            "untdsc": unit,
            "inactv": int(inactive),
        }, skip_existing=skip_existing)

    def add_cost_type(self, recnum: int, name: str, *, skip_existing: bool = False) -> bool:
        """Add one of the nine cost types (csttyp)."""
        if recnum not in COST_TYPES:
            raise _invalid(f"cost type {recnum} is not 1-9 (csttyp.recnum)")
        return self._insert("csttyp", f"cost type {recnum}",
                            {"recnum": recnum, "typnme": name}, skip_existing=skip_existing)

    def seed_demo(self) -> int:
        """The demo company the local stack and tests share; skips rows that exist.

        Returns how many rows were inserted (0 on a second run).
        """
        added = 0
        with self.batch():  # one transaction: a half-seeded company is never visible
            for number, type_name in COST_TYPES.items():
                added += self.add_cost_type(number, type_name, skip_existing=True)
            for job, name, status in DEMO_JOBS:
                added += self.seed_job(job, name, status, skip_existing=True)
            for job, phase, name in DEMO_PHASES:
                added += self.add_phase(job, phase, name, skip_existing=True)
            for vendor, name, inactive in DEMO_VENDORS:
                added += self.seed_vendor(vendor, name, inactive=inactive,
                                          tax_id=DEMO_TAX_IDS.get(vendor), skip_existing=True)
            for code, name in DEMO_COST_CODES:
                added += self.add_cost_code(code, name, skip_existing=True)
        return added

DEMO_JOBS = [
    (24001, "Riverside Medical Office Building", 4),
    (24002, "Oak Street Warehouse Renovation", 4),
    (23099, "Old Library Closeout", 6),
]
DEMO_VENDORS = [
    (3001, "Granite Bay Concrete", False),
    (3002, "Northern California Electric", False),
    (3003, "Summit Steel Supply", False),
    (3004, "Retired Vendor LLC", True),
]
# Tax ids on two vendors, so the cloud can match Procore companies by tax id as well as name.
DEMO_TAX_IDS = {3001: "94-1234567", 3003: "77-7654321"}
DEMO_PHASES = [
    (24001, 1, "Site and Foundations"),
    (24001, 2, "Structure"),
    (24001, 3, "Finishes"),
    (24002, 1, "Demolition"),
]
# Procore's demo codes "03-300" map here under the "division-dash-code" rule (-> "3300.000").
DEMO_COST_CODES = [
    ("1100.000", "General Conditions"),
    ("2200.000", "Site Work"),
    ("3300.000", "Cast-in-Place Concrete"),
    ("5120.000", "Structural Steel"),
    ("9900.000", "Painting"),
    ("26000.000", "Electrical"),
]
