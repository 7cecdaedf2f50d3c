"""The embedded Sage 100 Contractor company database: SQLite with Sage's own layout.

It is the default behind relay/sage/port.py so the whole connector runs and is tested
without a Sage server. Tables and columns carry Sage's real names (schema.sql), and writes
apply the rules a real Sage applies, refusing with Sage's own error codes, so the agent
and the cloud see the same outcomes they will see against the real product.

Concurrency: a new connection per operation, WAL journal, and ``BEGIN IMMEDIATE`` for
every write, so the agent's threads and a CLI in another process can share one file;
each write (header plus lines) is a single transaction. A write that cannot get the lock
within ``timeout`` seconds raises SageError(UNAVAILABLE, retryable=True).

Columns carry Sage's SQL types (DECIMAL(12,2), DECIMAL(15,3) cost codes, NVARCHAR(n),
BIGINT, DATE, ...) and its conventions (NOT NULL text is '' when empty, "no phase" is 0);
decimals are stored and compared as numbers and read back as ``Decimal`` with the column's
scale, cost codes as the protocol's text ("3300.000").

The package: ``schema`` (the DDL, schema.sql), ``rules`` (Sage's validation rules and
error codes), ``posting`` (posting periods, job cost distribution and change order
numbers), ``database`` (connections and transactions),
``writes`` (the port's commands), ``budgets`` (the budget commands), ``change_orders``
(commitment change orders: subcontract change orders, lines appended to a PO),
``payables`` (subcontractor invoices in accounts payable), ``payments`` (a payment
of a payable invoice, for tests and the demo), ``job_costs`` (jobcst rows posted in a
journal, voided or corrected, for tests, the demo and the bench), ``periods`` (the company's
posting periods, kept in the stand-in's own ``_posting`` table), ``reads`` (the
paged list reads and the inspection helpers), ``demo_data`` (seeding), composed into
``EmbeddedSage`` in ``company``.
"""

from relay.sage.embedded.company import EmbeddedSage
from relay.sage.embedded.demo_data import (
    DEMO_COST_CODES,
    DEMO_JOBS,
    DEMO_PHASES,
    DEMO_TAX_IDS,
    DEMO_VENDORS,
)
from relay.sage.embedded.reads import READABLE_TABLES
from relay.sage.embedded.rules import COST_TYPES, JOB_STATUS, normalize_cost_code
from relay.sage.embedded.schema import SCHEMA_FILE

__all__ = [
    "COST_TYPES",
    "DEMO_COST_CODES",
    "DEMO_JOBS",
    "DEMO_PHASES",
    "DEMO_TAX_IDS",
    "DEMO_VENDORS",
    "JOB_STATUS",
    "READABLE_TABLES",
    "SCHEMA_FILE",
    "EmbeddedSage",
    "normalize_cost_code",
]
