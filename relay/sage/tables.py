"""The Sage 100 Contractor tables the agent reads, as SQLAlchemy Core metadata.

Names and SQL types are Sage's own (SQL Server, schema dbo), as collected in
reference/sage-schema/real_schema.json: recnum is bigint except on cstcde, where the
cost code itself is the key, decimal(15,3); booleans are tinyint 0/1 except
cstcde.inactv, which is nvarchar(2) holding 'T' for an inactive code. A width real_schema
only knows as "string" (jobphs.phsnme, csttyp.typnme) is ours (50).

The same ``Table`` objects serve the embedded SQLite stand-in and a real Sage company
database: statements built on them compile for either dialect. On SQLite the schema name
``dbo`` is translated away (``SQLITE_EXECUTION``), and decimal(15,3) reads back as a float
(SQLite has no decimal type) that ``relay.sage.reads`` turns into the exact code; so do
the budget's decimal(12,2) amounts (the exact text with two places).

Budgets: ``budget`` (one header per job, ``lckedt``) and ``bdglin`` (one line per job,
phase and cost code, one current and one original column per cost type,
``BUDGET_COLUMNS``). real_schema.json knows their amounts, ``linnum`` and ``lckedt`` only
as families of the 2012 SMB classes: decimal(12,2) and int are ours, as in the embedded
schema.sql.

Payments: ``acppmt`` (4-3 vendor payments, one row per payment of a payable invoice;
``_idref`` is the invoice's ``acpinv._idnum``, ``recnum`` its record number) with the
invoice it pays, ``acpinv``. Only the columns the payments pull reads; real_schema.json
knows ``acppmt.amount`` only as a decimal (decimal(12,2) is ours, as in schema.sql).

Commitments (the commitments pull: totals per subcontract and purchase order, for
reconciliation): ``subcon`` (subcontracts: original, approved changes, new contract and
invoiced totals) and ``pchord`` (purchase orders: their total), with the payable
invoices naming them (``acpinv``: ``invttl`` and ``amtpad``, summed per commitment). Only
the columns the commitments pull reads; real_schema.json knows subcon's totals other than
invttl, and pchttl, only as decimals (decimal(12,2) is ours, as in schema.sql).

Job costs: ``jobcst`` (6-3 and every posting that job-costs; status 1 Open (posted), 2
Void), the journal it was posted in, ``source`` (srcnum -> srcnme), and the payable
invoice an Accounts Payable row distributes (``acpinv``: vendor, invoice number and job;
its subcontract ``ctcnum`` or purchase order ``pchord``). Only the columns the job cost
pull reads. The audit stamps insdte/upddte are ``STAMP``: datetime (UTC) on SQL Server;
the embedded file keeps SQLite's text 'YYYY-MM-DD HH:MM:SS.SSS' (its default and the
upddte triggers write strftime('%Y-%m-%d %H:%M:%f')), read and bound as that text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BIGINT,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    NVARCHAR,
    SMALLINT,
    Column,
    MetaData,
    Table,
)
from sqlalchemy.dialects.mssql import TINYINT, UNIQUEIDENTIFIER
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

SCHEMA = "dbo"
# Execution options for an engine on the embedded SQLite file, which has no schemas.
SQLITE_EXECUTION = {"schema_translate_map": {SCHEMA: None}}

metadata = MetaData(schema=SCHEMA)

# decimal(15,3); on SQLite read as a number without SQLAlchemy's float->Decimal warning.
COST_CODE = DECIMAL(15, 3).with_variant(DECIMAL(15, 3, asdecimal=False), "sqlite")
# decimal(12,2) money, read the same way on SQLite (relay.sage.reads.money_text).
MONEY = DECIMAL(12, 2).with_variant(DECIMAL(12, 2, asdecimal=False), "sqlite")
# uniqueidentifier, read as its text ('0E984725-C51C-...'); the embedded file keeps the
# text itself (upper case), compared as text.
GUID = UNIQUEIDENTIFIER(as_uuid=False).with_variant(NVARCHAR(36), "sqlite")
# decimal(7,2) hours (jobcst.csthrs), read the same way on SQLite.
HOURS = DECIMAL(7, 2).with_variant(DECIMAL(7, 2, asdecimal=False), "sqlite")


def stamp_text(value: datetime) -> str:
    """An audit stamp as the job cost pull writes it: 'YYYY-MM-DD HH:MM:SS.SSS' (UTC), the
    text SQLite's strftime('%Y-%m-%d %H:%M:%f') gives, so the embedded file's stamps and
    this text compare alike (milliseconds truncated: SQL Server's datetime keeps 1/300 s)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}"


def parse_stamp(text: str) -> datetime:
    """A stamp's text ('2026-11-02 10:15:30.123', or any ISO 8601 form; an offset is
    taken to UTC) as a naive UTC datetime; ValueError if it is not one."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


class Stamp(TypeDecorator[datetime]):
    """insdte/upddte: a naive UTC datetime in Python; datetime on SQL Server; on SQLite the
    text of ``stamp_text`` (how the embedded file stores it), bound and read as text."""

    impl = DATETIME
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(NVARCHAR(23))
        return dialect.type_descriptor(DATETIME())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return stamp_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return parse_stamp(str(value))


STAMP = Stamp()

# Cost type -> (current budget column, original budget column) of bdglin
# (real_schema.json `codes`, "bdglin cost-type columns"; captions "Orig Material", ...).
BUDGET_COLUMNS: dict[int, tuple[str, str]] = {
    1: ("matbdg", "matorg"),
    2: ("labbdg", "laborg"),
    3: ("eqpbdg", "eqporg"),
    4: ("subbdg", "suborg"),
    5: ("othbdg", "othorg"),
    6: ("usrcs6", "cs6org"),
    7: ("usrcs7", "cs7org"),
    8: ("usrcs8", "cs8org"),
    9: ("usrcs9", "cs9org"),
}

actrec = Table(  # jobs (3-5); recnum = job number
    "actrec", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("jobnme", NVARCHAR(75), nullable=False),
    Column("shtnme", NVARCHAR(30), nullable=False),
    Column("status", TINYINT, nullable=False),  # 1 Bid ... 6 Closed
    Column("addrs1", NVARCHAR(50), nullable=False),
    Column("ctynme", NVARCHAR(50), nullable=False),
    Column("state_", NVARCHAR(2), nullable=False),
    Column("zipcde", NVARCHAR(10), nullable=False),
)

actpay = Table(  # vendors (4-4); recnum = vendor number
    "actpay", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("vndnme", NVARCHAR(75), nullable=False),
    Column("shtnme", NVARCHAR(30), nullable=False),
    Column("inactv", TINYINT, nullable=False),  # 0/1
    Column("fedidn", NVARCHAR(64), nullable=False),  # federal tax id (name UNCONFIRMED)
    Column("addrs1", NVARCHAR(50), nullable=False),
    Column("ctynme", NVARCHAR(50), nullable=False),
    Column("state_", NVARCHAR(2), nullable=False),
    Column("zipcde", NVARCHAR(10), nullable=False),
)

cstcde = Table(  # cost codes (6-5), company-wide; recnum = the code, e.g. 3300.000
    "cstcde", metadata,
    Column("recnum", COST_CODE, primary_key=True),
    Column("cdenme", NVARCHAR(50), nullable=False),
    Column("untdsc", NVARCHAR(10), nullable=False),
    Column("inactv", NVARCHAR(2), nullable=False),  # 'T' = inactive, '' = active
)

csttyp = Table(  # the nine cost types
    "csttyp", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("typnme", NVARCHAR(50), nullable=False),
)

jobphs = Table(  # phases of a job (Procore sub jobs); key (recnum = job, phsnum)
    "jobphs", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("phsnum", BIGINT, primary_key=True),
    Column("phsnme", NVARCHAR(50), nullable=False),
)

budget = Table(  # budget header (6-2), one per job; recnum = job
    "budget", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("lckedt", INTEGER, nullable=False),  # 0/1: locked for editing
)

bdglin = Table(  # budget lines: one per job, phase (0 = none) and cost code
    "bdglin", metadata,
    Column("recnum", BIGINT, primary_key=True),  # job
    Column("phsnum", BIGINT, primary_key=True),
    Column("linnum", INTEGER, primary_key=True),  # line number within job + phase
    Column("cstcde", COST_CODE, nullable=False),
    Column("untdsc", NVARCHAR(10), nullable=False),
    *(Column(current, MONEY, nullable=False) for current, _ in BUDGET_COLUMNS.values()),
    Column("ttlbdg", MONEY, nullable=False),
    *(Column(original, MONEY, nullable=False) for _, original in BUDGET_COLUMNS.values()),
    Column("ttlorg", MONEY, nullable=False),
)

subcon = Table(  # subcontracts; only what the commitments pull reads
    "subcon", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("ctcnum", NVARCHAR(20), nullable=False),  # subcontract number, unique per job
    Column("vndnum", BIGINT, nullable=False),
    Column("jobnum", BIGINT, nullable=False),
    Column("status", TINYINT, nullable=False),
    Column("cntttl", MONEY, nullable=False),  # original contract
    Column("chgttl", MONEY, nullable=False),  # approved changes
    Column("ctcttl", MONEY, nullable=False),  # new contract = cntttl + chgttl
    Column("invttl", MONEY, nullable=False),  # invoiced
)

pchord = Table(  # purchase orders; only what the commitments pull reads
    "pchord", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("ordnum", NVARCHAR(20), nullable=False),  # PO number, unique company-wide
    Column("vndnum", BIGINT, nullable=False),
    Column("jobnum", BIGINT, nullable=False),
    Column("status", TINYINT, nullable=False),  # 1 Open ... 4 Closed 5 Void 6 Master
    Column("pchttl", MONEY, nullable=False),  # total of the lines
)

acpinv = Table(  # payable invoices (4-2); what the payments, commitments and job cost
    "acpinv", metadata,  # pulls read
    Column("_idnum", GUID, nullable=False),
    Column("recnum", BIGINT, primary_key=True),
    Column("invnum", NVARCHAR(20), nullable=False),
    Column("vndnum", BIGINT, nullable=False),
    Column("jobnum", BIGINT, nullable=True),  # NULL: an invoice on no job
    Column("pchord", NVARCHAR(20), nullable=False),  # purchase order number; '' = none
    Column("ctcnum", NVARCHAR(20), nullable=False),  # subcontract number; '' = none
    Column("status", TINYINT, nullable=False),  # 1 Open 2 Review 3 Dispute 4 Paid 5 Void
    Column("invttl", MONEY, nullable=False),  # invoice total
    Column("amtpad", MONEY, nullable=False),  # paid so far
    Column("invbal", MONEY, nullable=False),
)

acppmt = Table(  # payments of payable invoices (4-3)
    "acppmt", metadata,
    Column("_idnum", GUID, primary_key=True),
    Column("_idref", GUID, nullable=False),  # -> acpinv._idnum
    Column("recnum", BIGINT, nullable=False),  # = acpinv.recnum
    Column("chknum", NVARCHAR(20), nullable=False),  # check (transaction) number
    Column("chkdte", DATE, nullable=False),
    Column("amount", MONEY, nullable=False),
)

acrinv = Table(  # receivable (owner) invoices (3-2); what the receipts and receivables
    "acrinv", metadata,  # pulls read
    Column("_idnum", GUID, nullable=False),
    Column("recnum", BIGINT, primary_key=True),
    Column("invnum", NVARCHAR(20), nullable=False),
    Column("jobnum", BIGINT, nullable=False),
    Column("status", TINYINT, nullable=False),  # 1 Open ... 4 Paid 5 Void
    Column("invttl", MONEY, nullable=False),  # invoice total (retention included)
    Column("retain", MONEY, nullable=False),  # retention withheld
    Column("invbal", MONEY, nullable=False),
)

acrpmt = Table(  # cash receipts of receivable invoices (3-3-1)
    "acrpmt", metadata,
    Column("_idnum", GUID, primary_key=True),
    Column("_idref", GUID, nullable=False),  # -> acrinv._idnum
    Column("recnum", BIGINT, nullable=False),  # = acrinv.recnum
    Column("chknum", NVARCHAR(20), nullable=False),
    Column("chkdte", DATE, nullable=False),
    Column("amount", MONEY, nullable=False),
)

prmchg = Table(  # change orders (6-4-1); what the receivables pull reads
    "prmchg", metadata,
    Column("_idnum", GUID, nullable=False),
    Column("recnum", BIGINT, primary_key=True),
    Column("jobnum", BIGINT, nullable=False),
    Column("status", TINYINT, nullable=False),  # 1 Approved 2 Open ... 5 Void 6 Rejected
)

pmcgln = Table(  # prime (owner) lines of a change order
    "pmcgln", metadata,
    Column("_idnum", GUID, primary_key=True),
    Column("_idref", GUID, nullable=False),  # -> prmchg._idnum
    Column("aprprc", MONEY, nullable=False),  # approved price
)

# The job's contract columns (contract reads, receivables pull), beside ``actrec`` so that
# table stays what the job pull reads.
contract_metadata = MetaData(schema=SCHEMA)
actrec_contract = Table(
    "actrec", contract_metadata,
    Column("recnum", BIGINT, primary_key=True),  # the job number
    Column("jobnme", NVARCHAR(75), nullable=False),
    Column("status", TINYINT, nullable=False),  # 1 Bid ... 6 Closed
    Column("cntrct", MONEY, nullable=False),  # Contract
    Column("retain", MONEY, nullable=False),  # Retain Rate (%)
    Column("connum", NVARCHAR(30), nullable=False),  # Contract#
    Column("pchord", NVARCHAR(20), nullable=False),  # Client PO#
)

source = Table(  # posting sources (journals): jobcst.srcnum -> recnum
    "source", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("srcnme", NVARCHAR(50), nullable=False),  # the journal's name
)

jobcst = Table(  # job cost transactions (6-3); only what the job cost pull reads
    "jobcst", metadata,
    Column("recnum", BIGINT, primary_key=True),
    Column("jobnum", BIGINT, nullable=False),
    Column("phsnum", BIGINT, nullable=False),  # 0 = no phase
    Column("trnnum", NVARCHAR(20), nullable=False),  # transaction (invoice) number
    Column("trndte", DATE, nullable=True),
    Column("dscrpt", NVARCHAR(50), nullable=False),
    Column("cstcde", COST_CODE, nullable=False),
    Column("csttyp", TINYINT, nullable=False),
    Column("cstamt", MONEY, nullable=False),
    Column("csthrs", HOURS, nullable=False),
    Column("vndnum", BIGINT, nullable=True),
    Column("empnum", BIGINT, nullable=True),
    Column("eqpnum", BIGINT, nullable=True),
    Column("srcnum", TINYINT, nullable=False),  # -> source.recnum (the journal)
    Column("actprd", TINYINT, nullable=False),  # posting period
    Column("postyr", SMALLINT, nullable=False),
    Column("status", TINYINT, nullable=False),  # 1 Open (posted) 2 Void
    Column("insdte", STAMP, nullable=True),
    Column("upddte", STAMP, nullable=True),
)
