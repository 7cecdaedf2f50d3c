"""The sandbox's change events (v1.0) and the CCO made from one, over real loopback HTTP.

Shapes: ``procore-spec/openapi/RestV10ChangeEvents{Get,Post,IdGet,IdPatch}.json`` (the
sandbox answers a documented subset of a change event line item's keys). Choices:
docs/decisions.md ("Sandbox change events ...").
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.procore_sandbox import ProcoreSandbox, SandboxError
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    BOOL,
    DATETIME,
    DECIMAL,
    INT,
    NUM,
    OBJECT,
    STR,
    assert_shape,
    call,
    token_fixture,
)
from tests.contract.test_sandbox_budgets import _events
from tests.contract.test_sandbox_change_orders import _setup, _v2
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    demo_fixture,
    http_call,
    sandbox_fixture,
)

_CURRENCY = {"currency_iso_code": STR}
# openapi/RestV10ChangeEventsIdGet.json change_event_line_items[] (the keys answered here)
CE_LINE = {
    "id": INT, "event_id": INT, "description": STR, "uom": STR, "cost_code_id": INT,
    "cost_code": OBJECT, "line_item_type_id": INT, "line_item_type": OBJECT,
    "budget_code": {"id": INT, "flat_code": STR, "description": STR},
    "estimated_cost_amount": DECIMAL, "estimated_cost_quantity": NUM,
    "estimated_cost_unit_cost": NUM, "estimated_cost_calculation_strategy": STR,
    "proposed_contract_id": INT, "contract": {"id": INT, "number": STR, "title": STR,
                                              "name": STR},
    "proposed_vendor_id": INT, "vendor": {"id": INT, "name": STR},
    "created_at": DATETIME, "updated_at": DATETIME, "currency_configuration": _CURRENCY,
}
# openapi/RestV10ChangeEventsIdGet.json
CHANGE_EVENT = {
    "id": INT, "number": INT, "alphanumeric_number": STR, "origin_data": STR,
    "origin_id": STR, "title": STR, "description": STR, "status": STR, "project_id": INT,
    "created_at": DATETIME, "deleted_at": DATETIME, "updated_at": DATETIME,
    "event_type": STR, "event_scope": STR, "change_event_origin_id": INT,
    "change_event_origin_type": STR, "rfi": OBJECT, "change_event_line_items": [CE_LINE],
    "change_order_change_reason": OBJECT,
    "change_event_status": {"id": INT, "name": STR, "mapped_to_status": STR,
                            "show_in_select": BOOL},
    "created_by": {"id": INT, "login": STR, "name": STR}, "attachments": [OBJECT],
    "rfqs": [OBJECT], "currency_configuration": _CURRENCY,
}


def _body(demo: dict[str, Any], contract_id: int, sov_id: int, **extra: Any) -> dict:
    return {"change_event": {
        "title": "Owner adds canopy", "event_scope": "out_of_scope", "event_type": "owner_change",
        "change_event_status_id": 1, "origin_id": "CE-1",
        "change_event_line_items_attributes": [
            {"cost_code_id": demo["cost_code_ids"]["main"]["03-300"],
             "line_item_type_id": demo["line_item_type_ids"]["S"],
             "estimated_cost_amount": "1500.25", "proposed_contract_id": contract_id,
             "commitment_contract_line_item_id": sov_id, "description": "Canopy footing"},
            {"cost_code_id": demo["cost_code_ids"]["main"]["09-900"],
             "line_item_type_id": demo["line_item_type_ids"]["M"],
             "estimated_cost_amount": "300", "description": "Paint (no contract)"},
        ], **extra}}


def test_change_events_are_403_until_the_tool_is_on(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid = demo["project_ids"]["main"]
    assert call(sandbox, token, "GET", f"/rest/v1.0/change_events?project_id={pid}").status == 403
    switched = http_call(sandbox.url, "POST", "/_sandbox/change_events",
                         json_body={"project_id": pid, "enabled": True})
    assert switched.status == 200
    listed = call(sandbox, token, "GET", f"/rest/v1.0/change_events?project_id={pid}")
    assert (listed.status, listed.body) == (200, [])
    sandbox.set_change_events(pid, enabled=False)
    assert call(sandbox, token, "GET", f"/rest/v1.0/change_events?project_id={pid}").status == 403


def test_change_event_crud_and_refusals(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, sov, _, _ = _setup(sandbox, demo)
    sandbox.set_change_events(pid)
    base = f"/rest/v1.0/change_events?project_id={pid}"
    created = call(sandbox, token, "POST", base, _body(demo, wo["id"], sov["id"]))
    assert created.status == 201, created.body
    assert_shape(created.body, CHANGE_EVENT, "POST change event")
    event = created.body
    assert (event["number"], event["alphanumeric_number"], event["status"]) == (1, "001", "open")
    items = event["change_event_line_items"]
    assert [i["estimated_cost_amount"] for i in items] == ["1500.25", "300.00"]
    assert all(isinstance(i["id"], int) for i in items)
    one = f"/rest/v1.0/change_events/{event['id']}?project_id={pid}"
    patched = call(sandbox, token, "PATCH", one, {"change_event": {
        "change_event_status_id": 2,
        "change_event_line_items_attributes": [{"id": items[1]["id"],
                                                "estimated_cost_amount": 350}]}})
    assert patched.status == 200, patched.body
    assert patched.body["status"] == "closed"
    assert patched.body["change_event_line_items"][1]["estimated_cost_amount"] == "350.00"
    assert call(sandbox, token, "GET", one).body == patched.body
    refusals = [
        ({"change_event": {"title": "x", "change_event_status_id": 1}}, "event_scope"),
        ({"change_event": {"event_scope": "in_scope"}}, "change_event_status_id"),
        ({"change_event": {"event_scope": "maybe", "change_event_status_id": 1}}, "event_scope"),
        ({"change_event": {"event_scope": "tbd", "change_event_status_id": 99}},
         "change_event_status"),
        ({"change_event": {"event_scope": "tbd", "change_event_status_id": 1,
                           "change_event_line_items_attributes": [
                               {"proposed_contract_id": 999999}]}},
         "change_event_line_items_attributes[0].proposed_contract"),
        ({"change_event": {"event_scope": "tbd", "change_event_status_id": 1,
                           "origin_id": "CE-1"}}, "origin_id"),
        ({"change_event": {"event_scope": "tbd", "change_event_status_id": 1, "foo": 1}}, "foo"),
    ]
    for body, key in refusals:
        answer = call(sandbox, token, "POST", base, body)
        assert answer.status == 422, (body, answer.body)
        assert key in answer.body["errors"], (body, answer.body)
    assert _events(sandbox, "Change Events") == [
        ("create", event["id"], pid), ("update", event["id"], pid)]


def test_a_cco_made_from_a_change_event(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, sov, wbs, _ = _setup(sandbox, demo)
    sandbox.set_change_events(pid)
    event = call(sandbox, token, "POST", f"/rest/v1.0/change_events?project_id={pid}",
                 _body(demo, wo["id"], sov["id"])).body
    cco = sandbox.create_cco_from_change_event(pid, event["id"], wo["id"], status="approved")
    assert cco["change_events"] == [{"id": event["id"], "number": "001"}]
    assert cco["grand_total"] == "1500.25"  # only the line proposed for this commitment
    listed = call(sandbox, token, "GET",
                  f"/rest/v1.0/projects/{pid}/commitment_change_orders?view=extended")
    assert listed.body[0]["change_events"] == [{"id": event["id"], "number": "001"}]
    lines = call(sandbox, token, "GET", _v2(pid, cco["id"])).body["data"]
    assert [(x["amount"], x["wbs_code_id"], x["commitment_line_item_id"]) for x in lines] == [
        ("1500.25", str(wbs), str(sov["id"]))]
    pco = call(sandbox, token, "GET",
               f"/rest/v1.0/potential_change_orders?project_id={pid}").body[0]
    pco_lines = call(sandbox, token, "GET", f"/rest/v1.0/potential_change_orders/{pco['id']}/"
                     f"line_items?project_id={pid}").body
    link = pco_lines[0]["change_event_line_item"]
    assert (link["id"], link["event_id"]) == (event["change_event_line_items"][0]["id"],
                                              event["id"])
    other = sandbox.create_commitment("purchase_order_contracts", pid)
    with pytest.raises(SandboxError) as refused:  # no line proposed for that commitment
        sandbox.create_cco_from_change_event(pid, event["id"], other["id"])
    assert refused.value.status == 422
