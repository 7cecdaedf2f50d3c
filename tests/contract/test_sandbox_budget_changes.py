"""The sandbox's legacy budget modifications and budget changes against Procore's
documented shapes, over real loopback HTTP, and the revised budget arithmetic.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdBudgetModifications*.json``;
``sdk/RestV10ProjectsProjectIdBudgetChanges{Get,IdGet,Post}.json`` and
``sdk/RestV20CompaniesCompanyIdProjectsProjectIdBudgetChangesAdjustmentLineItemsGet.json``
(the OpenAPI excerpts cut those answers). Choices: docs/decisions.md ("Sandbox budgets ...").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from devstack.procore_sandbox import ProcoreSandbox
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
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
from tests.contract.test_sandbox_budgets import _events, _rows, dec
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    demo_fixture,
    http_call,
    sandbox_fixture,
)

# openapi/RestV10ProjectsProjectIdBudgetModifications{Get (items),IdGet,Post,IdPatch}.json
BUDGET_MODIFICATION = {
    "id": INT,
    "created_at": DATETIME,
    "from_budget_line_item_id": INT,
    "notes": STR,
    "origin_data": STR,
    "origin_id": STR,
    "to_budget_line_item_id": INT,
    "transfer_amount": DECIMAL,  # "type": "string", "format": "float"
    "updated_at": DATETIME,
}
_CURRENCY = {"currency_iso_code": STR}
_WBS = {"id": INT, "flat_code": STR, "description": STR}
# sdk/RestV10ProjectsProjectIdBudgetChangesIdGet.json: data.adjustment_line_items[]
ADJUSTMENT = {
    "id": NUM,
    "ref": STR,
    "adjustment_number": INT,
    "wbs_code": _WBS,
    "description": STR,
    "comment": STR,
    "calculation_strategy": STR,
    "quantity": NUM,
    "type": STR,
    "uom": STR,
    "unit_cost": NUM,
    "amount": NUM,
    "change_event_line_item_id": NUM,
    "change_event_line_item": {"id": INT, "event_id": INT},
    "currency_configuration": _CURRENCY,
}
_ATTACHMENT = {"prostore_file_id": INT, "name": STR, "url": STR}
# sdk/RestV10ProjectsProjectIdBudgetChangesIdGet.json (GET, PATCH); production quantities
# are never filled here (their item schema is in that file)
BUDGET_CHANGE = {"data": {
    "id": INT, "number": INT, "status": STR, "title": STR, "description": STR,
    "erp_status": STR, "amount": NUM,
    "prime_contract": {"id": NUM, "number": STR, "title": STR},
    "attachments": [_ATTACHMENT], "adjustment_line_items": [ADJUSTMENT],
    "production_quantities": [OBJECT], "currency_configuration": _CURRENCY,
}}
# sdk/RestV10ProjectsProjectIdBudgetChangesPost.json (201)
BUDGET_CHANGE_CREATED = {"data": {
    "id": INT, "number": INT, "status": STR, "title": STR, "description": STR,
    "erp_status": STR, "attachments": [_ATTACHMENT], "adjustment_line_items": [ADJUSTMENT],
    "created_change_event": {"id": INT, "number": STR}, "production_quantities": [OBJECT],
    "currency_configuration": _CURRENCY,
}}
# sdk/RestV10ProjectsProjectIdBudgetChangesGet.json
BUDGET_CHANGE_LIST = {"data": [{
    "id": INT, "number": INT, "status": STR, "title": STR, "description": STR,
    "erp_status": STR, "prime_contract_id": INT, "amount": NUM,
    "change_event_line_item_ids": [INT], "currency_configuration": _CURRENCY,
}]}
# sdk/RestV20CompaniesCompanyIdProjectsProjectIdBudgetChangesAdjustmentLineItemsGet.json
ADJUSTMENT_LINE_ITEMS = {"data": [{
    "id": STR, "adjustment_number": INT, "wbs_code_id": STR, "amount": NUM, "uom": STR,
    "quantity": NUM, "description": STR, "type": STR, "budget_change_number": STR,
    "budget_change_status": STR, "budget_change_name": STR, "budget_change_id": STR,
}]}
ERP_STATUSES = {"not_in_erp", "ready_to_export", "exportging", "failed_to_export", "rejected",
                "invalid", "synced", "not_integrated"}


def _budget(sandbox: ProcoreSandbox, demo: dict[str, Any], *, locked: bool = True) -> tuple:
    pid = demo["project_ids"]["main"]
    codes, types = demo["cost_code_ids"]["main"], demo["line_item_type_ids"]
    lines = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "1000.10"),
                                      (codes["05-120"], types["L"], "500"),
                                      (codes["09-900"], types["M"], "0")], locked=locked)
    wbs = [sandbox.budget_wbs_code_id(pid, codes[c], types[t])
           for c, t in (("03-300", "L"), ("05-120", "L"), ("09-900", "M"))]
    return pid, lines, wbs


# --- legacy budget modifications ---------------------------------------------------------------
def test_budget_modifications_move_money_between_lines(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, (a, b, c), _ = _budget(sandbox, demo)
    base = f"/rest/v1.0/projects/{pid}/budget_modifications"
    created = call(sandbox, token, "POST", base, {"budget_modification": {
        "from_budget_line_item_id": a, "to_budget_line_item_id": b, "transfer_amount": "250.05",
        "notes": "scope", "origin_id": "MOD-1"}})
    assert created.status == 201, created.body
    assert_shape(created.body, BUDGET_MODIFICATION, "POST budget_modifications (201)")
    assert created.body["transfer_amount"] == "250.05"
    into = call(sandbox, token, "POST", base, {"budget_modification": {
        "to_budget_line_item_id": c, "transfer_amount": 100}})  # no from: grand total grows
    assert into.status == 201
    one = f"{base}/{created.body['id']}"
    patched = call(sandbox, token, "PATCH", one, {"budget_modification": {
        "from_budget_line_item_id": a, "to_budget_line_item_id": b, "transfer_amount": "300"}})
    assert patched.status == 200, patched.body
    assert_shape(patched.body, BUDGET_MODIFICATION, "PATCH budget_modifications/{id}")
    got = call(sandbox, token, "GET", one)
    assert got.status == 200 and got.body["transfer_amount"] == "300.0"
    listed = call(sandbox, token, "GET", base)
    assert listed.status == 200 and listed.headers["Total"] == "2"
    assert_shape(listed.body, [BUDGET_MODIFICATION], "GET budget_modifications")
    rows = {r["id"]: r for r in _rows(sandbox, token, pid)}
    assert (rows[a]["budget_modifications"], rows[a]["revised_budget"]) == ("-300.0", "700.1")
    assert (rows[b]["budget_modifications"], rows[b]["revised_budget"]) == ("300.0", "800.0")
    assert (rows[c]["budget_modifications"], rows[c]["revised_budget"]) == ("100.0", "100.0")
    assert not rows[a]["deletable"] and not rows[c]["deletable"]
    delete_line = f"/rest/v2.0/companies/{COMPANY_ID}/projects/{pid}/budget_line_items/{a}"
    assert call(sandbox, token, "DELETE", delete_line).status == 422
    deleted = call(sandbox, token, "DELETE", one)
    assert (deleted.status, deleted.body) == (200, None)
    assert call(sandbox, token, "GET", one).status == 404
    assert _events(sandbox, "Budget Modifications") == [
        ("create", created.body["id"], pid), ("create", into.body["id"], pid),
        ("update", created.body["id"], pid), ("delete", created.body["id"], pid)]


def test_budget_modification_refusals(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, (a, b, _), _ = _budget(sandbox, demo, locked=False)
    base = f"/rest/v1.0/projects/{pid}/budget_modifications"

    def post(fields: dict[str, Any]) -> Any:
        return call(sandbox, token, "POST", base, {"budget_modification": fields})

    good = {"from_budget_line_item_id": a, "to_budget_line_item_id": b, "transfer_amount": "5"}
    unlocked = post(good)
    assert unlocked.status == 422 and "base" in unlocked.body["errors"]
    sandbox.seed_budget(pid, [], locked=True)
    for fields, key in (
        ({**good, "to_budget_line_item_id": 999999}, "to_budget_line_item"),
        ({**good, "to_budget_line_item_id": a}, "to_budget_line_item_id"),
        ({**good, "transfer_amount": "0"}, "transfer_amount"),
        ({**good, "transfer_amount": "abc"}, "transfer_amount"),
        ({"to_budget_line_item_id": b}, "transfer_amount"),
        ({**good, "budget_line_item_id": a}, "budget_line_item_id"),
    ):
        refused = post(fields)
        assert refused.status == 400 and key in refused.body["errors"], (fields, refused.body)
    assert post({**good, "origin_id": "M"}).status == 201
    assert post({**good, "origin_id": "M"}).body["errors"] == {
        "origin_id": ["has already been taken"]}
    assert call(sandbox, token, "GET", "/rest/v1.0/projects/999999/budget_modifications"
                ).status == 404


def test_legacy_writes_answer_405_once_budget_changes_is_on(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, (a, b, _), _ = _budget(sandbox, demo)
    base = f"/rest/v1.0/projects/{pid}/budget_modifications"
    made = call(sandbox, token, "POST", base, {"budget_modification": {
        "to_budget_line_item_id": b, "from_budget_line_item_id": a, "transfer_amount": "1"}})
    switched = http_call(sandbox.url, "POST", "/_sandbox/budget_changes",
                         json_body={"project_id": pid, "enabled": True})
    assert switched.status == 200
    one = f"{base}/{made.body['id']}"
    body = {"budget_modification": {"to_budget_line_item_id": b, "transfer_amount": "2"}}
    assert call(sandbox, token, "POST", base, body).status == 405
    assert call(sandbox, token, "PATCH", one, body).status == 405
    assert call(sandbox, token, "DELETE", one).status == 405
    assert call(sandbox, token, "GET", base).status == 200
    assert call(sandbox, token, "GET", one).status == 200
    sandbox.set_budget_changes(pid, False)
    assert call(sandbox, token, "PATCH", one, body).status == 200


def test_unlocking_destroys_modifications_unless_asked_not_to(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, (a, b, _), _ = _budget(sandbox, demo)
    base = f"/rest/v1.0/projects/{pid}/budget_modifications"
    lock = f"/rest/v1.0/projects/{pid}/budget/lock"
    body = {"budget_modification": {"to_budget_line_item_id": b, "from_budget_line_item_id": a,
                                    "transfer_amount": "1"}}
    assert call(sandbox, token, "POST", base, body).status == 201
    kept = call(sandbox, token, "DELETE", lock + "?destroy_all_budget_line_item_transfers=false")
    assert kept.status == 200 and len(call(sandbox, token, "GET", base).body) == 1
    assert call(sandbox, token, "POST", lock).status == 201
    assert call(sandbox, token, "DELETE", lock + "?destroy_all_budget_line_item_transfers=x"
                ).status == 400
    assert call(sandbox, token, "DELETE", lock).status == 200  # default: true
    assert call(sandbox, token, "GET", base).body == []
    assert [e for e in sandbox.events if e["resource_name"] != "Budget Modifications"] == []


# --- budget changes -------------------------------------------------------------------------
def test_budget_changes_answer_403_until_enabled(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, _, _ = _budget(sandbox, demo)
    base = f"/rest/v1.0/projects/{pid}/budget_changes"
    v2 = f"/rest/v2.0/companies/{COMPANY_ID}/projects/{pid}/budget_changes/adjustment_line_items"
    assert call(sandbox, token, "GET", base).status == 403
    assert call(sandbox, token, "POST", base, {"status": "draft"}).status == 403
    assert call(sandbox, token, "GET", v2).status == 403
    sandbox.set_budget_changes(pid)
    assert call(sandbox, token, "GET", base).body == {"data": []}
    assert call(sandbox, token, "GET", v2).body == {"data": []}


def test_budget_change_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, (a, b, c), wbs = _budget(sandbox, demo)
    sandbox.set_budget_changes(pid)
    base = f"/rest/v1.0/projects/{pid}/budget_changes"
    created = call(sandbox, token, "POST", base, {
        "status": "draft", "title": "Owner scope", "adjustment_line_items": [
            {"wbs_code_id": wbs[0], "amount": 150.35, "type": "budget_change", "ref": "r1",
             "quantity": 1, "uom": "ls", "unit_cost": 150.35, "description": "add"},
            {"wbs_code_id": wbs[1], "amount": -50.35}]})
    assert created.status == 201, created.body
    assert_shape(created.body, BUDGET_CHANGE_CREATED, "POST budget_changes (201)")
    data = created.body["data"]
    assert data["status"] == "draft" and data["erp_status"] in ERP_STATUSES
    assert [adj["wbs_code"]["id"] for adj in data["adjustment_line_items"]] == wbs[:2]
    one = f"{base}/{data['id']}"
    got = call(sandbox, token, "GET", one)
    assert got.status == 200
    assert_shape(got.body, BUDGET_CHANGE, "GET budget_changes/{id}")
    assert dec(got.body["data"]["amount"]) == Decimal("100.00")
    listed = call(sandbox, token, "GET", base)
    assert_shape(listed.body, BUDGET_CHANGE_LIST, "GET budget_changes")
    v2 = call(sandbox, token, "GET", f"/rest/v2.0/companies/{COMPANY_ID}/projects/{pid}"
              "/budget_changes/adjustment_line_items?per_page=1")
    assert v2.status == 200 and v2.headers["Total"] == "2" and v2.headers["Per-Page"] == "1"
    assert_shape(v2.body, ADJUSTMENT_LINE_ITEMS, "GET v2.0 adjustment_line_items")
    assert v2.body["data"][0]["budget_change_id"] == str(data["id"])
    assert 'rel="next"' in v2.headers["Link"]

    # draft: pending, not approved
    rows = {r["id"]: r for r in _rows(sandbox, token, pid)}
    assert (rows[a]["approved_budget_changes"], rows[a]["revised_budget"]) == ("0.0", "1000.1")
    line = call(sandbox, token, "GET", f"/rest/v1.0/budget_line_items/{a}?project_id={pid}").body
    assert dec(line["pending_budget_changes"]) == Decimal("150.35")
    assert dec(line["projected_budget"]) == Decimal("1150.45")

    first_adjustment = data["adjustment_line_items"][0]["id"]
    patched = call(sandbox, token, "PATCH", one, {"status": "approved", "adjustment_line_items": [
        {"id": first_adjustment, "type": "budget_change", "amount": 200.2},
        {"wbs_code_id": wbs[2], "amount": 0.05}]})
    assert patched.status == 200, patched.body
    assert_shape(patched.body, BUDGET_CHANGE, "PATCH budget_changes/{id}")
    rows = {r["id"]: r for r in _rows(sandbox, token, pid)}
    assert [(rows[x]["approved_budget_changes"], rows[x]["revised_budget"]) for x in (a, b, c)] == [
        ("200.2", "1200.3"), ("-50.35", "449.65"), ("0.05", "0.05")]
    assert not rows[a]["deletable"]
    line = call(sandbox, token, "GET", f"/rest/v1.0/budget_line_items/{a}?project_id={pid}").body
    assert dec(line["revised_budget"]) == Decimal("1000.10") + Decimal("200.2")
    assert dec(line["approved_budget_changes"]) == Decimal("200.2")
    # approved: adjustments frozen, no delete; void stops counting
    frozen = call(sandbox, token, "PATCH", one, {"adjustment_line_items": [
        {"wbs_code_id": wbs[0], "amount": 1}]})
    assert frozen.status == 422 and "adjustment_line_items" in frozen.body["errors"]
    assert call(sandbox, token, "DELETE", one).status == 422
    assert call(sandbox, token, "PATCH", one, {"status": "void"}).status == 200
    assert {r["id"]: r["revised_budget"] for r in _rows(sandbox, token, pid)}[a] == "1000.1"
    deleted = call(sandbox, token, "DELETE", one)
    assert (deleted.status, deleted.body) == (204, None)
    assert call(sandbox, token, "GET", one).status == 404
    assert _events(sandbox, "Budget Changes") == [
        ("create", data["id"], pid), ("update", data["id"], pid), ("update", data["id"], pid),
        ("delete", data["id"], pid)]


def test_budget_change_refusals(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, _, wbs = _budget(sandbox, demo, locked=False)
    sandbox.set_budget_changes(pid)
    codes, types = demo["cost_code_ids"]["main"], demo["line_item_type_ids"]
    unbudgeted = sandbox.budget_wbs_code_id(pid, codes["26-000"], types["L"])
    base = f"/rest/v1.0/projects/{pid}/budget_changes"

    def post(body: dict[str, Any]) -> Any:
        return call(sandbox, token, "POST", base, body)

    good = {"status": "draft", "adjustment_line_items": [{"wbs_code_id": wbs[0], "amount": 1}]}
    unlocked = post(good)
    assert unlocked.status == 422 and "base" in unlocked.body["errors"]
    sandbox.seed_budget(pid, [], locked=True)
    for body, key in (
        ({"title": "x"}, "status"),
        ({"status": "done"}, "status"),
        ({"status": "draft", "budget_change": {}}, "budget_change"),
        ({"status": "draft", "adjustment_line_items": [{"wbs_code_id": unbudgeted, "amount": 1}]},
         "adjustment_line_items[0].wbs_code"),
        ({"status": "draft", "adjustment_line_items": [{"wbs_code_id": 999999, "amount": 1}]},
         "adjustment_line_items[0].wbs_code"),
        ({"status": "draft", "adjustment_line_items": [{"wbs_code_id": wbs[0]}]},
         "adjustment_line_items[0].amount"),
        ({"status": "draft", "adjustment_line_items": [{"amount": 1}]},
         "adjustment_line_items[0].wbs_code_id"),
        ({"status": "draft", "adjustment_line_items": [
            {"wbs_code_id": wbs[0], "amount": 1, "type": "change_event"}]},
         "adjustment_line_items[0].change_event_line_item"),
    ):
        refused = post(body)
        assert refused.status == 422 and key in refused.body["errors"], (body, refused.body)
    assert post({**good, "number": 7}).status == 201
    assert post({**good, "number": 7}).body["errors"] == {"number": ["has already been taken"]}
    assert post(good).body["data"]["number"] == 8
    assert len(_events(sandbox, "Budget Changes")) == 2
