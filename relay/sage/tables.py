"""The Sage 100 Contractor tables the agent reads, as SQLAlchemy Core metadata.

Names and SQL types are Sage's own (SQL Server, schema dbo), as collected in
reference/sage-schema/real_schema.json: recnum is bigint except on cstcde, where the
cost code itself is the key, decimal(15,3); booleans are tinyint 0/1 except
cstcde.inactv, which is nvarchar(2) holding 'T' for an inactive code. A width real_schema
only knows as "string" (jobphs.phsnme, csttyp.typnme) is ours (50).

The same ``Table`` objects serve the embedded SQLite stand-in and a real Sage company
database: statements built on them compile for either dialect. On SQLite the schema name
``dbo`` is translated away (``SQLITE_EXECUTION``), and decimal(15,3) reads back as a float
(SQLite has no decimal type) that ``relay.sage.reads`` turns into the exact code.
"""

from __future__ import annotations

from sqlalchemy import BIGINT, DECIMAL, NVARCHAR, Column, MetaData, Table
from sqlalchemy.dialects.mssql import TINYINT

SCHEMA = "dbo"
# Execution options for an engine on the embedded SQLite file, which has no schemas.
SQLITE_EXECUTION = {"schema_translate_map": {SCHEMA: None}}

metadata = MetaData(schema=SCHEMA)

# decimal(15,3); on SQLite read as a number without SQLAlchemy's float->Decimal warning.
COST_CODE = DECIMAL(15, 3).with_variant(DECIMAL(15, 3, asdecimal=False), "sqlite")

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
