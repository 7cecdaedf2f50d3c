"""From an accepted commitment snapshot to a Sage 100 Contractor command (pure).

Checks Sage's own limits before anything is sent, so a refusal the connector can see
coming becomes a failed item with a clear message and no command (Procore's connector
truncates instead, silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from chalicelib.domain import cost_codes
from chalicelib.domain.models import Item, Link
from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PayloadTooLarge,
    PurchaseOrderHeaderPayload,
    PurchaseOrderLine,
    PurchaseOrderPayload,
    SubcontractHeaderPayload,
    SubcontractLine,
    SubcontractPayload,
)

# Sage's column widths (reference/sage100c.md): numbers 20, descriptions 50.
NUMBER_MAX = 20
DESCRIPTION_MAX = 50
AMOUNT_LIMIT = Decimal("10000000000")  # dec(12,2)


class MappingError(ValueError):
    """The snapshot cannot become a Sage record; the message says what to fix."""


def make_command_id(item: Item, version: int) -> str:
    """Deterministic: the same acceptance always yields the same command."""
    return f"{item.company_id}:{item.item_id}:v{version}"


# Procore commitment status -> Sage status. subcon: 1 Bid 2 Refused 3 Contract 4 Current
# 5 Complete 6 Closed; pchord: 1 Open 2 Review 3 Dispute 4 Closed 5 Void 6 Master
# (reference/sage100c.md). Approved -> 3 Contract is UNCONFIRMED (docs/decisions.md).
SUBCONTRACT_STATUS = {"Approved": 3, "Complete": 5, "Terminated": 6, "Void": 6}
# Procore's purchase order statuses: received goods keep the order open in Sage (its
# invoices are still to come); Closed closes it (docs/decisions.md).
PURCHASE_ORDER_STATUS = {"Approved": 1, "Partially Received": 1, "Received": 1, "Closed": 4}


def sage_status(snapshot: Mapping[str, Any]) -> int:
    table = (PURCHASE_ORDER_STATUS if snapshot.get("commitment_type") == "purchase_order"
             else SUBCONTRACT_STATUS)
    status = snapshot.get("status")
    if status not in table:
        raise MappingError(f"status '{status}' has no Sage status; a commitment in Sage is "
                           f"{', '.join(table)}")
    return table[status]


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise MappingError(f"contract date '{value}' is not a date") from exc


def _retention(snap: Mapping[str, Any]) -> Decimal | None:
    retention = snap.get("retainage_percent")
    if retention in (None, ""):
        return None
    try:
        return Decimal(str(retention))
    except InvalidOperation as exc:
        raise MappingError(f"retainage '{retention}' is not a number") from exc


def sage_cost_code(cost_code: Mapping[str, Any] | None,
                   rule: str = cost_codes.DEFAULT_RULE) -> str:
    """Procore cost code -> Sage cstcde, only through its origin id or the company's cost
    code rule (``cost_codes.to_sage``); never by guessing from its digits."""
    try:
        return cost_codes.to_sage(cost_code, rule)
    except (cost_codes.CostCodeError, cost_codes.CostCodeRuleError) as exc:
        raise MappingError(str(exc)) from exc


def cost_type_map(defaults: Mapping[str, int],
                  advanced: Mapping[str, Any]) -> dict[str, int]:
    """Procore cost type (code or name) -> Sage cost type: the company's own mapping
    (advanced setting ``cost_type_map``) over the deployment default."""
    return {**defaults, **(advanced.get("cost_type_map") or {})}


def sage_cost_type(line_type: Mapping[str, Any] | None, mapping: Mapping[str, int]) -> int:
    if not line_type:
        raise MappingError("a line has no cost type")
    origin = str(line_type.get("origin_id") or "")
    if origin.isdigit() and 1 <= int(origin) <= 9:  # a type that came from Sage's csttyp
        return int(origin)
    for key in (line_type.get("code"), line_type.get("name")):
        if key and key in mapping:
            return int(mapping[key])
    name = line_type.get("name") or line_type.get("code") or line_type.get("id")
    raise MappingError(f"cost type '{name}' has no Sage cost type (1-9) mapped; add it to "
                       "the cost type mapping")


def _decimal(value: Any, what: str) -> Decimal:
    if value in (None, ""):  # a missing amount is not 0: nothing is sent until it is entered
        raise MappingError(f"{what} is missing; enter it on the schedule of values")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise MappingError(f"{what} '{value}' is not a number") from exc
    if not number.is_finite():
        raise MappingError(f"{what} '{value}' is not a number")
    if abs(number) >= AMOUNT_LIMIT:
        raise MappingError(f"{what} {number} is beyond what Sage can hold (12 digits)")
    return number.quantize(Decimal("0.01"))


def _text(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise MappingError(f"{what} '{value}' is {len(value)} characters; Sage 100 "
                           f"Contractor takes at most {limit}")
    return value


def build_command(item: Item, *, version: int, project_link: Link | None,
                  vendor_link: Link | None, cost_types: Mapping[str, int],
                  issued_at: str, command_id: str = "",
                  cost_code_rule: str = cost_codes.DEFAULT_RULE) -> Command:
    """The Sage command for ``item`` as accepted at ``version``; MappingError if it can't.

    ``cost_code_rule``: the company's rule for cost codes without an origin id
    (``cost_codes.RULES``).
    """
    snap = item.snapshot
    if project_link is None:
        raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
    vendor = snap.get("vendor") or {}
    if vendor_link is None:
        raise MappingError(f"company '{vendor.get('name')}' is no longer linked to a Sage "
                           "vendor")
    number = _text(str(snap.get("number") or ""), NUMBER_MAX, "number")
    description = _text(str(snap.get("title") or ""), DESCRIPTION_MAX, "title")
    try:
        job, vendor_key = int(project_link.sage_key), int(vendor_link.sage_key)
    except ValueError as exc:
        raise MappingError(f"linked Sage keys must be numbers: {exc}") from exc
    lines = snap.get("lines") or []
    try:
        if snap.get("commitment_type") == "purchase_order":
            command_type = CommandType.ADD_PURCHASE_ORDER
            payload: Any = PurchaseOrderPayload(
                job=job, vendor=vendor_key, number=number, description=description,
                status=sage_status(snap), order_date=_date(snap.get("contract_date")),
                lines=[_po_line(n, line, cost_types, cost_code_rule)
                       for n, line in enumerate(lines, 1)])
        else:
            command_type = CommandType.ADD_SUBCONTRACT
            payload = SubcontractPayload(
                job=job, vendor=vendor_key, number=number, description=description,
                status=sage_status(snap), retention_rate=_retention(snap),
                contract_date=_date(snap.get("contract_date")),
                lines=[_sub_line(n, line, cost_types, cost_code_rule)
                       for n, line in enumerate(lines, 1)])
    except ValidationError as exc:
        raise first_error(exc) from exc
    return packed_command(command_id or make_command_id(item, version), item, command_type,
                   version, payload, issued_at)


def build_modify_command(item: Item, *, version: int, command_id: str,
                         project_link: Link | None, issued_at: str) -> Command:
    """The header of a synced commitment as Sage should now hold it (no lines, no amounts)."""
    snap, keys = item.snapshot, item.erp_keys
    if project_link is None:
        raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
    description = _text(str(snap.get("title") or ""), DESCRIPTION_MAX, "title")
    purchase_order = snap.get("commitment_type") == "purchase_order"
    record = keys.get("pchord" if purchase_order else "subcon")
    number = keys.get("ordnum" if purchase_order else "ctcnum") or item.number
    if not str(record or "").isdigit():
        raise MappingError("the Sage record of this commitment is not known; it cannot be "
                           "changed in place")
    try:
        if purchase_order:
            command_type = CommandType.MODIFY_PURCHASE_ORDER
            payload: Any = PurchaseOrderHeaderPayload(
                job=int(project_link.sage_key), record=int(str(record)), number=str(number),
                description=description, status=sage_status(snap),
                order_date=_date(snap.get("contract_date")))
        else:
            command_type = CommandType.MODIFY_SUBCONTRACT
            payload = SubcontractHeaderPayload(
                job=int(project_link.sage_key), record=int(str(record)), number=str(number),
                description=description, status=sage_status(snap),
                retention_rate=_retention(snap), contract_date=_date(snap.get("contract_date")))
    except ValidationError as exc:
        raise first_error(exc) from exc
    return packed_command(command_id, item, command_type, version, payload, issued_at)


def packed_command(command_id: str, item: Item, command_type: CommandType, version: int,
                   payload: Any, issued_at: str) -> Command:
    """The item's command, compressed when large; MappingError when it cannot fit."""
    try:
        return Command.packed(command_id=command_id, company_id=item.company_id,
                              type=command_type, item_id=item.item_id, export_version=version,
                              payload=payload.model_dump(mode="json"), issued_at=issued_at)
    except PayloadTooLarge as exc:
        raise MappingError(str(exc)) from exc


def first_error(exc: ValidationError) -> MappingError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return MappingError(f"{where}: {first['msg']}")


def _in_line(label: str, exc: MappingError) -> MappingError:
    message = str(exc)
    return MappingError(message if message.startswith(label) else f"{label}: {message}")


def _line_label(number: int, line: Mapping[str, Any]) -> str:
    return f"line {number}" + (f" ('{line['description']}')" if line.get("description") else "")


def _sub_line(number: int, line: Mapping[str, Any], cost_types: Mapping[str, int],
              cost_code_rule: str) -> SubcontractLine:
    label = _line_label(number, line)
    try:
        return SubcontractLine(
            line_number=number,
            description=_text(str(line.get("description") or ""), DESCRIPTION_MAX,
                              f"{label} description"),
            cost_code=sage_cost_code(line.get("cost_code"), cost_code_rule),
            cost_type=sage_cost_type(line.get("line_item_type"), cost_types),
            amount=_decimal(line.get("amount"), f"{label} amount"))
    except MappingError as exc:
        raise _in_line(label, exc) from exc


def _po_line(number: int, line: Mapping[str, Any], cost_types: Mapping[str, int],
             cost_code_rule: str) -> PurchaseOrderLine:
    label = _line_label(number, line)
    amount = _decimal(line.get("amount"), f"{label} amount")
    quantity = Decimal(str(line["quantity"])) if line.get("quantity") not in (None, "") else None
    if quantity is None or quantity == 0:
        quantity, unit_price = Decimal("1"), amount
    else:
        unit_price = (Decimal(str(line["unit_cost"])) if line.get("unit_cost") not in (None, "")
                      else (amount / quantity).quantize(Decimal("0.0001")))
    try:
        return PurchaseOrderLine(
            line_number=number,
            description=_text(str(line.get("description") or ""), DESCRIPTION_MAX,
                              f"{label} description"),
            quantity=quantity, unit_price=unit_price, amount=amount,
            cost_code=sage_cost_code(line.get("cost_code"), cost_code_rule),
            cost_type=sage_cost_type(line.get("line_item_type"), cost_types))
    except MappingError as exc:
        raise _in_line(label, exc) from exc
