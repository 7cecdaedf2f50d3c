"""A Sage job's contract as a Procore prime contract (pure: no I/O).

What Sage 100 Contractor holds for a job's contract (reference/sage-schema): the job
record's contract amount (actrec.cntrct), retention rate (actrec.retain, %) and contract
number (actrec.connum); there is no schedule-of-values table. The schedule of values is
built from the job's budget lines (bdglin, one per phase and cost code, its current total
ttlbdg), and the part of the contract no budget line carries (the fee or markup) is one
more line, so the Procore contract totals Sage's contract amount exactly. When the
budget lines add up to more than the contract (or there are none), the schedule is one
line for the whole contract. docs/decisions.md: "Prime contract import: the schedule of
values from the job's budget lines".

Origin ids: the prime contract carries the job number (actrec.recnum, the record that
holds the contract); a budget line ``bdglin:{job}:{phase or 0}:{cost code}``; the
contract's remainder (or the whole contract) ``actrec:{job}:cntrct``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
TITLE_MAX = 255
REMAINDER = "Contract amount beyond the budget lines (fee, markup)"
WHOLE = "Contract amount"


class ContractRefused(ValueError):
    """Sage's job cannot become a prime contract as it is; the message says why."""


@dataclass(frozen=True)
class ScheduleLine:
    origin_id: str
    description: str
    amount: Decimal

    def update(self) -> dict[str, Any]:
        """The line as one update of Procore's line item sync (amount as exact text)."""
        return {"origin_id": self.origin_id, "description": self.description,
                "amount": f"{self.amount:.2f}"}


@dataclass(frozen=True)
class PrimeContractPlan:
    job: int
    origin_id: str
    title: str
    number: str | None
    contract: Decimal
    retention_rate: Decimal
    lines: tuple[ScheduleLine, ...]
    note: str | None = None  # why the budget lines were not used, when they were not

    def fields(self) -> dict[str, Any]:
        """The ``prime_contract`` object of Procore's POST."""
        body: dict[str, Any] = {
            "title": self.title, "status": "Draft", "origin_id": self.origin_id,
            "retainage_percent": f"{self.retention_rate:.2f}",
            "description": f"Imported from Sage 100 Contractor job {self.job}",
        }
        if self.number:
            body["number"] = self.number
        return body


def contract_origin(job: int | str) -> str:
    """The prime contract's origin id and its link's Sage key: the job number."""
    return str(int(job))


def money(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ContractRefused(f"Sage's {what} {value!r} is not an amount") from exc
    if not amount.is_finite():
        raise ContractRefused(f"Sage's {what} {value!r} is not an amount")
    return amount.quantize(CENT)


def _line_description(line: Mapping[str, Any]) -> str:
    text = f"{line['cost_code']} {line.get('name') or ''}".strip()
    if line.get("phase"):
        phase_name = f": {line['phase_name']}" if line.get("phase_name") else ""
        text += f" (phase {line['phase']}{phase_name})"
    return text


def plan(contract: Mapping[str, Any]) -> PrimeContractPlan:
    """The prime contract and schedule of values for Sage's ``read_job_contract`` row, or
    ContractRefused with the reason (Sage's own values quoted)."""
    job = int(contract["job"])
    name = str(contract.get("name") or "").strip()
    amount = money(contract.get("contract", "0"), "contract amount (actrec.cntrct)")
    rate = money(contract.get("retention_rate", "0"), "retention rate (actrec.retain)")
    where = f"Sage job {job}" + (f" ({name})" if name else "")
    if amount <= 0:
        raise ContractRefused(
            f"{where} has no contract amount: its Contract (actrec.cntrct) is {amount} in "
            "Sage's Jobs (3-5). Enter the contract amount in Sage and import again")
    if not Decimal(0) <= rate <= Decimal(100):
        raise ContractRefused(f"{where} has a retention rate of {rate}% (actrec.retain); "
                              "Procore takes 0 to 100")
    budget = []
    for line in contract.get("lines") or []:
        total = money(line.get("total", "0"), f"budget total of cost code {line['cost_code']}")
        if total == 0:
            continue  # a budget line without an amount adds nothing to the schedule
        budget.append(ScheduleLine(
            f"bdglin:{job}:{line.get('phase') or 0}:{line['cost_code']}",
            _line_description(line), total))
    carried = sum((line.amount for line in budget), Decimal(0))
    rest = f"actrec:{job}:cntrct"
    note = None
    if not budget:
        lines = (ScheduleLine(rest, WHOLE, amount),)
        note = f"{where} has no budget lines: the schedule of values is the contract amount"
    elif carried > amount:
        lines = (ScheduleLine(rest, WHOLE, amount),)
        note = (f"the budget lines of {where} total {carried}, more than its contract amount "
                f"{amount}: the schedule of values is the contract amount as one line")
    elif carried < amount:
        lines = (*budget, ScheduleLine(rest, REMAINDER, amount - carried))
    else:
        lines = tuple(budget)
    number = str(contract.get("contract_number") or "").strip() or None
    return PrimeContractPlan(job=job, origin_id=contract_origin(job),
                             title=(name or f"Sage job {job}")[:TITLE_MAX], number=number,
                             contract=amount, retention_rate=rate, lines=lines, note=note)


def missing_lines(plan: PrimeContractPlan,
                  existing: list[Mapping[str, Any]]) -> list[ScheduleLine]:
    """The plan's lines Procore does not hold yet (by origin id): what a rerun still
    writes after a crash, nothing when every line is there."""
    held = {str(row.get("origin_id")) for row in existing if row.get("origin_id")}
    return [line for line in plan.lines if line.origin_id not in held]


def describe(contract: Mapping[str, Any]) -> str:
    """How a Procore prime contract is named in a refusal."""
    number = contract.get("number")
    title = contract.get("title")
    text = f"prime contract {contract.get('id')}"
    if number:
        text += f" #{number}"
    if title:
        text += f" \"{title}\""
    return text
