"""The sandbox's direct costs and their line items over real loopback HTTP: the documented
shapes, both syncs, the list filters, the ``Direct Costs`` webhook and the budget's
direct cost amounts.

Shapes: ``procore-spec/openapi/RestV1{0,1}ProjectsProjectIdDirectCosts*.json``. Choices:
docs/decisions.md ("Sandbox direct costs ...").
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from devstack.procore_sandbox import (
    DIRECT_COST_LINE_ITEMS_RESOURCE,
    DIRECT_COSTS_RESOURCE,
    ProcoreSandbox,
)
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    OBJECT,
    STR,
    assert_shape,
    call,
    sync_answer,
    token_fixture,
)
from tests.contract.test_sandbox_budgets import _events, _rows
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    sandbox_fixture,
)

_NAMED = {"id": INT, "name": STR}
_TYPE = {"id": INT, "name": STR, "code": STR, "base_type": STR, "origin_data": STR,
         "origin_id": STR}
_WBS = {"id": INT, "flat_code": STR, "description": STR}
# openapi/RestV10ProjectsProjectIdDirectCostsGet.json (items)
LIST_ITEM = {
    "id": INT, "amount": DECIMAL, "created_at": DATETIME, "deleted_at": DATETIME,
    "description": STR, "direct_cost_type": STR, "direct_cost_date": DATE,
    "grand_total": DECIMAL, "invoice_number": STR, "origin_data": STR, "origin_id": STR,
    "payment_date": DATE, "received_date": DATE, "status": STR, "terms": STR,
    "updated_at": DATETIME, "vendor": STR, "vendor_id": INT, "vendor_name": STR,
    "currency_configuration": OBJECT, "employee": _NAMED,
}
# openapi/RestV10ProjectsProjectIdDirectCosts{IdGet,Post,IdPatch,SyncPatch}.json
DIRECT_COST = {
    "id": INT, "attachments": [{"id": INT, "url": STR, "filename": STR}],
    "attachments_count": INT, "created_at": DATETIME, "deleted_at": DATETIME,
    "description": STR, "direct_cost_type": STR, "employee": _NAMED, "invoice_number": STR,
    "direct_cost_date": DATE, "origin_data": STR, "origin_id": STR, "grand_total": DECIMAL,
    "line_items_count": INT, "payment_date": DATE, "received_date": DATE, "status": STR,
    "terms": STR, "updated_at": DATETIME, "vendor": _NAMED, "vendor_id": INT,
    "vendor_name": STR, "currency_configuration": OBJECT,
}
# openapi/RestV10ProjectsProjectIdDirectCosts{DirectCostIdLineItems*,LineItemsSyncPatch}.json
LINE = {
    "id": INT, "amount": DECIMAL, "company": _NAMED, "cost_code": OBJECT,
    "created_at": DATETIME, "description": STR, "extended_type": STR,
    "holder": {"id": INT, "holder_type": STR}, "line_item_type": _TYPE, "origin_data": STR,
    "origin_id": STR, "position": INT, "project": _NAMED, "quantity": DECIMAL,
    "tax_code_id": INT, "total_amount": DECIMAL, "extended_amount": DECIMAL,
    "unit_cost": DECIMAL, "uom": STR, "updated_at": DATETIME,
    "change_event_line_item": OBJECT, "wbs_code": _WBS, "currency_configuration": OBJECT,
}
# openapi/RestV11ProjectsProjectIdDirectCosts{IdGet,Post,IdPatch}.json
V11_LINE = {key: LINE[key] for key in LINE
            if key not in ("holder", "project", "change_event_line_item")} | {"ref": STR}
V11_DIRECT_COST = DIRECT_COST | {
    "company": _NAMED, "project": _NAMED, "line_items": [V11_LINE],
    "currency_configuration": {"currency_iso_code": STR, "currency_exchange_rate": STR,
                               "base_currency_iso_code": STR},
}
NEVER_NULL = frozenset({"id", "amount", "grand_total", "direct_cost_type", "direct_cost_date",
                        "status", "position", "wbs_code", "cost_code", "line_item_type"})


def _ids(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> tuple[int, dict, dict, int]:
    return (demo["project_ids"]["main"], demo["cost_code_ids"]["main"],
            demo["line_item_type_ids"], demo["vendor_ids"]["concrete"])


def _base(pid: int) -> str:
    return f"/rest/v1.0/projects/{pid}/direct_costs"


def _header(origin: str, **extra: Any) -> dict[str, Any]:
    return {"origin_id": origin, "direct_cost_type": "expense",
            "direct_cost_date": "2026-01-15", "description": f"Sage {origin}", **extra}


def test_sync_creates_then_updates_by_origin_id(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, _, _, vendor = _ids(sandbox, demo)
    first = call(sandbox, token, "PATCH", f"{_base(pid)}/sync", {"updates": [
        _header("jobcst:1", status="approved"),
        _header("jobcst:2", direct_cost_type="invoice", vendor_id=vendor,
                invoice_number="INV-7"),
    ]})
    assert first.status == 200, first.body
    assert_shape(first.body, sync_answer(DIRECT_COST), "sync", never_null=NEVER_NULL)
    assert first.body["errors"] == []
    one, two = first.body["entities"]
    assert (one["origin_id"], one["status"], one["grand_total"]) == ("jobcst:1", "approved",
                                                                    "0.00")
    assert (two["vendor"], two["vendor_name"]) == (
        {"id": vendor, "name": "Granite Bay Concrete"}, "Granite Bay Concrete")
    again = call(sandbox, token, "PATCH", f"{_base(pid)}/sync", {"updates": [
        {"origin_id": "jobcst:1", "description": "changed", "direct_cost_type": "expense"}]})
    assert again.status == 200 and again.body["errors"] == []
    assert again.body["entities"][0]["id"] == one["id"]
    assert again.body["entities"][0]["description"] == "changed"
    assert [d["id"] for d in sandbox.direct_costs(pid)] == [one["id"], two["id"]]
    # the type is set on create only; an update by id works like one by origin id
    typed = call(sandbox, token, "PATCH", f"{_base(pid)}/sync", {"updates": [
        {"id": one["id"], "direct_cost_type": "payroll"}]})
    assert typed.body["entities"] == []
    assert typed.body["errors"][0]["errors"] == {
        "direct_cost_type": ["can only be set when creating a direct cost"]}
    assert _events(sandbox, DIRECT_COSTS_RESOURCE) == [
        ("create", one["id"], pid), ("create", two["id"], pid), ("update", one["id"], pid)]


def test_sync_refusals(sandbox: ProcoreSandbox, demo: dict[str, Any], token: str) -> None:
    pid, _, _, _ = _ids(sandbox, demo)
    too_many = call(sandbox, token, "PATCH", f"{_base(pid)}/sync",
                    {"updates": [_header(f"jobcst:{i}") for i in range(1001)]})
    assert too_many.status == 400
    assert too_many.body["errors"] == {
        "updates": ["is too long (maximum is 1000 items, got 1001)"]}
    assert sandbox.direct_costs(pid) == []
    mixed = call(sandbox, token, "PATCH", f"{_base(pid)}/sync", {"updates": [
        _header("jobcst:1"),
        {"origin_id": "jobcst:2", "direct_cost_date": "2026-01-15"},
        _header("jobcst:3", direct_cost_type="invoice"),
        _header("jobcst:4", vendor_id=999999, colour="red"),
        {"id": 999999, "description": "x"},
        _header("jobcst:5"),
    ]})
    assert mixed.status == 200
    assert [e["origin_id"] for e in mixed.body["entities"]] == ["jobcst:1", "jobcst:5"]
    assert [e["errors"] for e in mixed.body["errors"]] == [
        {"direct_cost_type": ["can't be blank"]},
        {"invoice_number": ["can't be blank"], "vendor_id": ["can't be blank"]},
        {"vendor": ["must exist"], "colour": ["is not a permitted attribute"]},
        {"id": ["Entity with this ID not found"]},
    ]
    assert mixed.body["errors"][0]["origin_id"] == "jobcst:2"  # the update sent, echoed
    # origin ids are unique per company: another project's direct cost holds this one
    other = demo["project_ids"]["second"]
    taken = call(sandbox, token, "PATCH", f"{_base(other)}/sync",
                 {"updates": [_header("jobcst:1")]})
    assert taken.body["errors"][0]["errors"] == {"origin_id": ["has already been taken"]}


def test_line_item_sync_creates_and_updates_by_origin_id(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types, _ = _ids(sandbox, demo)
    dc = call(sandbox, token, "PATCH", f"{_base(pid)}/sync",
              {"updates": [_header("jobcst:1")]}).body["entities"][0]["id"]
    wbs = sandbox.budget_wbs_code_id(pid, codes["05-120"], types["M"])
    path = f"{_base(pid)}/line_items/sync"
    made = call(sandbox, token, "PATCH", path, {"updates": [
        {"origin_id": "jobcst:1:line", "direct_cost_id": dc, "cost_code_id": codes["03-300"],
         "line_item_type_id": types["L"], "amount": "1234.56", "description": "pour"},
        {"origin_id": "jobcst:1:line2", "direct_cost_id": dc, "wbs_code_id": wbs,
         "amount": 0.1, "cost_code_id": 999999},  # wbs_code_id wins
        {"origin_id": "bad:1", "direct_cost_id": dc, "cost_code_id": 999999,
         "line_item_type_id": types["L"], "amount": "1"},
        {"origin_id": "bad:2", "direct_cost_id": dc, "cost_code_id": codes["03-300"]},
        {"origin_id": "bad:3", "direct_cost_id": dc, "wbs_code_id": wbs, "amount": "1.005"},
        {"origin_id": "bad:4", "cost_code_id": codes["03-300"], "line_item_type_id": types["L"]},
    ]})
    assert made.status == 200, made.body
    assert_shape(made.body, sync_answer(LINE), "line sync", never_null=NEVER_NULL)
    first, second = made.body["entities"]
    assert (first["amount"], first["total_amount"], first["holder"]) == (
        "1234.56", "1234.56", {"id": dc, "holder_type": "DirectCost"})
    assert (first["cost_code"]["id"], first["line_item_type"]["id"]) == (codes["03-300"],
                                                                        types["L"])
    assert (second["amount"], second["wbs_code"]["id"], second["cost_code"]["id"]) == (
        "0.10", wbs, codes["05-120"])
    assert [e["errors"] for e in made.body["errors"]] == [
        {"cost_code": ["must exist"]},
        {"line_item_type_id": ["can't be blank (or send wbs_code_id)"]},
        {"amount": ["must have at most 2 decimal places"]},
        {"direct_cost_id": ["can't be blank"]},
    ]
    again = call(sandbox, token, "PATCH", path, {"updates": [
        {"origin_id": "jobcst:1:line", "amount": 1000, "line_item_type_id": types["M"]}]})
    assert again.body["errors"] == []
    updated = again.body["entities"][0]
    assert (updated["id"], updated["amount"], updated["line_item_type"]["id"]) == (
        first["id"], "1000.00", types["M"])
    shown = sandbox.get_direct_cost(pid, dc)
    assert_shape(shown, V11_DIRECT_COST, "helper", never_null=NEVER_NULL)
    assert (shown["grand_total"], shown["line_items_count"]) == ("1000.10", 2)
    assert [line["origin_id"] for line in shown["line_items"]] == ["jobcst:1:line",
                                                                   "jobcst:1:line2"]
    listed = call(sandbox, token, "GET", f"{_base(pid)}?filters[origin_id]=jobcst:1")
    assert (listed.body[0]["amount"], listed.body[0]["grand_total"]) == ("1000.10", "1000.10")
    assert _events(sandbox, DIRECT_COST_LINE_ITEMS_RESOURCE) == [
        ("create", first["id"], pid), ("create", second["id"], pid),
        ("update", first["id"], pid)]
    assert _events(sandbox, DIRECT_COSTS_RESOURCE) == [("create", dc, pid), ("update", dc, pid),
                                                       ("update", dc, pid)]
    too_many = call(sandbox, token, "PATCH", path, {"updates": [{}] * 1001})
    assert too_many.status == 400 and "updates" in too_many.body["errors"]


def test_crud_answers_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types, vendor = _ids(sandbox, demo)
    wbs = sandbox.budget_wbs_code_id(pid, codes["03-300"], types["L"])
    made = call(sandbox, token, "POST", f"/rest/v1.1/projects/{pid}/direct_costs", {
        "direct_cost": {"direct_cost_type": "invoice", "vendor_id": vendor,
                        "invoice_number": "A-1", "direct_cost_date": "2026-02-01",
                        "origin_id": "ap:1", "line_items": [
                            {"wbs_code_id": wbs, "manual_amount": "99.99", "ref": "r1"},
                            {"wbs_code_id": wbs, "quantity": 3, "unit_cost": "2.505"}]}})
    assert made.status == 201, made.body
    assert_shape(made.body, V11_DIRECT_COST, "POST v1.1", never_null=NEVER_NULL)
    assert [(line["amount"], line["extended_type"], line["ref"])
            for line in made.body["line_items"]] == [("99.99", "manual", "r1"),
                                                     ("7.52", "calculated", None)]
    dc = made.body["id"]
    one = f"{_base(pid)}/{dc}"
    shown = call(sandbox, token, "GET", one)
    assert_shape(shown.body, DIRECT_COST, "GET v1.0", never_null=NEVER_NULL)
    assert shown.body["grand_total"] == "107.51"
    listed = call(sandbox, token, "GET", _base(pid))
    assert_shape(listed.body, [LIST_ITEM], "list", never_null=NEVER_NULL)
    assert listed.body[0]["vendor"] == "Granite Bay Concrete"
    lines = call(sandbox, token, "GET", f"{one}/line_items")
    assert_shape(lines.body, [LINE], "lines", never_null=NEVER_NULL)
    assert lines.headers["Total"] == "2"
    added = call(sandbox, token, "POST", f"{one}/line_items", {"line_item": {
        "cost_code_id": codes["03-300"], "line_item_type_id": types["L"], "amount": "0.49"}})
    assert added.status == 201 and added.body["position"] == 3
    # an origin id does not lock API edits (the lock is the web UI's banner)
    patched = call(sandbox, token, "PATCH", one, {"item": {"terms": "Net 30",
                                                           "status": "approved"}})
    assert patched.status == 200, patched.body
    assert (patched.body["terms"], patched.body["grand_total"]) == ("Net 30", "108.00")
    refused = call(sandbox, token, "PATCH", one, {"item": {"vendor_id": None}})
    assert (refused.status, refused.body) == (400, {"errors": {"vendor_id": ["can't be blank"]}})
    assert call(sandbox, token, "POST", _base(pid), {"direct_cost": {}}).body["errors"] == {
        "direct_cost": ["is not a permitted attribute"], "item": ["can't be blank"]}
    missing = call(sandbox, token, "POST", _base(pid), {"item": {"direct_cost_type": "expense"}})
    assert missing.body["errors"] == {"direct_cost_date": ["can't be blank"]}
    over = call(sandbox, token, "POST", f"/rest/v1.1/projects/{pid}/direct_costs", {
        "direct_cost": {"direct_cost_type": "expense", "direct_cost_date": "2026-02-01",
                        "line_items": [{"wbs_code_id": wbs}] * 101}})
    assert over.status == 400 and "line_items" in over.body["errors"]
    gone = call(sandbox, token, "DELETE", one)
    assert (gone.status, gone.body) == (200, {"id": dc})
    assert call(sandbox, token, "GET", one).status == 404
    assert call(sandbox, token, "GET", f"{one}/line_items").status == 404
    assert [a for a, i, _ in _events(sandbox, DIRECT_COSTS_RESOURCE) if i == dc] == [
        "create", "update", "update", "delete"]


def test_list_filters(sandbox: ProcoreSandbox, demo: dict[str, Any], token: str) -> None:
    pid, _, _, _ = _ids(sandbox, demo)
    made = call(sandbox, token, "PATCH", f"{_base(pid)}/sync", {"updates": [
        _header("jobcst:1"), _header("jobcst:2"), _header("jobcst:3")]}).body["entities"]
    before = made[0]["updated_at"]
    time.sleep(1.1)  # timestamps have whole seconds
    call(sandbox, token, "PATCH", f"{_base(pid)}/{made[2]['id']}", {"item": {"terms": "x"}})
    after = sandbox.get_direct_cost(pid, made[2]["id"])["updated_at"]

    def ids(query: str) -> list[int]:
        answer = call(sandbox, token, "GET", f"{_base(pid)}?{query}")
        assert answer.status == 200, answer.body
        return [r["id"] for r in answer.body]

    assert ids("filters[origin_id]=jobcst:2") == [made[1]["id"]]
    assert ids("filters[origin_id]=jobcst:1,jobcst:3") == [made[0]["id"], made[2]["id"]]
    assert ids(f"filters[id]={made[1]['id']}") == [made[1]["id"]]
    assert ids(f"filters[updated_at]={after}...{after}") == [made[2]["id"]]
    assert ids(f"filters[updated_at]={before}...{before}") == [made[0]["id"], made[1]["id"]]
    assert ids(f"filters[updated_at]={before[:10]}...{after[:10]}") == [m["id"] for m in made]
    assert ids("per_page=2&page=2") == [made[2]["id"]]
    assert call(sandbox, token, "GET",
                f"{_base(pid)}?filters[updated_at]=yesterday").status == 400


def test_budget_amounts_include_direct_cost_lines(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, codes, types, _ = _ids(sandbox, demo)
    (line,) = sandbox.seed_budget(pid, [(codes["03-300"], types["L"], "1000")])
    call(sandbox, token, "PATCH", f"/rest/v1.0/budget_line_items/{line}",
         {"project_id": pid, "budget_line_item": {"direct_costs": 5}})
    dc = call(sandbox, token, "PATCH", f"{_base(pid)}/sync",
              {"updates": [_header("jobcst:1", status="draft")]}).body["entities"][0]["id"]
    call(sandbox, token, "PATCH", f"{_base(pid)}/line_items/sync", {"updates": [
        {"origin_id": "l1", "direct_cost_id": dc, "cost_code_id": codes["03-300"],
         "line_item_type_id": types["L"], "amount": "100.10"},
        {"origin_id": "l2", "direct_cost_id": dc, "cost_code_id": codes["03-300"],
         "line_item_type_id": types["L"], "amount": "0.20"},
        {"origin_id": "l3", "direct_cost_id": dc, "cost_code_id": codes["05-120"],
         "line_item_type_id": types["E"], "amount": "7"}]})
    budget = call(sandbox, token, "GET", f"/rest/v1.0/budget_line_items/{line}?project_id={pid}")
    assert Decimal(str(budget.body["direct_costs"])) == Decimal("105.30")
    assert Decimal(str(budget.body["projected_costs"])) == Decimal("105.30")
    unbudgeted = _rows(sandbox, token, pid, "&budget_row_type=unbudgeted")
    assert [(r["cost_code_id"], r["category_id"], r["id"]) for r in unbudgeted] == [
        (codes["05-120"], types["E"], None)]
