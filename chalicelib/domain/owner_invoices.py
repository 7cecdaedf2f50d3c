"""Owner invoices (Procore payment applications on a prime contract): the snapshot that
exports to Sage AR and its readiness rules (pure). Choices: docs/decisions.md ("Owner
invoices: one AR line per invoice, amounts from the G702, receipts kept on the item").

Procore's API gives an owner invoice's amounts as its G702 summary, not per schedule of
values line (the reference documents no payment application line item endpoint), so the
invoice becomes ONE Sage AR line: the work billed this period
(``total_amount_accrued_this_period``) with the retention withheld this period
(that amount less ``g702.current_payment_due``: exact, no rate applied again). Its cost
code is the company's billing cost code (advanced setting ``owner_invoice_cost_code``),
else the one Sage cost code all of the prime contract's lines map to by the company's cost
code rule; a contract on several codes without that setting is not ready (no guess).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.domain.budgets import money
from chalicelib.domain.cost_codes import CostCodeError, CostCodeRuleError, sage_code_text, to_sage
from chalicelib.domain.models import Link
from chalicelib.domain.webhooks import WebhookEvent

APPROVED = ("approved",)
INVOICE_NUMBER_MAX = 20  # acrinv.invnum nvarchar(20)
DESCRIPTION_MAX = 50  # acrinv.dscrpt / arivln.dscrpt nvarchar(50)
ZERO = Decimal("0.00")
RESOURCES = frozenset({"Payment Applications"})  # the webhook resource (id = the invoice)


def owner_invoice_target(event: WebhookEvent) -> tuple[int, int] | None:
    """(project id, payment application id) of a Payment Applications event, else None."""
    if event.resource_name in RESOURCES and event.project_id is not None:
        return int(event.project_id), int(event.resource_id)
    return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _shown(cost_code: Mapping[str, Any] | None) -> str:
    code = cost_code or {}
    return str(code.get("full_code") or code.get("code") or code.get("id") or "(none)")


def contract_codes(contract: Mapping[str, Any], rule: str,
                   known: Collection[str] | None) -> tuple[list[str], list[str]]:
    """(the Sage codes of the prime contract's lines, sorted; why some have none)."""
    codes, problems = set(), []
    for line in contract.get("line_items") or []:
        try:
            codes.add(to_sage(line.get("cost_code"), rule, known_codes=known))
        except (CostCodeError, CostCodeRuleError) as exc:
            problems.append(f"Prime contract line '{line.get('description') or line.get('id')}'"
                            f" ({_shown(line.get('cost_code'))}): {exc}")
    return sorted(codes), problems


def build_snapshot(app: Mapping[str, Any], contract: Mapping[str, Any] | None, *,
                   project_id: int, rule: str, billing_code: str | None,
                   known: Collection[str] | None) -> dict[str, Any]:
    """The payment application as it exports (amounts as exact decimal text)."""
    g702 = app.get("g702") or {}
    amount = money(app.get("total_amount_accrued_this_period"))
    due = money(g702.get("current_payment_due"))
    retention = amount - due if amount is not None and due is not None else None
    codes, problems = (contract_codes(contract, rule, known) if contract is not None
                       else ([], []))
    configured = sage_code_text(billing_code) if billing_code else None
    code = configured or (codes[0] if len(codes) == 1 and not problems else None)
    contract_ref = app.get("contract") or {}
    number = str(app.get("invoice_number") or "")
    title = f"Owner invoice {number or app.get('number')}"
    return {
        "id": app.get("id"), "project_id": project_id,
        "prime_contract_id": contract_ref.get("id"),
        "prime_contract_title": (contract or {}).get("title") or contract_ref.get("title"),
        "number": str(app.get("number") or ""), "invoice_number": number, "title": title,
        "status": app.get("status") or "", "billing_date": app.get("billing_date"),
        "period_start": app.get("period_start"), "period_end": app.get("period_end"),
        "amount": _text(amount), "retention": _text(retention),
        "retention_percent": g702.get("completed_work_retainage_percent"),
        "net_due": _text(due), "cost_code": code,
        "cost_code_source": ("company billing cost code" if configured else
                             "prime contract" if code else None),
        "contract_cost_codes": codes, "cost_code_problems": problems,
        "billing_code_setting": billing_code or None,
        "origin_id": app.get("origin_id"),
    }


@dataclass(frozen=True)
class ReadinessContext:
    project_link: Link | None
    contract_link: Link | None
    contract_found: bool = True


def readiness_reasons(snap: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    reasons: list[str] = []
    label = snap.get("title") or "The owner invoice"
    status = snap.get("status") or "(none)"
    if status not in APPROVED:
        reasons.append(f"{label} is {status}. Only approved owner invoices go to Sage; "
                       "approve it in Procore.")
    if ctx.project_link is None:
        reasons.append(f"Project {snap.get('project_id')} is not linked to a Sage job.")
    contract = (f"Prime contract '{snap.get('prime_contract_title')}' "
                f"({snap.get('prime_contract_id')})")
    if not ctx.contract_found:
        reasons.append(f"{contract} of {label} could not be read in Procore.")
    elif ctx.contract_link is None:
        reasons.append(f"{contract} is not linked to the Sage job's contract: import it from "
                       "Sage (or link it) before its owner invoices are exported.")
    elif ctx.project_link is not None and \
            ctx.contract_link.sage_key != ctx.project_link.sage_key:
        reasons.append(f"{contract} is linked to Sage job {ctx.contract_link.sage_key}, but "
                       f"project {snap.get('project_id')} is linked to Sage job "
                       f"{ctx.project_link.sage_key}: fix the links before exporting.")
    reasons += _number_reasons(snap, label)
    if not snap.get("billing_date"):
        reasons.append(f"{label} has no billing date; Sage posts it to the period of that "
                       "date. Set the billing date in Procore.")
    reasons += _amount_reasons(snap, label)
    if snap.get("billing_code_setting") and snap.get("cost_code") is None:
        reasons.append(f"The company's owner invoice cost code "
                       f"'{snap.get('billing_code_setting')}' is not a Sage cost code.")
    elif snap.get("cost_code") is None and ctx.contract_found:
        reasons.append(_code_reason(snap, contract))
    return reasons


def _number_reasons(snap: Mapping[str, Any], label: str) -> list[str]:
    number = str(snap.get("invoice_number") or "")
    if not number.strip():
        return [f"{label} has no invoice number; Sage needs one (unique in the company)."]
    if len(number.strip()) > INVOICE_NUMBER_MAX:
        return [f"Invoice number '{number}' is {len(number.strip())} characters; Sage takes "
                f"at most {INVOICE_NUMBER_MAX} (acrinv.invnum)."]
    return []


def _amount_reasons(snap: Mapping[str, Any], label: str) -> list[str]:
    amount, retention = money(snap.get("amount")), money(snap.get("retention"))
    if amount is None or retention is None:
        return [f"{label}: Procore's amounts (this period, payment due) are not numbers."]
    if amount <= ZERO:
        return [f"{label} bills {amount} this period; Sage takes an owner invoice that bills "
                "work (a credit goes in Sage as a credit memo)."]
    if retention < ZERO or retention > amount:
        return [f"{label}: retention {retention} this period is not between 0 and the "
                f"amount {amount}."]
    return []


def _code_reason(snap: Mapping[str, Any], contract: str) -> str:
    problems = snap.get("cost_code_problems") or []
    codes = snap.get("contract_cost_codes") or []
    if problems:
        return f"{contract}: " + "; ".join(problems)
    if not codes:
        return f"{contract} has no lines with a cost code, so Sage's AR line has none."
    return (f"{contract} is on {len(codes)} Sage cost codes ({', '.join(codes)}) and Procore "
            "gives the owner invoice's amount only as a whole: set the company's owner "
            "invoice cost code (advanced settings) to say which one Sage bills.")
