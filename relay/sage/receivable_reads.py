"""The receivables pull's statement (PULL_RECEIVABLES, list ``receivables``): Sage's owner
side per job, for the reconciliation report (docs/job-costs.md).

One derived table, a UNION ALL like the commitments pull's (relay/sage/reads.py), keyed by
(kind, recnum), the kind a number written into the statement:

* kind 1, one row per job (actrec): its contract amount (cntrct), contract number
  (connum) and the approved prime change total: SUM(pmcgln.aprprc) of the prime lines of
  the job's change orders that are Approved (prmchg.status 1; any phase), 0 when none;
* kind 2, one row per receivable invoice (acrinv): its number, status, total (invttl,
  retention included), retention (retain) and received: SUM(acrpmt.amount) of the cash
  receipts against it (acrpmt._idref = acrinv._idnum), 0 when none.

Every job comes before every invoice, each in record order; ``job`` narrows both to one
job. The sums are correlated scalar subqueries, so a row is never repeated by a join. Built
with SQLAlchemy Core only (nothing SQLite-only), so it runs on the embedded file and on a
real Sage company database alike; the row shape is relay/sage/reads.py's ``_receivable``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import INTEGER, cast, func, literal_column, null, select, union_all

from relay.sage.tables import MONEY, acrinv, acrpmt, actrec_contract, pmcgln, prmchg

JOB_CONTRACT, RECEIVABLE_INVOICE = 1, 2  # the kind: the first key column
KINDS: dict[int, tuple[str, str]] = {JOB_CONTRACT: ("actrec", "job_contract"),
                                     RECEIVABLE_INVOICE: ("acrinv", "invoice")}
APPROVED_CHANGE = 1  # prmchg.status 1 Approved

_NONE = cast(null(), MONEY)  # a column the other kind does not have


def _kind(value: int) -> Any:
    return literal_column(str(value), INTEGER).label("kind")


_APPROVED_CHANGES = (
    select(func.coalesce(func.sum(pmcgln.c.aprprc), 0))
    .select_from(pmcgln.join(prmchg, prmchg.c._idnum == pmcgln.c._idref))
    .where(prmchg.c.jobnum == actrec_contract.c.recnum, prmchg.c.status == APPROVED_CHANGE)
    .scalar_subquery()
)
_RECEIVED = (select(func.coalesce(func.sum(acrpmt.c.amount), 0))
             .where(acrpmt.c._idref == acrinv.c._idnum).scalar_subquery())

RECEIVABLES = union_all(
    select(_kind(JOB_CONTRACT), actrec_contract.c.recnum,
           actrec_contract.c.recnum.label("jobnum"), actrec_contract.c.connum.label("number"),
           actrec_contract.c.status, actrec_contract.c.cntrct.label("contract"),
           _APPROVED_CHANGES.label("changes"), _NONE.label("invoiced"),
           _NONE.label("retention"), _NONE.label("received")),
    select(_kind(RECEIVABLE_INVOICE), acrinv.c.recnum, acrinv.c.jobnum,
           acrinv.c.invnum.label("number"), acrinv.c.status, _NONE.label("contract"),
           _NONE.label("changes"), acrinv.c.invttl.label("invoiced"),
           acrinv.c.retain.label("retention"), _RECEIVED.label("received")),
).subquery("receivables")
