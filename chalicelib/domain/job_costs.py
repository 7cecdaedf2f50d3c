"""Sage job cost transactions (jobcst) as Procore direct costs: which rows go, and how.

Procore's Sage 100 Contractor connector brings job costs of three journals into the
Direct Costs tool: 1-3 Journal Transactions, 4-2 Payable Invoices and 5-2 Payroll Records
(reference/procore-api.md section 5). Sage names the journal of a jobcst row through
``source`` (srcnum -> srcnme); the rule here reads that name, never a source number,
because numbers differ between Sage companies (docs/decisions.md).

One jobcst row is one direct cost with one line item. Origin ids (unique per company):
the direct cost ``jobcst:{recnum}``, its line ``jobcst:{recnum}:line``. A resync of the
row updates both through Procore's sync endpoints; a voided row (status 2) keeps its
direct cost, its line amount set to 0 and its description marked, so Procore's totals
drop the cost and the history stays.

An AP row tied to a commitment (the payable invoice names a subcontract or purchase
order) is never a direct cost: it is the commitment's invoiced cost in Procore already.
It is listed as unsyncable with that reason, as are rows whose cost code, cost type or
vendor has no Procore counterpart (those are retried on the next run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")

# srcnme (case-insensitive) -> Procore direct_cost_type
SYNCED_JOURNALS: dict[str, str] = {
    "general journal": "expense",  # 1-3 Journal Transactions
    "accounts payable": "invoice",  # 4-2 Payable Invoices
    "payroll": "payroll",  # 5-2 Payroll Records
}
POSTED, VOID = 1, 2
VOID_MARK = "VOID in Sage: "
DESCRIPTION_MAX = 255  # Procore's description; Sage's dscrpt is 50, the mark adds 14

# Why a row is not a direct cost. "retry": the next run tries it again (someone may map
# the cost code or link the vendor meanwhile); the others are final for that row version.
COMMITMENT_COST = "commitment_cost"
JOURNAL_NOT_SYNCED = "journal_not_synced"
NO_COST_CODE = "no_cost_code"
NO_COST_TYPE = "no_cost_type"
VENDOR_NOT_LINKED = "vendor_not_linked"
INVALID_AMOUNT = "invalid_amount"  # not Sage's dec(12,2) text: a relay agent defect
NO_DATE = "no_date"  # final for this version of the row: Sage's next edit of it comes again
RETRIED = frozenset({NO_COST_CODE, NO_COST_TYPE, VENDOR_NOT_LINKED})


def direct_cost_origin(record: int) -> str:
    return f"jobcst:{int(record)}"


def line_origin(record: int) -> str:
    return f"jobcst:{int(record)}:line"


def record_of(origin: object) -> int | None:
    """The jobcst recnum a direct cost's (or line's) origin id names, else None."""
    text = str(origin or "")
    if not text.startswith("jobcst:"):
        return None
    number = text.split(":")[1]
    return int(number) if number.isdigit() else None


@dataclass(frozen=True)
class CodeMap:
    """The project's Procore counterparts of Sage's codes (from ``sage_codes``)."""

    cost_codes: Mapping[tuple[str, int | None], int]  # (Sage code, phase) -> cost_code_id
    cost_types: Mapping[int, int]  # Sage csttyp -> line_item_type_id
    vendors: Mapping[int, int]  # Sage vndnum -> Procore vendor id


@dataclass(frozen=True)
class Decision:
    """What becomes of one jobcst row: a direct cost (``header`` and ``line`` for the
    sync calls) or a reason (``code``, ``reason``) and nothing sent."""

    row: Mapping[str, Any]
    header: dict[str, Any] | None = None
    line: dict[str, Any] | None = None
    code: str | None = None
    reason: str | None = None

    @property
    def synced(self) -> bool:
        return self.header is not None


def decide(row: Mapping[str, Any], codes: CodeMap, *, known: bool) -> Decision:
    """The direct cost for ``row``, or why there is none.

    ``known``: Procore already holds this row's direct cost (an earlier run sent it). A
    void of a row never sent sends nothing (there is nothing in Procore to void).
    """
    record = int(row["record"])
    journal = str(row.get("journal") or "")
    kind = SYNCED_JOURNALS.get(journal.strip().lower())
    where = f"Sage job cost {record} ({journal or 'journal ' + str(row.get('source'))})"
    if kind is None:
        return Decision(row, code=JOURNAL_NOT_SYNCED, reason=(
            f"{where}: the {journal or 'unnamed'} journal is not one Procore imports "
            "(only journal transactions, payable invoices and payroll)"))
    if kind == "invoice" and row.get("commitment"):
        return Decision(row, code=COMMITMENT_COST, reason=(
            f"{where}: invoice {row.get('transaction')} bills commitment "
            f"{row['commitment']}; its cost is the commitment's invoiced cost in Procore, "
            "not a direct cost"))
    void = int(row.get("status") or POSTED) == VOID
    if void and not known:
        return Decision(row, code="void_never_sent", reason=(
            f"{where} was voided in Sage before it reached Procore; nothing to void"))
    amount = sage_amount(row.get("amount"))
    if amount is None:
        return Decision(row, code=INVALID_AMOUNT, reason=(
            f"{where}: the amount {row.get('amount')!r} is not an exact amount in cents as "
            "Sage keeps it; nothing was sent (update the relay agent)"))
    if not row.get("date"):
        return Decision(row, code=NO_DATE, reason=(
            f"{where} has no transaction date in Sage; Procore needs a date for a direct "
            "cost: enter it in Sage"))
    phase = row.get("phase")
    code = str(row["cost_code"])
    code_id = codes.cost_codes.get((code, int(phase) if phase else None))
    if code_id is None:
        place = f"cost code {code}" + (f" (phase {phase})" if phase else "")
        return Decision(row, code=NO_COST_CODE, reason=(
            f"{where}: Sage {place} has no Procore cost code in this project; refresh "
            "the project's cost codes from Sage"))
    type_id = codes.cost_types.get(int(row["cost_type"]))
    if type_id is None:
        return Decision(row, code=NO_COST_TYPE, reason=(
            f"{where}: Sage cost type {row['cost_type']} has no Procore cost type; sync "
            "the cost types from Sage"))
    header: dict[str, Any] = {
        "origin_id": direct_cost_origin(record),
        "description": _description(row, void),
        "direct_cost_date": row.get("date"),
        "status": "approved",
        "origin_data": f"journal={journal};transaction={row.get('transaction') or ''}",
    }
    if not known:
        header["direct_cost_type"] = kind  # Procore sets the type on create only
    if kind == "invoice":
        vendor = row.get("vendor")
        vendor_id = codes.vendors.get(int(vendor)) if vendor else None
        if vendor_id is None:
            return Decision(row, code=VENDOR_NOT_LINKED, reason=(
                f"{where}: Sage vendor {vendor} is not linked to a Procore company; link "
                "the company, the next sync sends it"))
        header.update(vendor_id=vendor_id,
                      invoice_number=str(row.get("transaction") or f"JC-{record}"))
    line = {"origin_id": line_origin(record), "cost_code_id": code_id,
            "line_item_type_id": type_id, "amount": Decimal("0.00") if void else amount,
            "description": _description(row, void)}
    return Decision(row, header=header, line=line)


def sage_amount(value: Any) -> Decimal | None:
    """jobcst.cstamt as the agent sends it (text, or an exact Decimal/int), or None: a
    float, more than 2 places or not a number is never rounded into money."""
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    if not number.is_finite() or number != number.quantize(CENT):
        return None
    return number.quantize(CENT)


def written(entry: Mapping[str, Any]) -> tuple[Decimal | None, str]:
    """(amount, description) the connector wrote to Procore for a kept row: what a
    direct cost still shows unless someone edited it in Procore."""
    void = int(entry.get("status") or POSTED) == VOID
    amount = Decimal("0.00") if void else sage_amount(entry.get("amount"))
    return amount, _description(entry, void)


def _description(row: Mapping[str, Any], void: bool) -> str:
    text = str(row.get("description") or "").strip() or f"Sage job cost {row['record']}"
    return ((VOID_MARK if void else "") + text)[:DESCRIPTION_MAX]


def ledger_entry(decision: Decision, direct_cost_id: int | None) -> dict[str, Any]:
    """What the connector keeps of a row (compact: the reports' source)."""
    row = decision.row
    entry = {"record": int(row["record"]), "cost_code": str(row["cost_code"]),
             "cost_type": int(row["cost_type"]), "phase": row.get("phase"),
             "amount": str(sage_amount(row.get("amount")) or row.get("amount")),
             "status": int(row.get("status") or 1),
             "journal": row.get("journal") or "", "date": row.get("date"),
             "description": row.get("description") or "",
             "transaction": row.get("transaction") or "", "vendor": row.get("vendor"),
             "commitment": row.get("commitment")}
    if decision.synced:
        entry["direct_cost_id"] = direct_cost_id
    else:
        entry.update(unsyncable=decision.code, reason=decision.reason)
    return entry
