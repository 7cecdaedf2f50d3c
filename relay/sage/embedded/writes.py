"""The embedded Sage's commands: add and modify commitments, add jobs and vendors, and the
look-ups the agent reconciles with (a part of EmbeddedSage)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.relay_protocol import (
    JobPayload,
    PurchaseOrderHeaderPayload,
    PurchaseOrderPayload,
    SubcontractHeaderPayload,
    SubcontractPayload,
    VendorPayload,
)
from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.rules import (
    DESCRIPTION_MAX,
    NAME_MAX,
    TAX_ID_MAX,
    _address,
    _bindable,
    _check_cost,
    _check_job,
    _check_phase,
    _check_vendor,
    _fold,
    _guid,
    _invalid,
    _line_numbers,
    _money,
    _number,
    _quantity,
    _recnum,
    _reference,
    _retention,
    _same,
    _short_name,
    _status,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.port import CONSTRAINT_FAILED, DUPLICATE_KEY, SageError

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


class Writes(SageDatabase):
    """The port's commands (a part of EmbeddedSage)."""

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
            _check_job(conn, payload.job)
            _check_phase(conn, payload.job, payload.phase)
            _check_vendor(conn, payload.vendor)
            for n, _, code, cost_type, _ in lines:
                _check_cost(conn, n, code, cost_type)
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
            recnum = self._next_recnum(conn, "subcon")
            conn.execute(
                "INSERT INTO subcon (_idnum, recnum, ctcnum, condte, vndnum, jobnum, phsnum, "
                "dscrpt, status, rtnrte, cntttl, chgttl, ctcttl, invttl, balttl, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idnum, recnum, number, _bindable(payload.contract_date or self.today()),
                 payload.vendor, payload.job, payload.phase or 0, dscrpt, payload.status,
                 str(rate), str(total), zero, str(total), zero, str(total), self.user),
            )
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
            _check_job(conn, payload.job)
            _check_phase(conn, payload.job, payload.phase)
            _check_vendor(conn, payload.vendor)
            for n, _, _, _, _, code, cost_type in lines:
                _check_cost(conn, n, code, cost_type)
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
            recnum = self._next_recnum(conn, "pchord")
            conn.execute(
                "INSERT INTO pchord (_idnum, recnum, ordnum, orddte, vndnum, jobnum, phsnum, "
                "dscrpt, status, pchttl, pchbal, insusr) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (idnum, recnum, number, _bindable(payload.order_date or self.today()),
                 payload.vendor, payload.job, payload.phase or 0, dscrpt, payload.status,
                 str(total), str(total), self.user),
            )
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
            changes["rtnrte"] = _retention(payload.retention_rate)
        if payload.contract_date is not None:  # None: leave the date as it is
            changes["condte"] = payload.contract_date
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
            changes["orddte"] = payload.order_date
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
                    f"SELECT * FROM {header.table} "  # noqa: S608 # nosec B608 (fixed identifiers)
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
                      if not _same(row[column], value)}
            if differ:
                assignments = ", ".join(f"{column} = ?" for column in differ)
                conn.execute(
                    f"UPDATE {header.table} SET {assignments}, updusr = ? "  # noqa: S608 # nosec B608
                    "WHERE recnum = ?",
                    (*(_bindable(value) for value in differ.values()), self.user, record),
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
        """Insert actpay; {"actpay": recnum}. Without a number, the next one is used.

        12000 if the number exists, 14050 for values Sage would not store. Names need not
        be unique: Sage keys vendors by number only.
        """
        name = _text(payload.name.strip(), NAME_MAX, "vendor name", "actpay.vndnme",
                     required=True)
        values = {
            "vndnme": name,
            "shtnme": _short_name(payload.short_name, name, "vendor short name",
                                  "actpay.shtnme"),
            **_address("actpay", payload.address, payload.city, payload.state,
                       payload.zip_code),
            "fedidn": _text((payload.tax_id or "").strip(), TAX_ID_MAX, "tax id",
                            "actpay.fedidn"),
        }
        if payload.vendor is not None:
            _recnum(payload.vendor, "vendor", "actpay.recnum")
        with self._write() as conn:
            recnum = payload.vendor
            if recnum is None:  # chosen under the write lock: two writers never collide
                recnum = self._next_recnum(conn, "actpay")
                _recnum(recnum, "next vendor number", "actpay.recnum")
            elif conn.execute("SELECT 1 FROM actpay WHERE recnum = ?",
                              (recnum,)).fetchone() is not None:
                raise SageError(DUPLICATE_KEY, f"Duplicate key: vendor {recnum} already "
                                               "exists (actpay.recnum)")
            row = {"_idnum": _guid(), "recnum": recnum, **values, "insusr": self.user}
            conn.execute(
                f"INSERT INTO actpay ({', '.join(row)}) "  # noqa: S608 # nosec B608 (fixed identifiers)
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
        """Keys of vendor ``vendor``; without a number, of the vendor a number-less add of
        ``name`` by this user made: the highest-numbered vendor of that name (trimmed,
        case-insensitive) that this user inserted, since such an add takes the next number.
        Names are not unique in Sage, so this is the best a look-up by name can do."""
        with self._read() as conn:
            if vendor is not None:
                row = (conn.execute("SELECT recnum FROM actpay WHERE recnum = ?",
                                    (vendor,)).fetchone() if _storable(vendor) else None)
            else:
                row = conn.execute(
                    "SELECT recnum FROM actpay WHERE sage_fold(vndnme) = ? AND insusr = ? "
                    "ORDER BY recnum DESC LIMIT 1", (_fold(name), self.user),
                ).fetchone()
        return None if row is None else {"actpay": str(row["recnum"])}

