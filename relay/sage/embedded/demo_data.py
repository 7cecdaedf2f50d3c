"""The demo company the local stack and tests share, and the helpers that seed master
data as an accountant would enter it in Sage (a part of EmbeddedSage)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.rules import (
    COST_CODE_NAME_MAX,
    COST_TYPES,
    JOB_STATUS,
    NAME_MAX,
    PHASE_NAME_MAX,
    TAX_ID_MAX,
    UNIT_MAX,
    _address,
    _decimal,
    _guid,
    _invalid,
    _recnum,
    _reference,
    _short_name,
    _text,
    normalize_cost_code,
)
from relay.sage.port import DUPLICATE_KEY, SageError

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

# Source journals (source, jobcst.srcnum): (number, srcnme, srcdsc). Every Sage company has
# its journals. Procore's connector brings the job costs of three into Direct Costs: 1-3
# Journal Transactions, 4-2 Payable Invoices and 5-2 Payroll Records; the others (equipment,
# receivables, ...) stay in Sage. The connector knows a journal by its name (srcnme), never
# by its number. The numbers are UNCONFIRMED: 11 is the Accounts Payable journal's as
# third-party tools reading Sage's job cost for AP postings filter it (a single non-Sage
# source; the writes post payable invoices to it, payables.AP_SOURCE); 1, 10, 15 and 17 are
# ours.
DEMO_SOURCES = [
    (1, "General Journal", "1-3 Journal Transactions"),
    (10, "Accounts Receivable", "3-2 Receivable Invoices"),
    (11, "Accounts Payable", "4-2 Payable Invoices"),
    (15, "Payroll", "5-2 Payroll Records"),
    (17, "Equipment", "7-2 Equipment Costs"),
]
SOURCE_NAME_MAX = 50  # source.srcnme, source.srcdsc nvarchar(50) (schema.sql)


class Seeding(SageDatabase):
    """Master data seeded by hand or by the demo (a part of EmbeddedSage)."""

    def _insert(self, table: str, key: str, values: dict[str, Any], *,
                skip_existing: bool) -> bool:
        """Insert one master-data row; 12000 if the key exists (or False when skipping)."""
        key_columns = [name for name in ("recnum", "phsnum") if name in values]
        with self._write() as conn:
            match = " AND ".join(f"{name} = ?" for name in key_columns)
            exists = conn.execute(
                f"SELECT 1 FROM {table} WHERE {match}",  # noqa: S608 # nosec B608 (fixed identifiers)
                tuple(values[name] for name in key_columns),
            ).fetchone()
            if exists is not None:
                if skip_existing:
                    return False
                raise SageError(DUPLICATE_KEY, f"Duplicate key: {key} already exists "
                                               f"({table}.{'/'.join(key_columns)})")
            row = {"_idnum": _guid(), **values, "insusr": self.user}
            conn.execute(
                f"INSERT INTO {table} ({', '.join(row)}) "  # noqa: S608 # nosec B608 (fixed identifiers)
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
            "fedidn": _text(tax_id or "", TAX_ID_MAX, "tax id", "actpay.fedidn"),
        }, skip_existing=skip_existing)

    def add_cost_code(self, code: str | int | Decimal, name: str, *, unit: str | None = None,
                      inactive: bool = False, skip_existing: bool = False) -> bool:
        """Add a company-wide cost code (cstcde), checking Sage's format ('3300.000')."""
        recnum = normalize_cost_code(code)
        return self._insert("cstcde", f"cost code {recnum}", {
            "recnum": recnum,
            "cdenme": _text(name, COST_CODE_NAME_MAX, "cost code name", "cstcde.cdenme",
                            required=True),
            "untdsc": _text(unit or "", UNIT_MAX, "unit", "cstcde.untdsc"),
            "inactv": "T" if inactive else "",  # nvarchar(2): 'T' = inactive
        }, skip_existing=skip_existing)

    def add_cost_type(self, recnum: int, name: str, *, skip_existing: bool = False) -> bool:
        """Add one of the nine cost types (csttyp)."""
        if recnum not in COST_TYPES:
            raise _invalid(f"cost type {recnum} is not 1-9 (csttyp.recnum)")
        return self._insert("csttyp", f"cost type {recnum}",
                            {"recnum": recnum, "typnme": name}, skip_existing=skip_existing)

    def add_source(self, recnum: int, name: str, *, description: str = "",
                   skip_existing: bool = False) -> bool:
        """Add a posting source journal (source), e.g. 11 Accounts Payable."""
        _recnum(recnum, "source", "source.recnum")
        return self._insert("source", f"source {recnum}", {
            "recnum": recnum,
            "srcnme": _text(name, SOURCE_NAME_MAX, "source name", "source.srcnme",
                            required=True),
            "srcdsc": _text(description, SOURCE_NAME_MAX, "source description",
                            "source.srcdsc"),
        }, skip_existing=skip_existing)

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
            for source, name, description in DEMO_SOURCES:
                added += self.add_source(source, name, description=description,
                                         skip_existing=True)
        return added
