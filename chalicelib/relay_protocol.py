"""What the cloud and the on-premises relay agent say to each other.

Commands go cloud -> agent on the company's relay command queue (FIFO, grouped by Sage
job); results and heartbeats go agent -> cloud on the relay results queue. Both sides
import these models (the agent imports this module), so a field cannot drift between
them. Every message is JSON well under SQS's 256 KB; pulls are paged.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1


class CommandType(StrEnum):
    ADD_SUBCONTRACT = "add_subcontract"
    ADD_PURCHASE_ORDER = "add_purchase_order"
    ADD_JOB = "add_job"
    ADD_VENDOR = "add_vendor"
    # A synced commitment's header changed in Procore: update the Sage record in place.
    MODIFY_SUBCONTRACT = "modify_subcontract"
    MODIFY_PURCHASE_ORDER = "modify_purchase_order"
    # Budgets: the first export writes the job's budget; later change sets write only the
    # lines that changed (current columns; Sage's originals stay as they are).
    ADD_BUDGET = "add_budget"
    CHANGE_BUDGET = "change_budget"
    # Commitment change orders: a subcontract's as prmchg + sbcgln (Sage numbers it per
    # job); a purchase order's appended to the original PO as new pcorln lines.
    ADD_SUBCONTRACT_CHANGE_ORDER = "add_subcontract_change_order"
    APPEND_PURCHASE_ORDER_LINES = "append_purchase_order_lines"
    # A subcontractor invoice: acpinv + apivln + the job cost distribution (jobcst).
    ADD_PAYABLE_INVOICE = "add_payable_invoice"
    # Setup records sent from Procore through acceptance: a cost code added to Sage's
    # company-wide list (cstcde), a sub job added as a phase of its job (jobphs).
    ADD_COST_CODE = "add_cost_code"
    ADD_PHASE = "add_phase"
    # An approved owner invoice (payment application): acrinv + arivln in Sage AR.
    ADD_RECEIVABLE_INVOICE = "add_receivable_invoice"
    # An approved prime contract change order (PCCO): prmchg + pmcgln, or its prime lines
    # added to the change order a CCO of the same change event wrote (PrimeChangeOrderPayload).
    ADD_PRIME_CHANGE_ORDER = "add_prime_change_order"
    # Pulls: read-only, answered with one Result per page (page 1.., more=False on the last).
    PULL_JOBS = "pull_jobs"
    PULL_VENDORS = "pull_vendors"
    PULL_COST_CODES = "pull_cost_codes"
    PULL_COST_TYPES = "pull_cost_types"
    PULL_PHASES = "pull_phases"
    PULL_BUDGETS = "pull_budgets"
    PULL_PAYMENTS = "pull_payments"  # payments of payable invoices (acppmt)
    PULL_COMMITMENTS = "pull_commitments"  # subcon + pchord totals (reconciliation)
    PULL_RECEIPTS = "pull_receipts"  # receipts of receivable (owner) invoices (acrpmt)
    # Jobs' contracts and approved prime changes, receivable invoices' totals (reconciliation)
    PULL_RECEIVABLES = "pull_receivables"
    # Job cost transactions of one job since a cursor: ONE page per command, answered by
    # one Result (rows in ``data_zlib``); the connector asks for the next page only after
    # Procore accepted this one, so its cursor never runs ahead of Procore.
    PULL_JOB_COSTS = "pull_job_costs"
    # A job's contract for the prime contract import: actrec (contract amount, retention)
    # and its budget lines (bdglin) as the schedule of values; one Result, rows in data_zlib.
    READ_JOB_CONTRACT = "read_job_contract"


PULLS = frozenset({CommandType.PULL_JOBS, CommandType.PULL_VENDORS,
                   CommandType.PULL_COST_CODES, CommandType.PULL_COST_TYPES,
                   CommandType.PULL_PHASES, CommandType.PULL_BUDGETS,
                   CommandType.PULL_PAYMENTS, CommandType.PULL_COMMITMENTS,
                   CommandType.PULL_RECEIPTS, CommandType.PULL_RECEIVABLES})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- payloads (Sage 100 Contractor's own terms; see reference/sage100c.md) ------------------
CostCode = Annotated[str, Field(pattern=r"^[1-9]\d{0,11}\.\d{3}$")]  # cstcde, e.g. "3300.000"
CostType = Annotated[int, Field(ge=1, le=9)]  # csttyp 1-9


class SubcontractLine(_Model):
    line_number: int = Field(ge=1)  # sbcnln.linnum
    description: str  # sbcnln.dscrpt
    cost_code: CostCode  # sbcnln.cstcde
    cost_type: CostType  # sbcnln.csttyp
    amount: Decimal  # sbcnln.amount (original contract amount of the line)


class SubcontractPayload(_Model):
    """subcon + sbcnln: a Procore subcontract (work order contract) as Sage records it."""

    job: int  # subcon.jobnum -> actrec.recnum
    phase: int | None = None  # subcon.phsnum -> jobphs.phsnum
    vendor: int  # subcon.vndnum -> actpay.recnum
    number: str  # subcon.ctcnum, unique per job
    description: str  # subcon.dscrpt
    status: int = Field(default=3, ge=1, le=6)  # 3 = Contract (UNCONFIRMED for Approved)
    retention_rate: Decimal | None = None  # subcon.rtnrte (%)
    contract_date: date | None = None  # subcon.condte
    lines: list[SubcontractLine] = Field(min_length=1)


class PurchaseOrderLine(_Model):
    line_number: int = Field(ge=1)  # pcorln.linnum
    description: str  # pcorln.prtdsc
    quantity: Decimal  # pcorln.linqty
    unit_price: Decimal  # pcorln.linprc
    amount: Decimal  # pcorln.extttl
    cost_code: CostCode
    cost_type: CostType


class PurchaseOrderPayload(_Model):
    """pchord + pcorln: a Procore purchase order contract as Sage records it."""

    job: int
    phase: int | None = None
    vendor: int
    number: str  # pchord.ordnum, unique
    description: str
    status: int = Field(default=1, ge=1, le=6)  # 1 = Open
    order_date: date | None = None  # pchord.orddte
    lines: list[PurchaseOrderLine] = Field(min_length=1)


class SubcontractHeaderPayload(_Model):
    """The subcon header fields a synced subcontract may change in place.

    Lines and amounts never travel here: after sync they change through change orders.
    ``record`` is the subcon.recnum the add returned; ``number`` must still be that
    record's ctcnum (a guard against writing to the wrong record).
    """

    job: int  # subcon.jobnum
    record: int = Field(ge=1)  # subcon.recnum
    number: str  # subcon.ctcnum (unchanged)
    description: str  # subcon.dscrpt
    status: int = Field(ge=1, le=6)  # subcon.status
    retention_rate: Decimal | None = None  # subcon.rtnrte (%); None leaves it as it is
    contract_date: date | None = None  # subcon.condte; None leaves it as it is


class PurchaseOrderHeaderPayload(_Model):
    """The pchord header fields a synced purchase order may change in place."""

    job: int  # pchord.jobnum
    record: int = Field(ge=1)  # pchord.recnum
    number: str  # pchord.ordnum (unchanged)
    description: str  # pchord.dscrpt
    status: int = Field(ge=1, le=6)  # pchord.status
    order_date: date | None = None  # pchord.orddte; None leaves it as it is


class JobPayload(_Model):
    """actrec: a Procore project exported as a Sage job (the approver picks the number)."""

    job: int = Field(ge=1, le=9_999_999_999)  # actrec.recnum
    name: str = Field(min_length=1, max_length=75)  # actrec.jobnme
    short_name: str | None = Field(default=None, max_length=30)  # actrec.shtnme
    status: int = Field(default=4, ge=1, le=6)  # 4 = Current
    address: str | None = Field(default=None, max_length=50)  # actrec.addrs1
    city: str | None = Field(default=None, max_length=50)  # actrec.ctynme
    state: str | None = Field(default=None, max_length=2)  # actrec.state_
    zip_code: str | None = Field(default=None, max_length=10)  # actrec.zipcde


class VendorPayload(_Model):
    """actpay: a Procore company exported as a Sage vendor."""

    vendor: int | None = Field(default=None, ge=1)  # actpay.recnum; None = next free number
    name: str = Field(min_length=1, max_length=75)  # actpay.vndnme
    short_name: str | None = Field(default=None, max_length=30)  # actpay.shtnme
    address: str | None = Field(default=None, max_length=50)
    city: str | None = Field(default=None, max_length=50)
    state: str | None = Field(default=None, max_length=2)
    zip_code: str | None = Field(default=None, max_length=10)
    tax_id: str | None = Field(default=None, max_length=20)  # column name UNCONFIRMED


class BudgetLine(_Model):
    """One bdglin row: a job (and phase) and cost code, with one budget column per type.

    ``amounts`` are the current budget columns by cost type (1 matbdg, 2 labbdg, 3 eqpbdg,
    4 subbdg, 5 othbdg, 6-9 usrcs6..9); ttlbdg is their sum, computed by the writer.
    ``originals`` are the *org columns; they are written only when the row is new in Sage
    (Sage keeps a budget's originals when it changes). Amounts are absolute values, never
    deltas, so applying a command twice leaves Sage as applying it once.
    """

    phase: int | None = Field(default=None, ge=1)  # bdglin.phsnum; None = no phase (0)
    cost_code: CostCode  # bdglin.cstcde
    unit: str | None = Field(default=None, max_length=10)  # bdglin.untdsc
    amounts: dict[CostType, Decimal] = Field(min_length=1)
    originals: dict[CostType, Decimal] = Field(default_factory=dict)


class BudgetPayload(_Model):
    """budget + bdglin: a Procore budget exported to a Sage job that has no budget lines.

    Sage refuses it when the job already has budget lines (a budget is set up in one
    system, never in both) or its budget is locked.
    """

    job: int  # budget.recnum = bdglin.recnum -> actrec.recnum
    lines: list[BudgetLine] = Field(min_length=1)


class BudgetChangePayload(_Model):
    """A change set of an exported budget: only the rows that changed.

    A row of the job that exists gets the named current columns set (the others and every
    original stay); a row that does not exist is added with its originals. A line deleted
    in Procore arrives as its amounts set to 0 (Sage keeps the row: its originals and job
    cost history refer to it).
    """

    job: int
    lines: list[BudgetLine] = Field(min_length=1)


class SubcontractChangeLine(_Model):
    """One sbcgln row: a change to a subcontract line, or a new line it adds."""

    subcontract_line: int | None = Field(default=None, ge=1)  # sbcgln.ctclin; None = new
    description: str = Field(max_length=50)  # sbcgln.dscrpt
    cost_code: CostCode  # sbcgln.cstcde
    cost_type: CostType  # sbcgln.csttyp
    amount: Decimal  # sbcgln.bdgprc: the change, + or -


class SubcontractChangeOrderPayload(_Model):
    """prmchg + sbcgln: an approved Procore CCO on a subcontract already in Sage.

    Sage numbers the change order (the job's next chgnum); ``reference`` (the Procore CCO,
    e.g. "CCO 123 #002") goes into prmchg.dscrpt's start so the agent can find the change
    order it wrote before a crash. The subcontract's line change/new contract/remaining and
    its chgttl/ctcttl/balttl follow the approved lines; a new line becomes a sbcnln line.
    ``join``: the prmchg a PCCO of the same Procore change event wrote; an approved CCO's
    lines go there when Sage still takes them (relay/sage/embedded/cost_joins.py).
    """

    job: int  # prmchg.jobnum (= subcon.jobnum)
    subcontract: int = Field(ge=1)  # sbcgln.vndctc -> subcon.recnum
    subcontract_number: str  # subcon.ctcnum (a guard against the wrong record)
    vendor: int  # sbcgln.vndnum (= subcon.vndnum)
    reference: str = Field(min_length=1, max_length=20)
    description: str = Field(max_length=50)  # prmchg.dscrpt (reference first)
    change_date: date  # prmchg.chgdte
    status: int = Field(default=1, ge=1, le=6)  # 1 Approved (lines chgsts too)
    join: int | None = Field(default=None, ge=1)  # prmchg.recnum to add the lines to
    lines: list[SubcontractChangeLine] = Field(min_length=1)


class PurchaseOrderAddedLine(_Model):
    """A pcorln line a purchase order change order appends (numbered after the last)."""

    description: str = Field(max_length=50)  # pcorln.prtdsc (reference first)
    quantity: Decimal  # pcorln.linqty
    unit_price: Decimal  # pcorln.linprc
    amount: Decimal  # pcorln.extttl (+ or -)
    cost_code: CostCode
    cost_type: CostType


class PurchaseOrderChangePayload(_Model):
    """A Procore CCO on a purchase order already in Sage, as Procore's connector exports
    it: new pcorln lines on the original PO (pchttl follows). ``reference`` starts each
    line's description so the agent can find lines it appended before a crash."""

    job: int
    order: int = Field(ge=1)  # pchord.recnum
    number: str  # pchord.ordnum (unchanged; a guard)
    reference: str = Field(min_length=1, max_length=20)
    lines: list[PurchaseOrderAddedLine] = Field(min_length=1)


class PayableInvoiceLine(_Model):
    """One billed subcontract line: an apivln line and its job cost distribution row."""

    line_number: int = Field(ge=1)  # apivln.linnum
    subcontract_line: int = Field(ge=1)  # sbcnln.linnum it bills (billed/remain follow)
    description: str = Field(max_length=50)  # apivln.prtdsc, jobcst.dscrpt
    cost_code: CostCode  # jobcst.cstcde
    cost_type: CostType  # jobcst.csttyp
    amount: Decimal  # apivln.extttl = jobcst.cstamt: work completed this period
    retention: Decimal = Decimal("0")  # retainage withheld on this line


class PayableInvoicePayload(_Model):
    """acpinv + apivln + jobcst: a Procore subcontractor invoice in Sage accounts payable.

    Sage posts it to the period of ``invoice_date`` (a locked or closed period refuses
    it), refuses an invoice number the vendor already used (unless the vendor allows
    duplicates, actpay.dupchk), and requires the job cost distribution to total the
    ledger (invttl); the subcontract's and its lines' billed amounts follow.
    """

    job: int  # acpinv.jobnum
    vendor: int  # acpinv.vndnum (= subcon.vndnum)
    subcontract: int = Field(ge=1)  # subcon.recnum
    subcontract_number: str  # acpinv.ctcnum (= subcon.ctcnum)
    invoice_number: str = Field(min_length=1, max_length=20)  # acpinv.invnum
    description: str = Field(max_length=50)  # acpinv.dscrpt
    invoice_date: date  # acpinv.invdte: the billing date; sets the posting period
    due_date: date | None = None  # acpinv.duedte
    lines: list[PayableInvoiceLine] = Field(min_length=1)


class CostCodePayload(_Model):
    """cstcde: a Procore cost code Sage lacks, added to its company-wide cost code list.

    Sage refuses a code it has (12000), a division it does not have (12802) and values it
    cannot store (14050).
    """

    cost_code: CostCode  # cstcde.recnum, e.g. "3350.000"
    name: str = Field(min_length=1, max_length=50)  # cstcde.cdenme
    division: int | None = Field(default=None, ge=1, le=2_147_483_647)  # cstcde.divnum


class PhasePayload(_Model):
    """jobphs: a Procore sub job added as a phase of its project's Sage job.

    Sage refuses a job it does not have (12802), a phase the job has (12000) and values it
    cannot store (14050).
    """

    job: int = Field(ge=1, le=9_999_999_999)  # jobphs.recnum -> actrec.recnum
    phase: int = Field(ge=1, le=9_999_999_999)  # jobphs.phsnum
    name: str = Field(min_length=1, max_length=50)  # jobphs.phsnme


class PrimeChangeLine(_Model):
    """One pmcgln row: a prime contract change line (the owner's approved amount)."""

    description: str = Field(max_length=50)  # pmcgln.dscrpt (the PCCO reference first)
    cost_code: CostCode  # pmcgln.cstcde
    cost_type: CostType  # pmcgln.csttyp
    amount: Decimal  # pmcgln.reqprc = aprprc: the change to the contract, + or -


class PrimeChangeOrderPayload(_Model):
    """prmchg + pmcgln: an approved Procore PCCO (relay/sage/embedded/prime_changes.py).

    ``join``: the prmchg a CCO of the same Procore change event wrote; its prime lines go
    there when Sage still takes them (else a change order of its own, numbered by Sage).
    ``reference`` starts the description and each line's, so a crash never writes twice.
    """

    job: int = Field(ge=1)  # prmchg.jobnum
    reference: str = Field(min_length=1, max_length=20)
    description: str = Field(max_length=50)  # prmchg.dscrpt (reference first)
    change_date: date  # prmchg.chgdte = aprdte
    join: int | None = Field(default=None, ge=1)  # prmchg.recnum to add the lines to
    lines: list[PrimeChangeLine] = Field(min_length=1)


class ReceivableInvoiceLine(_Model):
    """One arivln line of an owner invoice (retention included in the amount)."""

    line_number: int = Field(ge=1)  # arivln.linnum
    description: str = Field(max_length=50)  # arivln.dscrpt
    cost_code: CostCode  # arivln.cstcde
    amount: Decimal  # arivln.extprc: work billed this period, retention included
    retention: Decimal | None = None  # None: the job's rate (actrec.retain) of the amount


class ReceivableInvoicePayload(_Model):
    """acrinv + arivln: an approved Procore owner invoice in Sage accounts receivable
    (relay/sage/embedded/receivables.py). Sage posts it to the period of ``invoice_date``
    and refuses an invoice number used in the company (14201)."""

    job: int = Field(ge=1)  # acrinv.jobnum
    invoice_number: str = Field(min_length=1, max_length=20)  # acrinv.invnum
    description: str = Field(max_length=50)  # acrinv.dscrpt
    invoice_date: date  # acrinv.invdte: the billing date; sets the posting period
    due_date: date | None = None  # acrinv.duedte
    phase: int = Field(default=0, ge=0)  # acrinv.phsnum, 0 = none
    client_po: str = Field(default="", max_length=20)  # acrinv.pchord
    lines: list[ReceivableInvoiceLine] = Field(min_length=1)


class PullPayload(_Model):
    """Read a Sage list in pages; ``job`` narrows phases, budget lines, commitments or
    receivables to one job."""

    page_size: int = Field(default=200, ge=1, le=1000)
    job: int | None = None


class JobCostPullPayload(_Model):
    """One page of a job's jobcst rows changed after ``after`` and not after ``until``.

    ``after`` is the cursor the previous page's Result returned (None: from the start);
    ``until`` caps the run at its start (None on a run's first page: the agent sets it to
    Sage's clock less JOB_COST_SETTLE_SECONDS and returns it, and every later page of the
    run carries it). Rows are ordered by (changed at, recnum): changed at = upddte, or
    insdte for a row never updated, so a row voided later comes again in a later run.
    """

    job: int = Field(ge=1)
    after: str | None = None
    until: str | None = None
    page_size: int = Field(default=1000, ge=1, le=1000)


# A row written this many seconds before a run's start may still be in an open Sage
# transaction when the run reads: the cap stays that far behind Sage's clock.
JOB_COST_SETTLE_SECONDS = 60


class JobContractPayload(_Model):
    """READ_JOB_CONTRACT: the job whose contract (actrec) and budget lines are read."""

    job: int = Field(ge=1, le=9_999_999_999)  # actrec.recnum


PAYLOADS: dict[CommandType, type[_Model]] = {
    CommandType.ADD_SUBCONTRACT: SubcontractPayload,
    CommandType.ADD_PURCHASE_ORDER: PurchaseOrderPayload,
    CommandType.ADD_JOB: JobPayload,
    CommandType.ADD_VENDOR: VendorPayload,
    CommandType.MODIFY_SUBCONTRACT: SubcontractHeaderPayload,
    CommandType.MODIFY_PURCHASE_ORDER: PurchaseOrderHeaderPayload,
    CommandType.ADD_BUDGET: BudgetPayload,
    CommandType.CHANGE_BUDGET: BudgetChangePayload,
    CommandType.ADD_SUBCONTRACT_CHANGE_ORDER: SubcontractChangeOrderPayload,
    CommandType.APPEND_PURCHASE_ORDER_LINES: PurchaseOrderChangePayload,
    CommandType.ADD_PAYABLE_INVOICE: PayableInvoicePayload,
    CommandType.ADD_COST_CODE: CostCodePayload,
    CommandType.ADD_PHASE: PhasePayload,
    CommandType.ADD_RECEIVABLE_INVOICE: ReceivableInvoicePayload,
    CommandType.ADD_PRIME_CHANGE_ORDER: PrimeChangeOrderPayload,
    **{pull: PullPayload for pull in PULLS},
    CommandType.PULL_JOB_COSTS: JobCostPullPayload,
    CommandType.READ_JOB_CONTRACT: JobContractPayload,
}

# Row shapes in pull results (Result.data), one dict per Sage record:
#   pull_jobs        {"job": 24001, "name", "short_name", "status", "address", "city",
#                     "state", "zip_code"}
#   pull_vendors     {"vendor": 3001, "name", "short_name", "inactive": bool, "tax_id",
#                     "address", "city", "state", "zip_code"}
#   pull_cost_codes  {"code": "3300.000", "name", "unit", "inactive": bool}
#   pull_cost_types  {"type": 1, "name": "Material"}
#   pull_phases      {"job": 24001, "phase": 1, "name"}
#   pull_budgets     {"job": 24001, "phase": None | 1, "line": 1, "cost_code": "3300.000",
#                     "unit": "", "amounts": {"1": "1200.00", ...},
#                     "originals": {"1": "1000.00", ...}, "total": "1200.00",
#                     "locked": bool}  (amounts/originals: every non-zero type, as strings)
#   pull_payments    {"payment": "<acppmt._idnum>", "invoice": 7 (acpinv.recnum),
#                     "invoice_number": "GB-1001", "vendor": 3001, "job": 24001,
#                     "check_number": "10452", "date": "2026-12-04", "amount": "11250.45",
#                     "invoice_status": 4, "invoice_balance": "0.00"}
#   pull_receipts    {"receipt": "<acrpmt._idnum>", "invoice": 3 (acrinv.recnum),
#                     "invoice_number": "OI-001", "job": 24001, "check_number": "5521",
#                     "date": "2024-05-20", "amount": "100000.00", "invoice_status": 1,
#                     "invoice_balance": "8000.00"}
#   pull_commitments {"sage_key": "subcon:17" | "pchord:5" (the commitment link's key),
#                     "kind": "subcontract" | "purchase_order", "job": 24001,
#                     "number": "SC-001" (ctcnum / ordnum), "vendor": 3001, "status": 4,
#                     "original": "60500.50" (subcon.cntttl; a PO: None),
#                     "changes": "1500.00" (subcon.chgttl; a PO: None),
#                     "total": "62000.50" (subcon.ctcttl / pchord.pchttl),
#                     "invoiced": "12500.50" (subcon.invttl; a PO: the sum of its payable
#                     invoices' invttl), "paid": "11250.45" (the sum of acpinv.amtpad of
#                     the payable invoices naming it, void ones left out)}
#   pull_receivables {"sage_key": "actrec:24001" | "acrinv:7", "kind": "job_contract" |
#                     "invoice", "job": 24001, "number": connum / invnum (None if blank),
#                     "status": 1, "contract": "950000.00" (actrec.cntrct), "changes":
#                     "12500.00" (pmcgln.aprprc of Approved prmchg) (an invoice: both None),
#                     "invoiced": "120000.00" (acrinv.invttl), "retention": "12000.00"
#                     (acrinv.retain), "received": "108000.00" (its acrpmt amounts) (a
#                     job: these None)}
#   pull_job_costs   {"record": 88 (jobcst.recnum), "job": 24001, "phase": None | 1,
#                     "cost_code": "3300.000", "cost_type": 1, "amount": "1250.00",
#                     "hours": "0.00", "date": "2026-11-02" | None, "description",
#                     "transaction": "GB-1001" (trnnum), "source": 11 (srcnum),
#                     "journal": "Accounts Payable" (source.srcnme, "" when unknown),
#                     "vendor": 3001 | None, "employee": None | 12, "equipment": None,
#                     "status": 1 | 2, "period": 11, "year": 2026,
#                     "commitment": None | "SC-001" (an AP row's acpinv.ctcnum or pchord,
#                     found by vendor + invoice number + job), "changed_at": "..."}
#                    Result.sage_keys: {"cursor": "<after the page's last row>" (the last
#                    page's too; the ``after`` asked when no row), "until": "<cap>"};
#                    more=True while rows remain before the cap.
#   read_job_contract ONE row (data_zlib): {"job": 24001, "name", "status": 4,
#                    "contract": "1250000.00" (actrec.cntrct), "retention_rate": "10.00"
#                    (actrec.retain %), "contract_number": "" (connum), "client_po": ""
#                    (pchord), "lines": [{"phase": None | 1, "line": 1, "cost_code":
#                    "3300.000", "name": "Concrete" (cstcde.cdenme, "" unknown),
#                    "phase_name": "" | "Structure", "total": "15200.00" (bdglin.ttlbdg)}]}
#                    (lines by phase and cost code); an unknown job: error 12802.


# ---- envelopes ------------------------------------------------------------------------------
# A payload whose JSON is bigger than this travels zlib-compressed and base64-encoded in
# ``payload_zlib`` (a 2,000-line commitment is ~300 KB of JSON; SQS takes 256 KB).
PAYLOAD_INLINE_MAX = 64 * 1024
# The compressed form must still fit one SQS message with its envelope.
PAYLOAD_PACKED_MAX = 200 * 1024


class PayloadTooLarge(ValueError):
    """Even compressed, the payload does not fit one queue message."""


class Command(_Model):
    protocol: int = PROTOCOL_VERSION
    command_id: str  # deterministic per (item, accepted version): repeats are the same command
    company_id: int
    type: CommandType
    item_id: str  # pulls: "pull:<type>"
    export_version: int  # the item version that was accepted
    payload: dict[str, Any] = Field(default_factory=dict)
    payload_zlib: str | None = None  # the payload, compressed, when it is large
    issued_at: str

    @classmethod
    def packed(cls, *, payload: dict[str, Any], **fields: Any) -> Command:
        """A command with ``payload`` inline, or compressed when its JSON is large."""
        raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
        if len(raw) <= PAYLOAD_INLINE_MAX:
            return cls(payload=payload, **fields)
        packed = base64.b64encode(zlib.compress(raw, 6)).decode()
        if len(packed) > PAYLOAD_PACKED_MAX:
            raise PayloadTooLarge(f"the command is {len(raw)} bytes ({len(packed)} compressed);"
                                  f" one queue message takes {PAYLOAD_PACKED_MAX}")
        return cls(payload={}, payload_zlib=packed, **fields)

    def payload_data(self) -> dict[str, Any]:
        """The payload as sent, whichever way it travelled."""
        if self.payload_zlib is None:
            return dict(self.payload)
        data: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(self.payload_zlib)))
        return data

    def typed_payload(self) -> Any:
        return PAYLOADS[self.type].model_validate(self.payload_data())


class SageFailure(_Model):
    code: int  # Sage's code: 12000, 12802, 14050, 14201, ...
    message: str  # Sage's words, shown to the user
    retryable: bool = False


class Result(_Model):
    kind: Literal["result"] = "result"
    protocol: int = PROTOCOL_VERSION
    command_id: str
    company_id: int
    item_id: str
    export_version: int
    ok: bool
    error: SageFailure | None = None
    sage_keys: dict[str, str] = Field(default_factory=dict)  # e.g. {"subcon": "17"}
    data: list[dict[str, Any]] | None = None  # pulls: one page of rows
    data_zlib: str | None = None  # the page compressed (job costs: 1,000 rows are ~350 KB)
    page: int | None = None
    more: bool = False
    attempts: int = 1
    agent_id: str
    finished_at: str


    def rows(self) -> list[dict[str, Any]]:
        """The page's rows, whichever way they travelled."""
        if self.data_zlib is not None:
            rows: list[dict[str, Any]] = json.loads(
                zlib.decompress(base64.b64decode(self.data_zlib)))
            return rows
        return list(self.data or [])

    @staticmethod
    def pack_rows(rows: list[dict[str, Any]]) -> str:
        raw = json.dumps(rows, separators=(",", ":"), default=str).encode()
        return base64.b64encode(zlib.compress(raw, 6)).decode()


class Heartbeat(_Model):
    kind: Literal["heartbeat"] = "heartbeat"
    protocol: int = PROTOCOL_VERSION
    agent_id: str
    company_id: int
    at: str
    agent_version: str = ""
    commands_applied: int = 0


class RelayMessage(BaseModel):
    """Parse whatever arrives on the results queue."""

    message: Annotated[Result | Heartbeat, Field(discriminator="kind")]

    @classmethod
    def parse(cls, raw: str | bytes) -> Result | Heartbeat:
        return cls.model_validate({"message": json.loads(raw)}).message
