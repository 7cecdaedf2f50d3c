"""The sandbox's budget views, detail rows, budget line items, lock, line item sync and
external data sync against Procore's documented shapes, over real loopback HTTP.

Expected shapes are copied from the reference excerpts (``procore-spec/openapi/
RestV10BudgetViews*.json``, ``RestV1{0,1}BudgetLineItems*.json``,
``RestV10ProjectsProjectIdBudget*.json``; ``sdk/RestV10BudgetLineItemsSyncPost.json``);
the sandbox's choices are in docs/decisions.md ("Sandbox budgets ..."). Amounts: numbers
in budget line items, decimal text in detail rows; compared here as ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from devstack.procore_sandbox import ProcoreSandbox
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    BOOL,
    DATETIME,
    DECIMAL,
    INT,
    NUM,
    OBJECT,
    STR,
    SYNC_ERROR,
    assert_shape,
    call,
    token_fixture,
)
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    demo_fixture,
    sandbox_fixture,
)

# openapi/RestV10BudgetViewsGet.json (items)
BUDGET_VIEW = {
    "id": INT,
    "name": STR,
    "description": STR,
    "created_at": STR,
    "created_by": {"id": INT, "name": STR, "login": STR},
    "updated_at": STR,
    "role": STR,
    "links": {"detail_rows": STR, "summary_rows": STR},
}
_CURRENCY = {"currency_iso_code": STR}
# openapi/RestV10BudgetViewsBudgetViewIdDetailRowsGet.json (items) plus the standard view's
# column keys (the description: "an additional key for each visible source and formula
# column"): approved_budget_changes and revised_budget, text like the other amounts
DETAIL_ROW = {
    "id": INT,
    "deletable": BOOL,
    "company_id": INT,
    "company": STR,
    "project_id": INT,
    "wbs_code_id": INT,
    "biller_id": INT,
    "root_cost_code_id": INT,
    "cost_code_id": INT,
    "cost_code_origin_id": STR,
    "category_id": INT,
    "project": STR,
    "biller": STR,
    "biller_type": STR,
    "root_cost_code": STR,
    "cost_code": STR,
    "category": STR,
    "budget_modifications": DECIMAL,
    "original_budget_amount": DECIMAL,
    "committed_costs": DECIMAL,
    "direct_costs": DECIMAL,
    "budget_forecast": {
        "id": INT,
        "manual_amount": DECIMAL,
        "automatic_amount": DECIMAL,
        "amount": DECIMAL,
        "automatically_calculated": BOOL,
        "calculation_strategy": STR,
        "notes": STR,
    },
    "currency_configuration": _CURRENCY,
    "unbudgeted_reason": STR,
    "approved_budget_changes": DECIMAL,
    "revised_budget": DECIMAL,
}
# openapi/RestV10BudgetLineItems{Post (201),IdGet,IdPatch}.json, plus origin_id (external
# data sync; decisions.md)
LINE_ITEM_V10 = {
    "id": INT,
    "original_budget_amount": NUM,
    "uom": STR,
    "quantity": NUM,
    "unit_cost": NUM,
    "calculation_strategy": STR,
    "approved_budget_changes": NUM,
    "revised_budget": NUM,
    "pending_budget_changes": NUM,
    "projected_budget": NUM,
    "committed_costs": NUM,
    "direct_costs": NUM,
    "pending_cost_changes": NUM,
    "projected_costs": NUM,
    "budget_forecast": NUM,
    "estimated_cost_at_completion": NUM,
    "projected_over_under": NUM,
    "cost_code": {"id": INT, "name": STR, "code": STR, "full_code": STR},
    "division": {"id": INT, "name": STR, "full_code": STR},
    "line_item_type": {"id": INT, "name": STR},
    "currency_configuration": _CURRENCY,
    "origin_id": STR,
}
# openapi/RestV11BudgetLineItems{Post,IdGet,IdPatch}.json = sync items
# (sdk/RestV10BudgetLineItemsSyncPost.json), plus origin_id
LINE_ITEM_V11 = {
    "id": INT,
    "original_budget_amount": NUM,
    "uom": STR,
    "quantity": NUM,
    "unit_cost": NUM,
    "calculation_strategy": STR,
    "wbs_code": {"id": INT, "flat_code": STR, "description": STR},
    "currency_configuration": _CURRENCY,
    "origin_id": STR,
}
NEVER_NULL = frozenset({"id", "wbs_code", "cost_code", "line_item_type", "division"})


def dec(value: Any) -> Decimal:
    """A JSON number or decimal text as the decimal it wrote."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _setup(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> tuple[int, dict, dict]:
    return (demo["project_ids"]["main"], demo["cost_code_ids"]["main"],
            demo["line_item_type_ids"])


def _view_id(sandbox: ProcoreSandbox, token: str, pid: int) -> int:
    views = call(sandbox, token, "GET", f"/rest/v1.0/budget_views?project_id={pid}")
    assert views.status == 200, views.body
    return int(views.body[0]["id"])


def _rows(sandbox: ProcoreSandbox, token: str, pid: int, query: str = "") -> list[dict]:
    view = _view_id(sandbox, token, pid)
    answer = call(sandbox, token, "GET",
                  f"/rest/v1.0/budget_views/{view}/detail_rows?project_id={pid}{query}")
    assert answer.status == 200, answer.body
    assert_shape(answer.body, [DETAIL_ROW], "detail rows")
    return list(answer.body)


def _events(sandbox: ProcoreSandbox, name: str) -> list[tuple[str, int, int]]:
    return [(e["event_type"], e["resource_id"], e["project_id"])
            for e in sandbox.events if e["resource_name"] == name]


# --- views and detail rows ---------------------------------------------------------------------
def test_views_and_detail_rows_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    views = call(sandbox, token, "GET", f"/rest/v1.0/budget_views?project_id={pid}")
    assert views.status == 200
    assert_shape(views.body, [BUDGET_VIEW], "GET /budget_views")
    assert [v["name"] for v in views.body] == ["Procore Standard Budget"]
    assert (views.headers["Total"], views.headers["Per-Page"]) == ("1", "100")
    view = views.body[0]["id"]
    assert views.body[0]["links"]["detail_rows"].endswith(
        f"/rest/v1.0/budget_views/{view}/detail_rows?project_id={pid}")
    second = demo["project_ids"]["second"]
    assert _view_id(sandbox, token, second) == view  # one company view, every project

    ids = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "1200"),
                                    (codes["05-120"], types["M"], "300.5"),
                                    (codes["09-900"], types["L"], "0")])
    rows = _rows(sandbox, token, pid)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    first = next(r for r in rows if r["id"] == ids[0])
    assert first["original_budget_amount"] == "1200.0"
    assert (first["budget_modifications"], first["approved_budget_changes"],
            first["revised_budget"]) == ("0.0", "0.0", "1200.0")
    assert (first["cost_code_id"], first["category_id"], first["cost_code"],
            first["category"]) == (codes["03-300"], types["L"], "Cast-in-Place Concrete", "Labor")
    assert (first["biller_type"], first["biller_id"], first["company_id"]) == (
        "Project", pid, COMPANY_ID)
    assert first["wbs_code_id"] == sandbox.budget_wbs_code_id(pid, codes["03-300"], types["L"])
    assert first["deletable"] is True and "origin_id" not in first

    base = f"/rest/v1.0/budget_views/{view}/detail_rows"
    missing = call(sandbox, token, "GET", base)
    assert missing.status == 400 and "project_id" in str(missing.body)
    assert call(sandbox, token, "GET", f"/rest/v1.0/budget_views/9/detail_rows?project_id={pid}"
                ).status == 404
    assert call(sandbox, token, "GET", f"{base}?project_id={pid}&budget_row_type=x").status == 400
    assert [r["id"] for r in _rows(sandbox, token, pid, f"&budget_line_item_id[]={ids[1]}")] == [
        ids[1]]
    assert {r["id"] for r in _rows(
        sandbox, token, pid, f"&cost_code_id[]={codes['03-300']}&cost_code_id[]="
        f"{codes['09-900']}")} == {ids[0], ids[2]}
    assert {r["id"] for r in _rows(sandbox, token, pid, f"&category_id[]={types['L']}")} == {
        ids[0], ids[2]}
    assert _rows(sandbox, token, pid, "&budget_row_type=unbudgeted") == []
    page = call(sandbox, token, "GET", f"{base}?project_id={pid}&per_page=2&page=1")
    assert len(page.body) == 2 and page.headers["Total"] == "3"
    assert 'rel="next"' in page.headers["Link"]


def test_unbudgeted_rows_are_wbs_codes_with_committed_cost(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    commitment = sandbox.create_commitment("work_order_contracts", pid, status="Approved")
    sandbox.add_line_item("work_order_contracts", commitment["id"], amount="500",
                          cost_code_id=codes["26-000"], line_item_type_id=types["S"])
    rows = _rows(sandbox, token, pid, "&budget_row_type=unbudgeted")
    assert len(rows) == 1 and rows[0]["id"] is None and rows[0]["deletable"] is False
    assert rows[0]["wbs_code_id"] == sandbox.budget_wbs_code_id(pid, codes["26-000"], types["S"])
    assert isinstance(rows[0]["unbudgeted_reason"], str)
    assert _rows(sandbox, token, pid) == []  # budgeted is the default
    [line] = sandbox.seed_budget(pid, [(codes["26-000"], types["S"], "800")])
    answer = call(sandbox, token, "GET", f"/rest/v1.0/budget_line_items/{line}?project_id={pid}")
    assert dec(answer.body["committed_costs"]) == Decimal("500")
    assert dec(answer.body["projected_over_under"]) == Decimal("300")


# --- budget line items -------------------------------------------------------------------------
def test_budget_line_item_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    created = call(sandbox, token, "POST", "/rest/v1.0/budget_line_items", {
        "project_id": pid,
        "budget_line_item": {"cost_code_id": codes["03-300"], "line_item_type_id": types["L"],
                             "original_budget_amount": 1200.1, "uom": "ea", "quantity": 10,
                             "unit_cost": 120.01, "calculation_strategy": "manual"}})
    assert created.status == 201, created.body
    assert_shape(created.body, LINE_ITEM_V10, "POST v1.0 (201)", never_null=NEVER_NULL)
    assert dec(created.body["original_budget_amount"]) == Decimal("1200.1")
    assert dec(created.body["revised_budget"]) == Decimal("1200.1")
    assert created.body["cost_code"]["full_code"] == "03-300"
    line = created.body["id"]
    wbs = sandbox.budget_wbs_code_id(pid, codes["05-120"], types["M"])
    v11 = call(sandbox, token, "POST", "/rest/v1.1/budget_line_items", {
        "project_id": pid, "budget_line_item": {"wbs_code_id": wbs, "original_budget_amount": 7}})
    assert v11.status == 201, v11.body
    assert_shape(v11.body, LINE_ITEM_V11, "POST v1.1 (201)", never_null=NEVER_NULL)
    assert v11.body["wbs_code"] == {"id": wbs, "flat_code": "05-120.M",
                                    "description": "Structural Steel.Material"}
    for version, shape in (("1.0", LINE_ITEM_V10), ("1.1", LINE_ITEM_V11)):
        path = f"/rest/v{version}/budget_line_items/{line}"
        got = call(sandbox, token, "GET", f"{path}?project_id={pid}")
        assert got.status == 200
        assert_shape(got.body, shape, f"GET v{version}", never_null=NEVER_NULL)
        patched = call(sandbox, token, "PATCH", path,
                       {"project_id": pid, "budget_line_item": {"uom": "lf"}})
        assert patched.status == 200, patched.body
        assert_shape(patched.body, shape, f"PATCH v{version}", never_null=NEVER_NULL)
        assert patched.body["uom"] == "lf"
        assert call(sandbox, token, "GET", path).status == 400  # project_id is required
    # no list endpoint; delete is v2.0 only
    assert call(sandbox, token, "GET", f"/rest/v1.0/budget_line_items?project_id={pid}"
                ).status == 404
    assert call(sandbox, token, "GET", f"/rest/v1.1/budget_line_items?project_id={pid}"
                ).status == 404
    assert call(sandbox, token, "DELETE", f"/rest/v1.0/budget_line_items/{line}?project_id={pid}"
                ).status == 405
    v2 = f"/rest/v2.0/companies/{COMPANY_ID}/projects/{pid}/budget_line_items/{line}"
    deleted = call(sandbox, token, "DELETE", v2)
    assert (deleted.status, deleted.body) == (204, None)
    assert call(sandbox, token, "GET", f"/rest/v1.0/budget_line_items/{line}?project_id={pid}"
                ).status == 404
    assert call(sandbox, token, "DELETE", v2).status == 404
    assert call(sandbox, token, "DELETE", v2.replace(str(COMPANY_ID), "99")).status == 403
    assert [r["id"] for r in _rows(sandbox, token, pid)] == [v11.body["id"]]
    assert _events(sandbox, "Budget Line Items") == [
        ("create", line, pid), ("create", v11.body["id"], pid), ("update", line, pid),
        ("update", line, pid), ("delete", line, pid)]
    # the WBS code is free again once its line is deleted
    again = call(sandbox, token, "POST", "/rest/v1.0/budget_line_items", {
        "project_id": pid,
        "budget_line_item": {"cost_code_id": codes["03-300"], "line_item_type_id": types["L"]}})
    assert again.status == 201 and again.body["original_budget_amount"] == 0


def test_budget_line_item_refusals(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    base = "/rest/v1.0/budget_line_items"

    def post(fields: dict[str, Any], path: str = base, project: Any = pid) -> Any:
        body = {"budget_line_item": fields}
        if project is not None:
            body["project_id"] = project
        return call(sandbox, token, "POST", path, body)

    good = {"cost_code_id": codes["03-300"], "line_item_type_id": types["L"]}
    assert post(good, project=None).status == 400
    assert post(good, project=999999).status == 404
    for fields, key in (
        ({**good, "cost_code_id": 999999}, "cost_code"),
        ({**good, "line_item_type_id": 999999}, "line_item_type"),
        ({"cost_code_id": codes["03-300"]}, "line_item_type_id"),
        ({**good, "sub_job_id": 1}, "sub_job_id"),  # undocumented: the cost code names it
        ({**good, "original_budget_amount": "12"}, "original_budget_amount"),  # number only
        ({**good, "calculation_strategy": "guess"}, "calculation_strategy"),
    ):
        refused = post(fields)
        assert refused.status == 422 and key in refused.body["errors"], (fields, refused.body)
    assert post({"wbs_code_id": 999999}, "/rest/v1.1/budget_line_items").body["errors"] == {
        "wbs_code": ["must exist"]}
    assert post({}, "/rest/v1.1/budget_line_items").body["errors"] == {
        "wbs_code_id": ["can't be blank"]}
    assert post(good).status == 201
    taken = post(good)
    assert (taken.status, taken.body["errors"]) == (422, {"wbs_code": ["has already been taken"]})
    wbs = sandbox.budget_wbs_code_id(pid, codes["03-300"], types["L"])
    assert post({"wbs_code_id": wbs}, "/rest/v1.1/budget_line_items").status == 422
    automatic = post({"cost_code_id": codes["05-120"], "line_item_type_id": types["L"],
                      "calculation_strategy": "automatic", "quantity": 3, "unit_cost": 2.5})
    assert automatic.status == 201 and dec(automatic.body["original_budget_amount"]) == Decimal(
        "7.5")
    assert post({"cost_code_id": codes["09-900"], "line_item_type_id": types["L"],
                 "calculation_strategy": "automatic", "quantity": 3, "unit_cost": 2,
                 "original_budget_amount": 5}).status == 422
    assert len(_events(sandbox, "Budget Line Items")) == 2  # refusals fire nothing


def test_a_locked_budget_keeps_its_original_amounts(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    budget = f"/rest/v1.0/projects/{pid}/budget"
    assert call(sandbox, token, "GET", budget).body == {"locked": False}
    [line] = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "1000")])
    locked = call(sandbox, token, "POST", budget + "/lock")
    assert (locked.status, locked.body) == (201, {"locked": True})
    assert call(sandbox, token, "GET", budget).body == {"locked": True}
    assert call(sandbox, token, "POST", budget + "/lock").status == 422
    new = {"cost_code_id": codes["05-120"], "line_item_type_id": types["L"],
           "original_budget_amount": 10}
    refused = call(sandbox, token, "POST", "/rest/v1.0/budget_line_items",
                   {"project_id": pid, "budget_line_item": new})
    assert refused.status == 422 and "original_budget_amount" in refused.body["errors"]
    partial = call(sandbox, token, "POST", "/rest/v1.0/budget_line_items",
                   {"project_id": pid, "budget_line_item": {**new, "original_budget_amount": 0}})
    assert partial.status == 201  # a partial budget line item
    path = f"/rest/v1.1/budget_line_items/{line}"
    changed = call(sandbox, token, "PATCH", path,
                   {"project_id": pid, "budget_line_item": {"original_budget_amount": 999}})
    assert changed.status == 422 and "original_budget_amount" in changed.body["errors"]
    same = call(sandbox, token, "PATCH", path, {
        "project_id": pid, "budget_line_item": {"original_budget_amount": 1000, "uom": "ls"}})
    assert same.status == 200
    unlocked = call(sandbox, token, "DELETE", budget + "/lock")
    assert (unlocked.status, unlocked.body) == (200, {"locked": False})
    assert call(sandbox, token, "DELETE", budget + "/lock").status == 422
    assert call(sandbox, token, "PATCH", path, {
        "project_id": pid, "budget_line_item": {"original_budget_amount": 999}}).status == 200
    assert call(sandbox, token, "GET", "/rest/v1.0/projects/999999/budget").status == 404
    assert _events(sandbox, "Budget Line Items") == [
        ("create", partial.body["id"], pid), ("update", line, pid), ("update", line, pid)]


# --- sync ----------------------------------------------------------------------------------------
def test_sync_answers_a_bare_array_and_matches_id_then_wbs_code(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    first, second = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "100"),
                                              (codes["05-120"], types["L"], "200")])
    wbs = {key: sandbox.budget_wbs_code_id(pid, codes[code], types[t])
           for key, code, t in (("a", "03-300", "L"), ("b", "05-120", "L"), ("c", "09-900", "M"))}
    synced = call(sandbox, token, "POST", "/rest/v1.0/budget_line_items/sync", {
        "project_id": pid,
        "budget_line_items": [
            {"id": first, "wbs_code_id": wbs["a"], "original_budget_amount": 150.25},
            {"wbs_code_id": wbs["b"], "uom": "ea", "quantity": 2, "unit_cost": 100,
             "calculation_strategy": "automatic"},
            {"wbs_code_id": wbs["c"], "original_budget_amount": 0.1},
        ]})
    assert synced.status == 200, synced.body
    assert isinstance(synced.body, list)
    assert_shape(synced.body, [LINE_ITEM_V11], "POST /budget_line_items/sync",
                 never_null=NEVER_NULL)
    assert [item["id"] for item in synced.body[:2]] == [first, second]
    assert [dec(item["original_budget_amount"]) for item in synced.body] == [
        Decimal("150.25"), Decimal("200"), Decimal("0.1")]
    assert [item["wbs_code"]["id"] for item in synced.body] == [wbs["a"], wbs["b"], wbs["c"]]
    created = synced.body[2]["id"]
    assert _events(sandbox, "Budget Line Items") == [
        ("update", first, pid), ("update", second, pid), ("create", created, pid)]
    assert call(sandbox, token, "POST", "/rest/v1.0/budget_line_items/sync",
                {"project_id": pid, "budget_line_items": []}).body == []


def test_sync_is_all_or_nothing_and_limited_to_1000_items(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    [line] = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "100")])
    wbs = sandbox.budget_wbs_code_id(pid, codes["03-300"], types["L"])
    other = sandbox.budget_wbs_code_id(pid, codes["05-120"], types["L"])
    path = "/rest/v1.0/budget_line_items/sync"
    before = _rows(sandbox, token, pid)

    def sync(items: list[Any], project: Any = pid) -> Any:
        return call(sandbox, token, "POST", path,
                    {"project_id": project, "budget_line_items": items})

    refused = sync([{"wbs_code_id": other, "original_budget_amount": 5},
                    {"wbs_code_id": 999999},
                    {"id": 999999, "wbs_code_id": wbs},
                    {"wbs_code_id": wbs, "origin_id": "X"},
                    {"original_budget_amount": 1}])
    assert refused.status == 422
    assert refused.body["errors"] == {
        "budget_line_items[1].wbs_code": ["must exist"],
        "budget_line_items[2].id": ["Entity with this ID not found"],
        "budget_line_items[3].origin_id": ["is not a permitted attribute"],
        "budget_line_items[4].wbs_code_id": ["can't be blank"],
    }
    duplicated = sync([{"wbs_code_id": other}, {"wbs_code_id": other}])
    assert duplicated.status == 422 and list(duplicated.body["errors"]) == [
        "budget_line_items[1].wbs_code_id"]
    assert sync([{"id": line, "wbs_code_id": wbs}, {"wbs_code_id": wbs}]).status == 422
    too_many = sync([{"wbs_code_id": other}] * 1001)
    assert too_many.status == 422 and "budget_line_items" in too_many.body["errors"]
    assert sync([{"wbs_code_id": other}], project=None).status == 400
    assert call(sandbox, token, "GET", path).status == 405
    assert _rows(sandbox, token, pid) == before and _events(sandbox, "Budget Line Items") == []
    # the lock rule holds in a sync too
    sandbox.seed_budget(pid, [], locked=True)
    locked = sync([{"id": line, "wbs_code_id": wbs, "original_budget_amount": 1},
                   {"wbs_code_id": other, "original_budget_amount": 1}])
    assert locked.status == 422 and set(locked.body["errors"]) == {
        "budget_line_items[0].original_budget_amount",
        "budget_line_items[1].original_budget_amount"}
    ok = sync([{"wbs_code_id": other, "original_budget_amount": 0}] * 1 +
              [{"id": line, "wbs_code_id": wbs, "uom": "ea"}])
    assert ok.status == 200 and len(ok.body) == 2


# --- external data sync (ERP close-out) -------------------------------------------------------
def test_external_data_sync_sets_origin_ids(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    first, second = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "100"),
                                              (codes["05-120"], types["L"], "200")])
    commitment = sandbox.create_commitment("work_order_contracts", pid)
    path = f"/rest/v1.0/companies/{COMPANY_ID}/external_data/sync"
    vendor = demo["vendor_ids"]["steel"]
    answer = call(sandbox, token, "PATCH", path, {"updates": [
        {"item_type": "budget_line_item", "item_id": first, "origin_id": "BUD-1",
         "origin_data": "job 24-001"},
        {"item_type": "budget_line_item", "item_id": second, "origin_id": "BUD-1"},
        {"item_type": "budget_line_item", "item_id": 999999, "origin_id": "BUD-2"},
        {"item_type": "direct_cost", "item_id": first, "origin_id": "R-1"},
        {"item_type": "vendor", "item_id": vendor, "origin_id": "V-7"},
        {"item_type": "project", "item_id": pid, "origin_id": "JOB-1"},
        {"item_type": "work_order_contract", "item_id": commitment["id"], "origin_id": "SC-1"},
    ]})
    assert answer.status == 200
    assert_shape(answer.body, {"entities": [{"item_type": STR, "item_id": INT, "origin_id": STR,
                                             "origin_data": STR}], "errors": [SYNC_ERROR]},
                 "PATCH external_data/sync")
    assert [(e["item_type"], e["item_id"], e["origin_id"]) for e in answer.body["entities"]] == [
        ("budget_line_item", first, "BUD-1"), ("vendor", vendor, "V-7"),
        ("project", pid, "JOB-1"), ("work_order_contract", commitment["id"], "SC-1")]
    assert [e["errors"] for e in answer.body["errors"]] == [
        {"origin_id": ["has already been taken"]}, {"item_id": ["Entity with this ID not found"]},
        {"item_type": ["unsupported item_type"]}]
    for version in ("1.0", "1.1"):
        got = call(sandbox, token, "GET",
                   f"/rest/v{version}/budget_line_items/{first}?project_id={pid}")
        assert got.body["origin_id"] == "BUD-1"
    assert all("origin_id" not in row for row in _rows(sandbox, token, pid))
    assert sandbox.get_commitment("work_order_contracts", commitment["id"])["origin_id"] == "SC-1"
    cleared = call(sandbox, token, "PATCH", path, {"updates": [
        {"item_type": "budget_line_item", "item_id": first, "origin_id": None}]})
    assert cleared.body["entities"][0]["origin_id"] is None
    assert call(sandbox, token, "PATCH", path.replace(str(COMPANY_ID), "1"),
                {"updates": []}).status == 403
    assert call(sandbox, token, "PATCH", path, {"updates": [{}] * 1001}).status == 422


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_moving_a_line_to_a_taken_wbs_code_is_refused(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, version: str
) -> None:
    pid, codes, types = _setup(sandbox, demo)
    first, _ = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "1"),
                                         (codes["05-120"], types["L"], "2")])
    target = ({"cost_code_id": codes["05-120"]} if version == "1.0"
              else {"wbs_code_id": sandbox.budget_wbs_code_id(pid, codes["05-120"], types["L"])})
    moved = call(sandbox, token, "PATCH", f"/rest/v{version}/budget_line_items/{first}",
                 {"project_id": pid, "budget_line_item": target})
    assert (moved.status, moved.body["errors"]) == (422, {"wbs_code": ["has already been taken"]})
