"""Accepted snapshot -> Sage command: mapping and Sage's limits, checked before sending."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import Item, Link
from chalicelib.domain.sage_mapping import (
    MappingError,
    build_command,
    sage_cost_code,
    sage_cost_type,
)
from chalicelib.domain.state_machine import Status
from chalicelib.relay_protocol import CommandType, PurchaseOrderPayload, SubcontractPayload
from chalicelib.settings import Settings

COST_TYPES = Settings().cost_type_map
PROJECT = Link(company_id=1, kind="project", procore_id=10, sage_key="24001")
VENDOR = Link(company_id=1, kind="vendor", procore_id=20, sage_key="3001")


def line(**changes: Any) -> dict[str, Any]:
    base = {"id": 7, "description": "Footings", "amount": "1500.00", "quantity": None,
            "unit_cost": None, "uom": None,
            "cost_code": {"id": 1, "full_code": "03-300", "name": "Concrete",
                          "origin_id": "3300.000"},  # refreshed from Sage: holds its code
            "line_item_type": {"id": 4, "code": "S", "name": "Subcontract", "origin_id": None}}
    base.update(changes)
    return base


def item(commitment_type: str = "subcontract", **snapshot: Any) -> Item:
    snap = {"commitment_type": commitment_type, "number": "SC-001", "title": "Concrete",
            "status": "Approved", "vendor": {"id": 20, "name": "Granite Bay Concrete"},
            "retainage_percent": "10.0", "lines": [line()]}
    snap.update(snapshot)
    return Item(company_id=1, kind="commitment", procore_id=55, project_id=10,
                subtype=commitment_type, status=Status.ACCEPTED, version=3, snapshot=snap)


def build(target: Item, **kwargs: Any) -> Any:
    args = {"version": 3, "project_link": PROJECT, "vendor_link": VENDOR,
            "cost_types": COST_TYPES, "issued_at": "2026-11-26T00:00:00Z", **kwargs}
    return build_command(target, **args)


def test_subcontract_becomes_subcon_and_lines() -> None:
    command = build(item(lines=[line(), line(id=8, description="Walls", amount="250.5",
                                          line_item_type={"code": "L", "name": "Labor"})]))
    assert command.type is CommandType.ADD_SUBCONTRACT
    assert command.command_id == "1:commitment-55:v3" and command.export_version == 3
    payload = command.typed_payload()
    assert isinstance(payload, SubcontractPayload)
    assert (payload.job, payload.vendor, payload.number) == (24001, 3001, "SC-001")
    assert payload.retention_rate == Decimal("10.0")
    assert [(ln.cost_code, ln.cost_type, ln.amount) for ln in payload.lines] == [
        ("3300.000", 4, Decimal("1500.00")), ("3300.000", 2, Decimal("250.50"))]


def test_purchase_order_lines_carry_quantity_and_price() -> None:
    command = build(item("purchase_order", number="PO-9", lines=[
        line(amount="1000", quantity=4, unit_cost="250"), line(id=9, amount="99.99")]))
    payload = command.typed_payload()
    assert isinstance(payload, PurchaseOrderPayload) and command.type is \
        CommandType.ADD_PURCHASE_ORDER
    first, second = payload.lines
    assert (first.quantity, first.unit_price, first.amount) == (4, Decimal("250"),
                                                                Decimal("1000.00"))
    assert (second.quantity, second.unit_price) == (1, Decimal("99.99"))


def test_the_same_acceptance_is_the_same_command() -> None:
    one, two = build(item()), build(copy.deepcopy(item()))
    assert one.command_id == two.command_id and one.payload == two.payload


@pytest.mark.parametrize(("code", "rule", "expected"), [
    ({"full_code": "03-300", "origin_id": "3310.000"}, "none", "3310.000"),
    ({"full_code": "03-300", "origin_id": "3310"}, "division-dash-code", "3310.000"),
    ({"full_code": "03-300"}, "division-dash-code", "3300.000"),
    ({"full_code": "26-000"}, "division-dash-code", "26000.000"),
    ({"full_code": "1100"}, "sage-decimal", "1100.000"),
])
def test_cost_codes(code: dict[str, Any], rule: str, expected: str) -> None:
    assert sage_cost_code(code, rule) == expected


@pytest.mark.parametrize(("code", "rule"), [
    ({"full_code": "03-300"}, "none"),  # the default: no origin id, no mapping
    ({"full_code": "3-300"}, "division-dash-code"),
    ({"full_code": "033-00"}, "division-dash-code"),
    ({"full_code": "03300"}, "division-dash-code"),
    ({"full_code": "03-300"}, "sage-decimal"),
    ({"full_code": "GEN-CON"}, "division-dash-code"),
])
def test_cost_codes_are_not_guessed_from_their_digits(code: dict[str, Any], rule: str) -> None:
    with pytest.raises(MappingError, match=f"cost code '{code['full_code']}'"):
        sage_cost_code(code, rule)


def test_a_line_cost_code_follows_the_company_rule() -> None:
    uncoded = line(cost_code={"id": 1, "full_code": "03-300", "origin_id": None})
    with pytest.raises(MappingError, match="line 1 \\('Footings'\\): cost code '03-300' did "
                                           "not come from Sage"):
        build(item(lines=[uncoded]))
    command = build(item(lines=[uncoded]), cost_code_rule="division-dash-code")
    assert command.typed_payload().lines[0].cost_code == "3300.000"
    ambiguous = line(cost_code={"id": 1, "full_code": "3-300", "origin_id": None})
    with pytest.raises(MappingError, match="cost code '3-300' does not follow"):
        build(item("purchase_order", lines=[ambiguous]), cost_code_rule="division-dash-code")
    with pytest.raises(MappingError, match="cost code rule 'digits'"):
        build(item(), cost_code_rule="digits")


@pytest.mark.parametrize("commitment_type", ["subcontract", "purchase_order"])
@pytest.mark.parametrize("amount", [None, ""])
def test_a_missing_amount_is_refused_not_sent_as_zero(commitment_type: str,
                                                      amount: str | None) -> None:
    with pytest.raises(MappingError, match="line 2 \\('Walls'\\) amount is missing"):
        build(item(commitment_type, lines=[line(), line(id=8, description="Walls",
                                                        amount=amount)]))


def test_cost_types() -> None:
    assert sage_cost_type({"code": "M"}, COST_TYPES) == 1
    assert sage_cost_type({"code": None, "name": "Equipment"}, COST_TYPES) == 3
    assert sage_cost_type({"code": "X", "origin_id": "7"}, COST_TYPES) == 7
    with pytest.raises(MappingError, match="'Permits' has no Sage cost type"):
        sage_cost_type({"code": "P", "name": "Permits"}, COST_TYPES)


@pytest.mark.parametrize(("snapshot", "links", "message"), [
    ({"number": "SC-" + "9" * 20}, {}, "number 'SC-9999"),
    ({"title": "x" * 51}, {}, "title 'xxx"),
    ({"lines": [line(description="d" * 51)]}, {}, "line 1 ('ddd"),
    ({"lines": [line(amount="12345678901.00")]}, {}, "beyond what Sage can hold"),
    ({"lines": [line(amount="NaN")]}, {}, "line 1 ('Footings') amount 'NaN' is not a number"),
    ({"lines": [line(cost_code={"full_code": "ABC"})]}, {}, "line 1 ('Footings'): cost code"),
    ({"lines": [line(line_item_type={"code": "Q", "name": "Permits"})]}, {},
     "line 1 ('Footings'): cost type 'Permits'"),
    ({}, {"project_link": None}, "no longer linked to a Sage job"),
    ({}, {"vendor_link": None}, "'Granite Bay Concrete' is no longer linked"),
    ({}, {"vendor_link": VENDOR.model_copy(update={"sage_key": "V-1"})}, "must be numbers"),
])
def test_what_sage_would_refuse_is_refused_first(snapshot: dict[str, Any],
                                                 links: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError) as caught:
        build(item(**snapshot), **links)
    assert message in str(caught.value)
