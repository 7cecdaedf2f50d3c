"""READ_JOB_CONTRACT's read: a job's contract as Sage 100 Contractor holds it.

Built with SQLAlchemy Core like the pulls (relay/sage/reads.py), so the same statements
run on the embedded SQLite file and on a real Sage company database on SQL Server:

* the job (actrec): its contract amount (cntrct), retention rate (retain, %), contract
  number (connum), client PO (pchord), name and status;
* its budget lines (bdglin, 6-2), one per phase and cost code, with the cost code's name
  (cstcde, outer-joined) and the phase's name (jobphs, outer-joined): the schedule of
  values the prime contract import builds (docs/decisions.md, "Prime contract import:
  the schedule of values from the job's budget lines"). Each line's amount is its
  current total budget (ttlbdg).

Amounts travel as text with two decimals (never a float). A job Sage does not have answers
SageError 12802 with Sage's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.exc import DBAPIError

from relay.sage.port import INVALID_REFERENCE, SageError
from relay.sage.reads import cost_code_text, money_text
from relay.sage.tables import actrec_contract, bdglin, cstcde, jobphs


def job_statement(job: int) -> Select[Any]:
    a = actrec_contract.c
    return select(a.recnum, a.jobnme, a.status, a.cntrct, a.retain, a.connum,
                  a.pchord).where(a.recnum == job)


def lines_statement(job: int) -> Select[Any]:
    source = bdglin.outerjoin(cstcde, cstcde.c.recnum == bdglin.c.cstcde).outerjoin(
        jobphs, and_(jobphs.c.recnum == bdglin.c.recnum, jobphs.c.phsnum == bdglin.c.phsnum))
    return (select(bdglin.c.phsnum, bdglin.c.linnum, bdglin.c.cstcde, bdglin.c.ttlbdg,
                   cstcde.c.cdenme, jobphs.c.phsnme)
            .select_from(source).where(bdglin.c.recnum == job)
            .order_by(bdglin.c.phsnum, bdglin.c.cstcde, bdglin.c.linnum))


def shape_contract(job: Any, lines: list[Any]) -> dict[str, Any]:
    """The protocol's read_job_contract row (relay_protocol's shapes comment)."""
    return {
        "job": int(job.recnum), "name": job.jobnme or "", "status": int(job.status or 0),
        "contract": money_text(job.cntrct or 0), "retention_rate": money_text(job.retain or 0),
        "contract_number": job.connum or "", "client_po": job.pchord or "",
        "lines": [{"phase": int(r.phsnum) or None, "line": int(r.linnum),
                   "cost_code": cost_code_text(r.cstcde), "name": r.cdenme or "",
                   "phase_name": r.phsnme or "", "total": money_text(r.ttlbdg or 0)}
                  for r in lines],
    }


class SageContractReads:
    """``read_job_contract`` over one SQLAlchemy engine (the embedded file or a real Sage);
    ``errors`` turns a driver error into Sage's 17000 as the pulls do."""

    def __init__(self, engine: Any, errors: Callable[[DBAPIError], SageError]) -> None:
        self.engine = engine
        self._errors = errors

    def read_job_contract(self, job: int) -> dict[str, Any]:
        """The job's contract and budget lines; SageError 12802 when Sage has no such job,
        17000 when the database fails (retryable when it could not be reached)."""
        if isinstance(job, bool) or not isinstance(job, int) or not 1 <= job < 10**10:
            raise SageError(INVALID_REFERENCE, f"Job {job} does not exist (actrec.recnum)")
        try:
            with self.engine.connect() as conn:
                found = conn.execute(job_statement(job)).first()
                lines = conn.execute(lines_statement(job)).all() if found else []
        except DBAPIError as exc:
            raise self._errors(exc) from exc
        if found is None:
            raise SageError(INVALID_REFERENCE, f"Job {job} does not exist (actrec.recnum)")
        return shape_contract(found, list(lines))
