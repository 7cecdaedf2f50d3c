"""The one port through which the agent talks to Sage 100 Contractor.

The embedded stand-in (relay/sage/embedded/, SQLite with Sage's real table and column
names) implements it today; a real Sage (MBXML writes, SQL Server reads) implements it
later. Writes return Sage's keys; refusals raise SageError with Sage's own code.
"""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.relay_protocol import (
    BudgetChangePayload,
    BudgetPayload,
    CostCodePayload,
    JobPayload,
    PayableInvoicePayload,
    PhasePayload,
    PrimeChangeOrderPayload,
    PurchaseOrderChangePayload,
    PurchaseOrderHeaderPayload,
    PurchaseOrderPayload,
    ReceivableInvoicePayload,
    SubcontractChangeOrderPayload,
    SubcontractHeaderPayload,
    SubcontractPayload,
    VendorPayload,
)

# Sage 100 Contractor API error codes (reference/sage100c.md section 4).
DUPLICATE_KEY = 12000
INVALID_REFERENCE = 12802  # unknown job, vendor, cost code, cost type
SECURITY_DENIED = 12806
INVALID_DATA = 14050  # lengths, formats, closed records, locked periods
CONSTRAINT_FAILED = 14201  # duplicate subcontract, PO or (per vendor) invoice number
UNAVAILABLE = 17000  # the company database is busy/locked; try again (connector's own code)


class SageError(Exception):
    def __init__(self, code: int, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"Sage error {code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class SageReader(Protocol):
    def read(self, table: str, *, after: str | None, limit: int,
             job: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a Sage list for pulls: table is one of jobs, vendors, cost_codes,
        cost_types, phases, budgets, payments, commitments (subcon and pchord, subcontracts
        first); rows in the shapes of relay_protocol's pull comment, ordered by key;
        returns (rows, cursor of the next page or None). The cursor is opaque (JSON of the
        last key). ``job`` narrows phases, budgets and commitments to one job.
        Unknown table, bad cursor or limit -> ValueError; the database unreachable ->
        SageError 17000 (retryable)."""
        ...

    def read_job_costs(self, job: int, *, after: str | None, until: str | None,
                       limit: int) -> tuple[list[dict[str, Any]], str | None, str]:
        """One page of ``job``'s job cost transactions for PULL_JOB_COSTS: jobcst rows
        (Open 1 and Void 2) changed after ``after`` and not after ``until``, ordered by
        (changed at, recnum), changed at = upddte, else insdte; rows in relay_protocol's
        pull_job_costs shape. Returns (rows, cursor of the next page or None, the cap).
        ``after`` is the opaque cursor a previous page returned (JSON of the last row's
        changed at and recnum; None: from the start). ``until`` None: the cap is Sage's
        clock less JOB_COST_SETTLE_SECONDS, read from the database; either way the cap
        comes back as text ('YYYY-MM-DD HH:MM:SS.SSS', UTC) for the run's later pages.
        Bad job, cursor, cap or limit -> ValueError; the database unreachable ->
        SageError 17000 (retryable)."""
        ...


class SagePort(SageReader, Protocol):
    def add_subcontract(self, payload: SubcontractPayload) -> dict[str, str]:
        """Insert subcon + sbcnln in one transaction; {"subcon": recnum, "ctcnum": ...}."""
        ...

    def add_purchase_order(self, payload: PurchaseOrderPayload) -> dict[str, str]:
        """Insert pchord + pcorln in one transaction; {"pchord": recnum, "ordnum": ...}."""
        ...

    def modify_subcontract(self, payload: SubcontractHeaderPayload) -> dict[str, str]:
        """Update the subcon header in place (never lines or amounts), in one transaction;
        {"subcon": recnum, "ctcnum": ...}. 12802 if the record is not on the job; 14050 if
        its number differs, it is locked (lckedt) or a value is invalid. None leaves the
        column as it is; applying the same modify twice leaves the same row."""
        ...

    def modify_purchase_order(self, payload: PurchaseOrderHeaderPayload) -> dict[str, str]:
        """Update the pchord header in place, as modify_subcontract does;
        {"pchord": recnum, "ordnum": ...}."""
        ...

    def find_subcontract(self, job: int, number: str) -> dict[str, str] | None:
        """Keys of the subcontract ``number`` on ``job`` if it exists (reconciliation)."""
        ...

    def find_purchase_order(self, number: str) -> dict[str, str] | None:
        """Keys of purchase order ``number`` if it exists (reconciliation)."""
        ...

    def add_job(self, payload: JobPayload) -> dict[str, str]:
        """Insert actrec; {"actrec": job}. 12000 if the job number exists."""
        ...

    def add_vendor(self, payload: VendorPayload) -> dict[str, str]:
        """Insert actpay (next free number when none is given); {"actpay": recnum}."""
        ...

    def find_job(self, job: int) -> dict[str, str] | None:
        ...

    def find_vendor(self, vendor: int | None, name: str) -> dict[str, str] | None:
        """By number when given, else by exact name (reconciliation after a crash)."""
        ...

    def add_budget(self, payload: BudgetPayload) -> dict[str, str]:
        """Write a job's first budget (budget header if missing + one bdglin row per line)
        in one transaction; {"budget": job, "lines": count}. 12802 unknown job, phase,
        cost code or cost type; 14201 the job already has budget lines (a budget is set up
        in one system, never in both); 14050 the budget is locked (budget.lckedt), two
        lines share a phase and cost code, or an amount does not fit decimal(12,2)."""
        ...

    def change_budget(self, payload: BudgetChangePayload) -> dict[str, str]:
        """Apply a change set in one transaction: an existing row (job, phase, cost code)
        gets the named current columns set (absolute values; originals stay), a missing
        one is added with its originals (0 when none are given);
        {"budget": job, "changed": rows updated, "added": rows inserted}. 12802 the job
        or its budget does not exist; otherwise refused as add_budget. Applying the same
        change twice leaves Sage as applying it once."""
        ...

    def find_budget(self, payload: BudgetPayload) -> dict[str, str] | None:
        """The keys add_budget returned if every line of ``payload`` is in Sage with
        exactly its current amounts (reconciliation), else None."""
        ...

    def add_subcontract_change_order(
            self, payload: SubcontractChangeOrderPayload) -> dict[str, str]:
        """Write a subcontract change order (prmchg, numbered the job's next chgnum, + one
        sbcgln per line) in one transaction; when Approved (status 1) the subcontract
        follows: a changed sbcnln line gets change += amount, cntrct = amount + change,
        remain = cntrct - billed; a new line is added as the subcontract's next line
        (original 0); subcon chgttl += total, ctcttl = cntttl + chgttl, balttl = ctcttl -
        invttl. With ``join`` (a PCCO's change order of the same change event, Approved, on
        the job, no phase, no sbcgln lines yet) an approved CCO's lines go there and only
        its cstamt changes. {"prmchg": recnum, "chgnum": number, "subcon": recnum,
        "joined": "true" | "false"}. 12802 unknown job,
        a subcontract not on the job or whose number or vendor differ, a subcontract line
        it does not have or whose cost code/type differ, an unknown cost code/type of a new
        line; 14050 the subcontract locked (lckedt), Refused or Closed, a description not
        starting with the reference, an amount or total outside decimal(12,2), a negative
        new contract total."""
        ...

    def find_subcontract_change_order(
            self, payload: SubcontractChangeOrderPayload) -> dict[str, str] | None:
        """The keys of the job's change order whose description starts with the command's
        reference and whose lines are on its subcontract, or whose lines on the
        subcontract start with it (joined; reconciliation), else None."""
        ...

    def append_purchase_order_lines(
            self, payload: PurchaseOrderChangePayload) -> dict[str, str]:
        """Append pcorln lines after the PO's last line (pchttl and pchbal follow) in one
        transaction; {"pchord": recnum, "lines": "first-last"}. 12802 unknown job, a PO
        that does not exist, whose number differs or that is on another job, an unknown
        cost code/type; 14050 the PO locked (lckedt), Closed (4) or Void (5), a
        description not starting with the reference, values Sage would not store, a
        negative PO total."""
        ...

    def find_purchase_order_lines(
            self, payload: PurchaseOrderChangePayload) -> dict[str, str] | None:
        """The keys of the PO's lines whose description starts with the command's
        reference (reconciliation), else None."""
        ...

    def add_payable_invoice(self, payload: PayableInvoicePayload) -> dict[str, str]:
        """Write a subcontractor invoice in accounts payable in one transaction: acpinv
        (invttl = the lines' amounts, retain = their retentions, invbal = invttl, nothing
        paid, actper/postyr = the period of the invoice date), one apivln line and one jobcst
        row (the job cost distribution, source 11 Accounts Payable) per line; the
        subcontract follows (sbcnln billed += amount, remain = cntrct - billed; subcon
        invttl += total, balttl = ctcttl - invttl).
        {"acpinv": recnum, "invnum": number, "period": "2025-03"}. 12802 unknown job or
        vendor, a subcontract not on the job or whose number or vendor differ, a
        subcontract line it does not have or whose cost code/type differ; 14201 the
        vendor already has the invoice number (unless actpay.dupchk allows duplicates);
        14050 an inactive vendor, a Refused or Closed subcontract, a date in a locked or
        closed posting period, a distribution that does not total the ledger, values Sage
        would not store, a negative total, a retention larger than its amount."""
        ...

    def find_payable_invoice(
            self, payload: PayableInvoicePayload) -> dict[str, str] | None:
        """The keys add_payable_invoice returned, if the vendor has an invoice of that
        number on the command's job and subcontract with the same total (reconciliation),
        else None."""
        ...

    def create_cost_code(self, payload: CostCodePayload) -> dict[str, str]:
        """Insert a cstcde row (code, name, division or none); {"cstcde": "3350.000"}.
        12000 the code exists (active or not); 12802 the division is not in cstdiv; 14050
        a code that is not decimal(15,3), a blank or too long name."""
        ...

    def find_cost_code(self, payload: CostCodePayload) -> dict[str, str] | None:
        """The keys create_cost_code returned if Sage has the code with the command's name
        and division (reconciliation), else None."""
        ...

    def create_phase(self, payload: PhasePayload) -> dict[str, str]:
        """Insert a jobphs row; {"jobphs": job, "phsnum": phase}. 12802 the job does not
        exist; 12000 the job has the phase; 14050 a phase out of range, a blank or too long
        name."""
        ...

    def find_phase(self, payload: PhasePayload) -> dict[str, str] | None:
        """The keys create_phase returned if the job has the phase with the command's name
        (reconciliation), else None."""
        ...

    def read_job_contract(self, job: int) -> dict[str, Any]:
        """READ_JOB_CONTRACT: the job's contract (actrec cntrct, retain, connum) and its
        budget lines (bdglin) in relay_protocol's read_job_contract shape
        (relay/sage/contract_reads.py). 12802 the job does not exist; the database
        unreachable -> 17000 (retryable)."""
        ...

    def add_prime_change_order(self, payload: PrimeChangeOrderPayload) -> dict[str, str]:
        """Write an approved PCCO's prime lines (pmcgln) into the ``join`` change order when
        Sage still takes them there (same job, no phase, Approved, no prime lines yet), else
        into a prmchg of its own (the job's next chgnum, Approved), in one transaction;
        {"prmchg": recnum, "chgnum": number, "joined": "true"|"false", "lines": "a-b"}.
        12802 unknown job, cost code or cost type; 14050 an inactive cost code, a
        description not starting with the reference, values Sage would not store."""
        ...

    def find_prime_change_order(
            self, payload: PrimeChangeOrderPayload) -> dict[str, str] | None:
        """The keys add_prime_change_order returned if a change order of the job has prime
        lines starting with the command's reference (reconciliation), else None."""
        ...

    def add_receivable_invoice(self, payload: ReceivableInvoicePayload) -> dict[str, str]:
        """Write an owner invoice to AR (acrinv + arivln, relay/sage/embedded/receivables.py)
        in one transaction; {"acrinv": recnum, "invnum": number, "period": "2026-11"}.
        12802 unknown job, phase or cost code; 14201 the number is another invoice's;
        14050 a locked/closed period or values Sage would not store. The same invoice again
        answers the keys it got."""
        ...

    def find_receivable_invoice(
            self, payload: ReceivableInvoicePayload) -> dict[str, str] | None:
        """The keys add_receivable_invoice returned for the invoice number on the command's
        job (reconciliation), else None."""
        ...
