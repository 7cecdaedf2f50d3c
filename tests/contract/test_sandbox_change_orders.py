"""The sandbox's commitment change orders (CCOs), their v2.0 line items, the legacy
packages and PCOs, over real loopback HTTP, against Procore's documented shapes.

Shapes: ``procore-spec/sdk/RestV10ProjectsProjectIdCommitmentChangeOrders{Get,IdGet}.json``,
``openapi/RestV20...CommitmentChangeOrderIdLineItems{Get,IdGet}.json``,
``openapi/RestV10ChangeOrderPackages{Get,IdGet}.json``, ``openapi/RestV10PotentialChange
Orders*.json``. Choices: docs/decisions.md ("Sandbox commitment change orders ...").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from devstack.procore_sandbox import ProcoreSandbox
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    BOOL,
    DATE,
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
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    demo_fixture,
    sandbox_fixture,
)

_PERSON = {"id": INT, "name": STR}
# sdk/RestV10ProjectsProjectIdCommitmentChangeOrdersIdGet.json, plus the origin fields and
# paid_date (docs/decisions.md); change_events only with view=extended
CCO = {
    "attachments": [{"id": INT, "url": STR, "name": STR}], "id": INT, "batch_id": INT,
    "contract_id": INT, "legacy_package_id": INT, "legacy_request_id": INT,
    "location_id": INT, "description": STR, "title": STR, "invoiced_date": DATE,
    "due_date": DATE, "revised_substantial_completion_date": DATE,
    "signed_change_order_received_date": DATE, "updated_at": DATETIME,
    "created_at": DATETIME, "reviewed_at": DATETIME, "executed": BOOL, "paid": BOOL,
    "signature_required": BOOL, "private": BOOL, "field_change": BOOL,
    "grand_total": DECIMAL, "schedule_impact_amount": INT, "number": STR, "type": STR,
    "revision": INT, "status": STR, "reference": STR, "created_by": _PERSON,
    "designated_reviewer": _PERSON, "received_from": _PERSON, "reviewed_by": _PERSON,
    "change_order_change_reason": {"id": INT, "change_reason": STR},
    "custom_fields": OBJECT, "currency_configuration": {"currency_iso_code": STR},
    "origin_id": STR, "origin_code": STR, "origin_data": STR, "paid_date": DATE,
}
CCO_EXTENDED = {**CCO, "change_events": [{"id": INT, "number": STR}]}
# openapi/RestV20...CommitmentChangeOrderIdLineItemsIdGet.json ``data``
CCO_LINE = {
    "prime_line_item_id": STR, "commitment_line_item_id": STR, "id": STR,
    "description": STR, "uom": STR, "quantity": NUM, "unit_cost": DECIMAL, "amount": DECIMAL,
    "extended_type": STR, "wbs_code_id": STR, "tax_code_id": STR, "position": NUM,
    "wbs_code": {"id": STR, "flat_code": STR, "description": STR},
    "work_breakdown_structure": OBJECT,
}


def _setup(sandbox: ProcoreSandbox, demo: dict[str, Any], *, method: str = "amount") -> tuple:
    pid = demo["project_ids"]["main"]
    codes, types = demo["cost_code_ids"]["main"], demo["line_item_type_ids"]
    wo = sandbox.create_commitment("work_order_contracts", pid, title="Concrete",
                                   vendor_id=demo["vendor_ids"]["concrete"],
                                   accounting_method=method)
    sov = sandbox.add_line_item("work_order_contracts", wo["id"], cost_code_id=codes["03-300"],
                                line_item_type_id=types["S"], amount="10000")
    wbs = sandbox.budget_wbs_code_id(pid, codes["03-300"], types["S"])
    other_wbs = sandbox.budget_wbs_code_id(pid, codes["09-900"], types["M"])
    return pid, wo, sov, wbs, other_wbs


def _v2(pid: int, cco_id: int, rest: str = "") -> str:
    return (f"/rest/v2.0/companies/{COMPANY_ID}/projects/{pid}/commitment_change_orders/"
            f"{cco_id}/line_items{rest}")


def test_cco_crud_shapes_numbers_and_soft_delete(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, _, _ = _setup(sandbox, demo)
    base = f"/rest/v1.0/projects/{pid}/commitment_change_orders"
    created = call(sandbox, token, "POST", base, {"change_order": {
        "contract_id": wo["id"], "title": "Extra footing", "status": "pending",
        "due_date": "2026-03-01", "executed": False, "paid": False, "revision": 0}})
    assert created.status == 201, created.body
    assert_shape(created.body, CCO, "POST CCO")
    cco = created.body
    assert (cco["number"], cco["type"], cco["grand_total"], cco["legacy_package_id"]) == (
        "001", "CommitmentChangeOrder", "0.00", cco["id"])
    second = call(sandbox, token, "POST", base, {"change_order": {"contract_id": wo["id"]}})
    assert (second.body["number"], second.body["status"]) == ("002", "draft")
    listed = call(sandbox, token, "GET", f"{base}?view=extended&filters[status]=pending")
    assert listed.status == 200
    assert_shape(listed.body, [CCO_EXTENDED], "GET CCOs extended")
    assert [c["id"] for c in listed.body] == [cco["id"]]
    assert "change_events" not in call(sandbox, token, "GET", f"{base}/{cco['id']}").body
    by_contract = call(sandbox, token, "GET", f"{base}?filters[contract_id]={wo['id']}")
    assert len(by_contract.body) == 2
    patched = call(sandbox, token, "PATCH", f"{base}/{cco['id']}",
                   {"change_order": {"status": "approved", "executed": True}})
    assert patched.status == 200 and patched.body["status"] == "approved"
    assert call(sandbox, token, "DELETE", f"{base}/{cco['id']}").status == 400  # approved
    deleted = call(sandbox, token, "DELETE", f"{base}/{second.body['id']}")
    assert (deleted.status, deleted.body) == (204, None)
    assert call(sandbox, token, "GET", f"{base}/{second.body['id']}").status == 404
    assert [c["id"] for c in call(sandbox, token, "GET", base).body] == [cco["id"]]
    packages = call(sandbox, token, "GET", f"/rest/v1.0/change_order_packages?project_id={pid}"
                    "&filters[include_deleted]=only")
    assert [p["id"] for p in packages.body] == [second.body["id"]]
    third = call(sandbox, token, "POST", base, {"change_order": {"contract_id": wo["id"]}})
    assert third.body["number"] == "003"  # a deleted CCO keeps its number


def test_cco_refusals_answer_422(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, _, _ = _setup(sandbox, demo)
    other = sandbox.create_commitment("work_order_contracts", demo["project_ids"]["second"])
    base = f"/rest/v1.0/projects/{pid}/commitment_change_orders"
    cases = [
        ({"title": "no contract"}, "contract_id"),
        ({"contract_id": other["id"]}, "contract"),
        ({"contract_id": 999999}, "contract"),
        ({"contract_id": wo["id"], "status": "Approved"}, "status"),
        ({"contract_id": wo["id"], "origin_id": "X"}, "origin_id"),
        ({"contract_id": wo["id"], "change_event_ids": [1]}, "change_event_ids"),
        ({"contract_id": wo["id"], "revision": "1"}, "revision"),
    ]
    for body, key in cases:
        answer = call(sandbox, token, "POST", base, {"change_order": body})
        assert answer.status == 422, (body, answer.body)
        assert key in answer.body["errors"], (body, answer.body)
    call(sandbox, token, "POST", base, {"change_order": {"contract_id": wo["id"], "number": "7"}})
    taken = call(sandbox, token, "POST", base, {"change_order": {"contract_id": wo["id"],
                                                                 "number": "7"}})
    assert taken.status == 422 and "number" in taken.body["errors"]


def test_v2_line_items_string_ids_and_grand_total(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, sov, wbs, other_wbs = _setup(sandbox, demo)
    cco = sandbox.create_cco(pid, wo["id"], status="draft")
    before = len(sandbox.events)
    first = call(sandbox, token, "POST", _v2(pid, cco["id"]), {
        "wbs_code_id": str(wbs), "amount": "1200.50", "description": "Footing",
        "commitment_line_item_id": str(sov["id"])})
    assert first.status == 200, first.body  # the operation documents 200
    assert_shape(first.body, {"data": CCO_LINE}, "POST CCO line")
    line = first.body["data"]
    assert (line["id"], line["commitment_line_item_id"], line["wbs_code_id"]) == (
        line["id"], str(sov["id"]), str(wbs))
    assert isinstance(line["id"], str) and line["wbs_code"]["flat_code"] == "03-300.S"
    assert (line["amount"], line["extended_type"]) == ("1200.50", "manual")
    new = call(sandbox, token, "POST", _v2(pid, cco["id"]),
               {"wbs_code_id": other_wbs, "amount": 99.5})  # a new line of the commitment
    assert new.status == 200 and new.body["data"]["commitment_line_item_id"] is None
    shown = sandbox.get_cco(pid, cco["id"])
    assert Decimal(shown["grand_total"]) == Decimal("1300.00")
    patched = call(sandbox, token, "PATCH", _v2(pid, cco["id"], f"/{line['id']}"),
                   {"amount": "-200"})
    assert patched.status == 200 and patched.body["data"]["amount"] == "-200.00"
    listed = call(sandbox, token, "GET", _v2(pid, cco["id"]))
    assert_shape(listed.body, {"data": [CCO_LINE]}, "GET CCO lines")
    assert listed.headers["Per-Page"] == "10"
    assert sandbox.get_cco(pid, cco["id"])["grand_total"] == "-100.50"
    gone = call(sandbox, token, "DELETE", _v2(pid, cco["id"], f"/{new.body['data']['id']}"))
    assert gone.status == 204
    assert sandbox.get_cco(pid, cco["id"])["grand_total"] == "-200.00"
    names = {(e["resource_name"], e["event_type"]) for e in sandbox.events[before:]}
    assert names == {("Potential Change Order Line Items", "create"),
                     ("Potential Change Order Line Items", "update"),
                     ("Potential Change Order Line Items", "delete"),
                     ("Change Order Packages", "update"), ("Potential Change Orders", "update")}
    assert ("update", cco["id"], pid) in _events(sandbox, "Change Order Packages")


def test_v2_line_item_refusals_answer_400(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, sov, wbs, other_wbs = _setup(sandbox, demo)
    other_wo = sandbox.create_commitment("work_order_contracts", pid)
    foreign = sandbox.add_line_item("work_order_contracts", other_wo["id"], amount="5",
                                    cost_code_id=demo["cost_code_ids"]["main"]["03-300"],
                                    line_item_type_id=demo["line_item_type_ids"]["S"])
    cco = sandbox.create_cco(pid, wo["id"], status="draft")
    cases = [
        ({"amount": "1"}, "wbs_code_id"),
        ({"wbs_code_id": "999999", "amount": "1"}, "wbs_code"),
        ({"wbs_code_id": wbs, "amount": "1", "commitment_line_item_id": foreign["id"]},
         "commitment_line_item"),
        ({"wbs_code_id": other_wbs, "amount": "1", "commitment_line_item_id": sov["id"]},
         "wbs_code_id"),
        ({"wbs_code_id": wbs, "amount": "1", "quantity": "2"}, "quantity"),  # amount-based
        ({"wbs_code_id": wbs}, "amount"),
        ({"wbs_code_id": wbs, "amount": "abc"}, "amount"),
        ({"wbs_code_id": wbs, "amount": "1", "cost_code_id": 1}, "cost_code_id"),
    ]
    for body, key in cases:
        answer = call(sandbox, token, "POST", _v2(pid, cco["id"]), body)
        assert answer.status == 400, (body, answer.body)
        assert key in answer.body["errors"], (body, answer.body)
    approved = sandbox.create_cco(pid, wo["id"])  # helpers default to approved
    line = sandbox.add_cco_line(pid, approved["id"], amount="10", description="UI line",
                                commitment_line_item_id=sov["id"])  # the UI may
    locked = call(sandbox, token, "POST", _v2(pid, approved["id"]),
                  {"wbs_code_id": wbs, "amount": "1"})
    assert locked.status == 400 and "base" in locked.body["errors"]
    assert call(sandbox, token, "PATCH", _v2(pid, approved["id"], f"/{line['id']}"),
                {"amount": "2"}).status == 400
    assert call(sandbox, token, "DELETE", _v2(pid, approved["id"], f"/{line['id']}")).status == 400
    assert call(sandbox, token, "GET", f"/rest/v2.0/companies/1/projects/{pid}/"
                f"commitment_change_orders/{cco['id']}/line_items").status == 403


def test_unit_based_commitment_computes_the_amount(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, wbs, _ = _setup(sandbox, demo, method="unit")
    cco = sandbox.create_cco(pid, wo["id"], status="draft")
    answer = call(sandbox, token, "POST", _v2(pid, cco["id"]),
                  {"wbs_code_id": str(wbs), "quantity": "3", "unit_cost": "12.25", "uom": "ea"})
    assert answer.status == 200, answer.body
    data = answer.body["data"]
    assert (data["amount"], data["extended_type"], data["quantity"], data["unit_cost"]) == (
        "36.75", "calculated", 3.0, "12.25")


def test_packages_pcos_and_origin_write_back(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, sov, _, _ = _setup(sandbox, demo)
    cco = sandbox.create_cco(pid, wo["id"], status="draft", title="Rebar")
    sandbox.add_cco_line(pid, cco["id"], amount="500", description="Rebar",
                         commitment_line_item_id=sov["id"])
    package = call(sandbox, token, "GET", f"/rest/v1.0/change_order_packages/{cco['id']}"
                   f"?project_id={pid}")
    assert package.status == 200 and package.body["grand_total"] == "500.00"
    assert package.body["type"] == "CommitmentContractChangeOrder"
    pcos = call(sandbox, token, "GET", f"/rest/v1.0/potential_change_orders?project_id={pid}")
    assert [p["change_order_package_title"] for p in pcos.body] == ["Rebar"]
    pco_id = pcos.body[0]["id"]
    lines = call(sandbox, token, "GET",
                 f"/rest/v1.0/potential_change_orders/{pco_id}/line_items?project_id={pid}")
    assert [line["amount"] for line in lines.body] == ["500.00"]
    assert lines.body[0]["holder"] == {"id": pco_id, "holder_type": "PotentialChangeOrder"}
    added = call(sandbox, token, "POST", f"/rest/v1.0/potential_change_orders/{pco_id}/line_items",
                 {"project_id": pid, "line_item": {
                     "cost_code_id": demo["cost_code_ids"]["main"]["05-120"],
                     "line_item_type_id": demo["line_item_type_ids"]["M"], "amount": "25"}})
    assert added.status == 201, added.body
    synced = call(sandbox, token, "PATCH", f"/rest/v1.0/potential_change_orders/{pco_id}/"
                  f"line_items/sync?project_id={pid}",
                  {"updates": [{"id": added.body["id"], "amount": "30"}, {"id": 1}]})
    assert synced.status == 200 and [e["amount"] for e in synced.body["entities"]] == ["30.00"]
    assert len(synced.body["errors"]) == 1
    assert sandbox.get_cco(pid, cco["id"])["grand_total"] == "530.00"
    # origin write-back: the package PATCH (origin_id/origin_code) and external data sync
    before = len(_events(sandbox, "Change Order Packages"))
    patched = call(sandbox, token, "PATCH", f"/rest/v1.0/change_order_packages/{cco['id']}",
                   {"project_id": pid, "change_order": {"origin_id": "SAGE-CO-1",
                                                        "origin_code": "CO 1"}})
    assert patched.status == 200, patched.body
    assert len(_events(sandbox, "Change Order Packages")) == before + 1
    shown = sandbox.get_cco(pid, cco["id"])
    assert (shown["origin_id"], shown["origin_code"]) == ("SAGE-CO-1", "CO 1")
    external = call(sandbox, token, "PATCH", f"/rest/v1.0/companies/{COMPANY_ID}/external_data/"
                    "sync", {"updates": [{"item_type": "change_order", "item_id": cco["id"],
                                          "origin_id": "SAGE-CO-2", "origin_data": "d"}]})
    assert external.status == 200 and external.body["errors"] == []
    assert sandbox.get_cco(pid, cco["id"])["origin_id"] == "SAGE-CO-2"
    other = sandbox.create_cco(pid, wo["id"], status="draft")
    dup = call(sandbox, token, "PATCH", f"/rest/v1.0/change_order_packages/{other['id']}",
               {"project_id": pid, "change_order": {"origin_id": "SAGE-CO-2"}})
    assert dup.status == 400 and "origin_id" in dup.body["errors"]


def test_cco_webhooks_name_the_package(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, _, _ = _setup(sandbox, demo)
    base = f"/rest/v1.0/projects/{pid}/commitment_change_orders"
    cco = call(sandbox, token, "POST", base, {"change_order": {"contract_id": wo["id"]}}).body
    call(sandbox, token, "PATCH", f"{base}/{cco['id']}", {"change_order": {"title": "T"}})
    call(sandbox, token, "DELETE", f"{base}/{cco['id']}")
    assert _events(sandbox, "Change Order Packages") == [
        ("create", cco["id"], pid), ("update", cco["id"], pid), ("delete", cco["id"], pid)]
    assert [e[0] for e in _events(sandbox, "Potential Change Orders")] == [
        "create", "update", "delete"]
