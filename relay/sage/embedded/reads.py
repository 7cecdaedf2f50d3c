"""The embedded Sage's reads: the paged list reads behind ``read`` (pulls) and the
inspection helpers tests and the CLI use.

Pulls (``read``) are relay/sage/reads.py's SQLAlchemy statements, the very ones that run
on a real Sage company database, executed on this file: jobs, vendors, cost codes, cost
types, phases, budget lines, payments (acppmt with its acpinv) and commitments (subcon
and pchord with the sums of the payable invoices naming them) in key order with an
opaque cursor holding the last key returned (keyset pagination: a page is never shifted
by rows added before it), and one job's job costs (``read_job_costs``: jobcst with its
journal and an AP row's commitment, by changed at and recnum, capped at ``until``). They
read what is committed (a pull never runs inside ``batch()``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from relay.sage.contract_reads import SageContractReads
from relay.sage.embedded.database import SageDatabase
from relay.sage.port import UNAVAILABLE, SageError
from relay.sage.reads import READABLE_TABLES, SageReads, cost_code_text
from relay.sage.tables import SQLITE_EXECUTION

__all__ = ["READABLE_TABLES", "Reads"]

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)", re.IGNORECASE)


def _decoder(declared: str) -> Callable[[Any], Any] | None:
    """How a stored value of a column declared ``declared`` reads back (None: as is).

    SQLite keeps a DECIMAL(p,s) as an integer or a float, exact to p <= 15 digits.
    """
    match = _DECIMAL.fullmatch(declared.strip())
    if match is None:
        return None
    if (match.group(1), match.group(2)) == ("15", "3"):  # a cost code
        return cost_code_text
    quantum = Decimal(1).scaleb(-int(match.group(2)))
    return lambda value: Decimal(str(value)).quantize(quantum)


class Reads(SageDatabase):
    """Pulls and the inspection helpers (a part of EmbeddedSage)."""

    # -- SagePort: pulls ---------------------------------------------------------------------

    @cached_property
    def _pulls(self) -> SageReads:
        # A new connection per read (NullPool), as for every other operation on the file.
        engine = create_engine(URL.create("sqlite", database=str(self.path)),
                               poolclass=NullPool, connect_args={"timeout": self.timeout},
                               execution_options=SQLITE_EXECUTION)
        return SageReads(engine, errors=self._read_error)

    def _read_error(self, exc: DBAPIError) -> SageError:
        if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.OperationalError):
            return self._unavailable(exc.orig)
        return SageError(UNAVAILABLE, f"Company database {self.path.name} failed: {exc.orig}")

    def read(self, table: str, *, after: str | None, limit: int,
             job: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``table`` (jobs, vendors, cost_codes, cost_types, phases, budgets,
        payments, commitments) in key order.

        ``after`` is the cursor a previous page returned (None for the first page); the
        result is (rows, cursor of the next page, or None on the last page). ``job``
        narrows phases, budgets and commitments to one job. Unknown table, bad cursor or limit ->
        ValueError.
        """
        return self._pulls.read(table, after=after, limit=limit, job=job)

    def read_job_costs(self, job: int, *, after: str | None, until: str | None,
                       limit: int) -> tuple[list[dict[str, Any]], str | None, str]:
        """One page of ``job``'s job costs (jobcst, Open and Void) changed after the cursor
        ``after`` and not after ``until``, by (changed at, recnum): (rows, cursor of the
        next page or None, the cap). ``until`` None: this file's clock less
        JOB_COST_SETTLE_SECONDS. Bad job, cursor, cap or limit -> ValueError.
        """
        return self._pulls.read_job_costs(job, after=after, until=until, limit=limit)

    def read_job_contract(self, job: int) -> dict[str, Any]:
        """The job's contract and budget lines (relay/sage/contract_reads.py)."""
        return SageContractReads(self._pulls.engine, self._read_error).read_job_contract(job)

    # -- reads for tests and the CLI -----------------------------------------------------------

    def tables(self) -> list[str]:
        """Names of the Sage tables in this file, in creation order (not the stand-in's own
        settings tables, whose names start with _: they are no Sage table)."""
        with self._read() as conn:
            return [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND substr(name, 1, 1) <> '_' "
                "ORDER BY rowid")]

    def columns(self, table: str) -> list[str]:
        """Column names of ``table``, or KeyError if it is not a Sage table here."""
        if table not in self.tables():
            raise KeyError(f"no table {table!r}; tables: {', '.join(self.tables())}")
        with self._read() as conn:
            return [r["name"] for r in conn.execute(f"PRAGMA table_info({table})")]

    def declared_types(self, table: str) -> dict[str, str]:
        """Column name -> declared SQL type of ``table`` (KeyError if it is not here)."""
        if table not in self.tables():
            raise KeyError(f"no table {table!r}; tables: {', '.join(self.tables())}")
        with self._read() as conn:
            return {r["name"]: r["type"] for r in conn.execute(f"PRAGMA table_info({table})")}

    def rows(self, table: str, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``table`` in insertion order, filtered by column = value pairs.

        Values come back as Sage's columns hold them: decimals as Decimal with the column's
        scale ("1500.00"), cost codes (decimal(15,3)) as the protocol's text ("3300.000").
        """
        decoders = {name: _decoder(declared)
                    for name, declared in self.declared_types(table).items()}
        where = dict(where or {})
        unknown = [name for name in where if name not in decoders]
        if unknown:
            raise KeyError(f"{table} has no column {unknown[0]!r}")
        clause = " AND ".join(f"{name} = ?" for name in where) or "1"
        # Identifiers were checked against sqlite_master and PRAGMA table_info above.
        sql = f"SELECT * FROM {table} WHERE {clause} ORDER BY rowid"  # noqa: S608 # nosec B608
        with self._read() as conn:
            found = conn.execute(sql, tuple(where.values())).fetchall()
        return [{name: value if decoders[name] is None or value is None
                 else decoders[name](value) for name, value in dict(row).items()}
                for row in found]

    def count(self, table: str) -> int:
        """Number of rows in ``table``."""
        self.columns(table)  # validates the name
        with self._read() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 # nosec B608

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

