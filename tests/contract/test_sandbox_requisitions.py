"""The sandbox's subcontractor invoices (requisitions), their items and billing periods, over
real loopback HTTP, against Procore's documented shapes.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdBillingPeriods{Get,Post}.json``,
``RestV1{0,1}Requisitions*.json``, ``RestV10RequisitionsRequisitionIdContractItemsGet.json``,
``RestV10RequisitionsRequisitionIdBulkItemUpdatePatch.json``. Contract payments:
test_sandbox_contract_payments.py. Choices: docs/decisions.md ("Sandbox subcontractor
invoices ...").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from devstack.procore_sandbox import ProcoreSandbox, SandboxError
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
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    demo_fixture,
    sandbox_fixture,
)

BILLING_PERIOD = {"id": INT, "created_at": DATETIME, "due_date": DATE, "end_date": DATE,
                  "position": INT, "project_id": INT, "start_date": DATE, "status": STR,
                  "updated_at": DATETIME}
_SUMMARY = {k: DECIMAL for k in (
    "balance_to_finish_including_retainage", "completed_work_retainage_percent",
    "completed_work_retainage_amount", "contract_sum_to_date", "current_payment_due",
    "less_previous_certificates_for_payment", "negative_change_order_item_total",
    "negative_new_change_order_item_total", "negative_previous_change_order_item_total",
    "net_change_by_change_orders", "original_contract_sum", "positive_change_order_item_total",
    "positive_new_change_order_item_total", "positive_previous_change_order_item_total",
    "stored_materials_retainage_amount", "stored_materials_retainage_percent",
    "tax_applicable_to_this_payment", "total_completed_and_stored_to_date",
    "total_earned_less_retainage", "total_retainage")}
_SUMMARY["formatted_period"] = STR
_LOGIN = {"id": INT, "name": STR, "login": STR, "company_name": STR}
# openapi/RestV10Requisitions{Get,IdGet}.json (default view; action_policy is another view)
REQUISITION = {
    "id": INT, "project_id": INT, "electronic_signature_id": INT, "billing_date": DATE,
    "commitment_id": INT, "commitment_type": STR, "contract_name": STR,
    "created_at": DATETIME, "created_by": _LOGIN, "updated_at": DATETIME,
    "invoice_number": STR, "origin_data": STR, "origin_id": STR, "payment_date": DATE,
    "period_id": INT, "requisition_start": DATE, "requisition_end": DATE, "status": STR,
    "erp_status": STR, "submitted_at": DATE, "comment": STR, "final": BOOL, "number": INT,
    "percent_complete": DECIMAL, "vendor_name": STR, "total_claimed_amount": DECIMAL,
    "deletable": BOOL, "custom_fields": OBJECT, "currency_configuration":
    {"currency_iso_code": STR}, "attachments": [OBJECT], "summary": _SUMMARY,
}
_WBS = {"id": INT, "flat_code": STR, "description": STR}
# openapi/RestV10RequisitionsRequisitionIdContractItemsGet.json
CONTRACT_ITEM = {
    **{k: DECIMAL for k in (
        "scheduled_value", "work_completed_from_previous_application",
        "work_completed_this_period", "materials_presently_stored",
        "total_completed_and_stored_to_date", "total_completed_and_stored_to_date_percent",
        "work_completed_retainage_from_previous_application",
        "work_completed_retainage_retained_this_period",
        "work_completed_retainage_percent_this_period",
        "materials_stored_retainage_currently_retained",
        "materials_stored_retainage_percent_this_period",
        "work_completed_retainage_released_this_period",
        "materials_stored_retainage_released_this_period", "scheduled_quantity",
        "scheduled_unit_price", "work_completed_this_period_quantity",
        "work_completed_from_previous_application_quantity", "subcontractor_claimed_amount",
        "materials_moved", "materials_retainage_retained_moved")},
    "id": INT, "item_type": STR, "cost_code_id": INT, "line_item_id": INT,
    "description_of_work": STR, "comment": STR, "status": STR, "position": INT,
    "ssr_manual_override": BOOL, "wbs_code": _WBS, "currency_configuration":
    {"currency_iso_code": STR},
}
_CURRENCY = {"currency_iso_code": STR, "currency_exchange_rate": NUM,
             "base_currency_iso_code": STR}
# the extended item of openapi/RestV11RequisitionsIdGet.json
EXTENDED_ITEM = {
    **{k: v for k, v in CONTRACT_ITEM.items()},
    **{k: DECIMAL for k in (
        "net_amount", "gross_amount", "materials_presently_stored_quantity",
        "materials_presently_stored_from_previous_progress",
        "materials_previously_stored_quantity",
        "total_completed_and_stored_to_date_from_previous",
        "materials_stored_retainage_new_materials")},
    "accounting_method": STR, "currency_configuration": _CURRENCY, "line_number": STR,
    "previous_progress_id": INT, "taxes": [OBJECT], "uom": STR,
    "wbs_code": {**_WBS, "segment_items": [OBJECT]},
}
# "Extended Requisition" (v1.0 POST/PATCH, every v1.1 answer)
EXTENDED = {
    **{k: v for k, v in REQUISITION.items() if k != "comment"},
    "previous_requisition_id": INT, "vendor_id": INT, "invoice_type": STR,
    "move_materials_to_previous_work_completed": BOOL,
    "currency_configuration": _CURRENCY,
    "summary": {**_SUMMARY, "new_materials": DECIMAL, "new_materials_quantity": DECIMAL,
                "stored_materials": DECIMAL, "stored_materials_quantity": DECIMAL},
    "summary_text": {**{k: STR for k in (
        "project_name", "project_number", "to_general_contractor", "subcontractor_name",
        "subcontractor_street", "subcontractor_city", "subcontractor_state_code",
        "subcontractor_zip", "subcontractor_country_code", "application_number",
        "contract_for")}, "requisition_period_start": DATE, "requisition_period_end": DATE,
        "contract_date": DATE},
}
_PACKAGE = {"id": INT, "contract_id": INT, "change_order_id": INT, "number": STR,
            "title": STR, "status": STR, "position": INT, "change_order_acronym_number": STR,
            "change_order_request": OBJECT, "batch": OBJECT}
EXTENDED_WITH_ITEMS = {**EXTENDED, "items": [EXTENDED_ITEM], "item_packages": [_PACKAGE]}
NEVER_NULL = frozenset({"id", "number", "commitment_id", "summary",
                        "scheduled_value", "line_item_id", "item_type"})


def setup(sandbox: ProcoreSandbox, demo: dict[str, Any], *, status: str = "Approved"
          ) -> tuple[int, dict[str, Any], list[dict[str, Any]], int]:
    """A project, an approved work order with two SOV lines (10,000 and 5,000), a period."""
    pid = demo["project_ids"]["main"]
    codes, types = demo["cost_code_ids"]["main"], demo["line_item_type_ids"]
    wo = sandbox.create_commitment("work_order_contracts", pid, title="Concrete",
                                   vendor_id=demo["vendor_ids"]["concrete"], status=status)
    lines = [sandbox.add_line_item("work_order_contracts", wo["id"], cost_code_id=codes[c],
                                   line_item_type_id=types["S"], amount=a, description=c)
             for c, a in (("03-300", "10000"), ("09-900", "5000"))]
    period = sandbox.create_billing_period(pid, "2026-01-01", "2026-01-31", "2026-02-10")
    return pid, wo, lines, period["id"]


def _req(pid: int, rid: int | None = None, rest: str = "", minor: str = "0") -> str:
    one = "" if rid is None else f"/{rid}"
    return f"/rest/v1.{minor}/requisitions{one}{rest}?project_id={pid}"


def patch(sandbox: ProcoreSandbox, token: str, pid: int, rid: int, commitment: int,
          **fields: Any) -> Any:
    return call(sandbox, token, "PATCH", _req(pid, rid),
                {"project_id": pid, "commitment_id": commitment, "requisition": fields})


def _post(sandbox: ProcoreSandbox, token: str, pid: int, commitment: int, period: int,
          **fields: Any) -> Any:
    return call(sandbox, token, "POST", "/rest/v1.0/requisitions", {
        "project_id": pid, "commitment_id": commitment,
        "requisition": {"period_id": period, **fields}})


# --- billing periods --------------------------------------------------------------------------
def test_billing_periods_answer_the_documented_shape(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid = demo["project_ids"]["main"]
    path = f"/rest/v1.0/projects/{pid}/billing_periods"
    made = call(sandbox, token, "POST", path, {"billing_period": {
        "start_date": "2026-02-01", "end_date": "2026-02-28", "due_date": "2026-03-10",
        "status": "open"}})
    assert made.status == 201
    assert_shape(made.body, BILLING_PERIOD, "POST billing_periods")
    earlier = sandbox.create_billing_period(pid, "2026-01-01", "2026-01-31", "2026-02-10",
                                            status="closed")
    listed = call(sandbox, token, "GET", path)
    assert listed.status == 200
    assert_shape(listed.body, [BILLING_PERIOD], "GET billing_periods")
    assert [(p["id"], p["position"]) for p in listed.body] == [(made.body["id"], 2),
                                                                (earlier["id"], 1)]
    closed = call(sandbox, token, "GET", path + "?filters[status]=closed")
    assert [p["id"] for p in closed.body] == [earlier["id"]]


@pytest.mark.parametrize("period, field", [
    ({"start_date": "2026-01-01", "end_date": "2026-01-31", "status": "open"}, "due_date"),
    ({"start_date": "2026-01-01", "end_date": "2026-01-31", "due_date": "2026-02-10",
      "status": "pending"}, "status"),
    ({"start_date": "2026-02-01", "end_date": "2026-01-31", "due_date": "2026-02-10",
      "status": "open"}, "end_date"),
    ({"start_date": "2026-01-15", "end_date": "2026-02-15", "due_date": "2026-02-20",
      "status": "open"}, "base"),  # overlaps the period setup made
])
def test_billing_period_refusals(sandbox: ProcoreSandbox, demo: dict[str, Any], token: str,
                                 period: dict[str, Any], field: str) -> None:
    pid, *_ = setup(sandbox, demo)
    answer = call(sandbox, token, "POST", f"/rest/v1.0/projects/{pid}/billing_periods",
                  {"billing_period": period})
    assert answer.status == 422
    assert field in answer.body["errors"]


# --- requisitions: shapes ----------------------------------------------------------------------
def test_requisition_shapes_per_version_and_view(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, lines, period = setup(sandbox, demo)
    made = _post(sandbox, token, pid, wo["id"], period, invoice_number="INV-1",
                 billing_date="2026-01-31", requisition_start="2026-01-01",
                 requisition_end="2026-01-31")
    assert made.status == 201, made.body
    assert_shape(made.body, EXTENDED, "POST v1.0 (extended)", never_null=NEVER_NULL)
    rid = made.body["id"]
    assert (made.body["number"], made.body["status"], made.body["vendor_id"]) == (
        1, "draft", demo["vendor_ids"]["concrete"])
    assert made.body["commitment_type"] == "WorkOrderContract"
    v10 = call(sandbox, token, "GET", _req(pid, rid))
    assert_shape(v10.body, REQUISITION, "GET v1.0", never_null=NEVER_NULL)
    listed = call(sandbox, token, "GET", _req(pid))
    assert_shape(listed.body, [REQUISITION], "GET v1.0 list", never_null=NEVER_NULL)
    assert listed.headers["Total"] == "1"
    v11 = call(sandbox, token, "GET", _req(pid, rid, minor="1"))
    assert_shape(v11.body, EXTENDED, "GET v1.1", never_null=NEVER_NULL)
    items = call(sandbox, token, "GET", _req(pid, rid, minor="1") + "&view=items")
    assert_shape(items.body, EXTENDED_WITH_ITEMS, "GET v1.1 view=items", never_null=NEVER_NULL)
    assert [i["line_item_id"] for i in items.body["items"]] == [ln["id"] for ln in lines]
    assert items.body["item_packages"][0]["contract_id"] == wo["id"]
    listed11 = call(sandbox, token, "GET", _req(pid, minor="1") + "&view=extended")
    assert_shape(listed11.body, [EXTENDED_WITH_ITEMS], "GET v1.1 list", never_null=NEVER_NULL)
    assert call(sandbox, token, "GET", _req(pid, rid, minor="1") + "&view=action_policy"
                ).status == 400
    assert call(sandbox, token, "GET", "/rest/v1.0/requisitions").status == 400
    assert call(sandbox, token, "GET", _req(pid, 999999)).status == 404


def test_contract_items_link_the_commitment_lines(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, lines, period = setup(sandbox, demo)
    rid = _post(sandbox, token, pid, wo["id"], period).body["id"]
    items = call(sandbox, token, "GET", _req(pid, rid, "/contract_items"))
    assert items.status == 200
    assert_shape(items.body, [CONTRACT_ITEM], "GET contract_items", never_null=NEVER_NULL)
    assert [(i["item_type"], i["line_item_id"], i["scheduled_value"], i["cost_code_id"])
            for i in items.body] == [
        ("contract_item", ln["id"], ln["amount"], ln["cost_code"]["id"]) for ln in lines]
    assert items.headers["Total"] == "2"
    assert call(sandbox, token, "GET", _req(pid, rid, "/change_order_items")).body == []


# --- summary arithmetic --------------------------------------------------------------------
def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def test_summary_arithmetic_across_two_invoices(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, lines, period = setup(sandbox, demo)
    a, b = (ln["id"] for ln in lines)
    first = sandbox.create_requisition(pid, wo["id"], period_id=period, invoice_number="1",
                                       billing_date="2026-01-31",
                                       items={a: ("2500.00", "250.00"), b: ("1000", "100")})
    s1 = first["summary"]
    assert s1["original_contract_sum"] == s1["contract_sum_to_date"] == "15000.00"
    assert s1["total_completed_and_stored_to_date"] == "3500.00"
    assert s1["completed_work_retainage_amount"] == s1["total_retainage"] == "350.00"
    assert s1["completed_work_retainage_percent"] == "10.00"
    assert s1["total_earned_less_retainage"] == s1["current_payment_due"] == "3150.00"
    assert s1["less_previous_certificates_for_payment"] == "0.00"
    assert s1["balance_to_finish_including_retainage"] == "11850.00"
    assert s1["formatted_period"] == "01/01/2026 - 01/31/2026"
    feb = sandbox.create_billing_period(pid, "2026-02-01", "2026-02-28", "2026-03-10")
    second = _post(sandbox, token, pid, wo["id"], feb["id"], invoice_number="2")
    assert second.body["number"] == 2
    rid = second.body["id"]
    items = call(sandbox, token, "GET", _req(pid, rid, "/contract_items")).body
    assert [i["work_completed_from_previous_application"] for i in items] == [
        "2500.00", "1000.00"]
    assert items[0]["work_completed_retainage_from_previous_application"] == "250.00"
    update = call(sandbox, token, "PATCH", _req(pid, rid, "/bulk_item_update"), {
        "requisition_items": [
            {"id": items[0]["id"], "item_type": "contract_item",
             "work_completed_this_period": "1234.56",
             "work_completed_retainage_retained_this_period": "123.46"},
            {"id": items[1]["id"], "item_type": "contract_item",
             "work_completed_this_period": 500, "materials_presently_stored": "300.10",
             "materials_stored_retainage_currently_retained": "30.01"}]})
    assert (update.status, update.body) == (200, None)
    items = call(sandbox, token, "GET", _req(pid, rid, "/contract_items")).body
    assert items[0]["total_completed_and_stored_to_date"] == "3734.56"
    assert items[0]["total_completed_and_stored_to_date_percent"] == "37.35"
    assert items[1]["total_completed_and_stored_to_date"] == "1800.10"
    s2 = call(sandbox, token, "GET", _req(pid, rid)).body["summary"]
    work_ret = Decimal("350.00") + Decimal("123.46")
    total = Decimal("3500") + Decimal("1234.56") + Decimal("500") + Decimal("300.10")
    earned = total - work_ret - Decimal("30.01")
    assert s2["total_completed_and_stored_to_date"] == _money(total)
    assert s2["completed_work_retainage_amount"] == _money(work_ret)
    assert s2["stored_materials_retainage_amount"] == "30.01"
    assert s2["total_retainage"] == _money(work_ret + Decimal("30.01"))
    assert s2["total_earned_less_retainage"] == _money(earned)
    assert s2["less_previous_certificates_for_payment"] == "3150.00"
    assert s2["current_payment_due"] == _money(earned - Decimal("3150.00"))
    assert s2["completed_work_retainage_percent"] == _money(
        work_ret * 100 / (Decimal("3500") + Decimal("1734.56")))


def test_approved_cco_lines_are_change_order_items(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, lines, period = setup(sandbox, demo)
    cco = sandbox.create_cco(pid, wo["id"], status="approved")
    plus = sandbox.add_cco_line(pid, cco["id"], amount="2000",
                                commitment_line_item_id=lines[0]["id"])
    sandbox.add_cco_line(pid, cco["id"], amount="-500", commitment_line_item_id=lines[1]["id"])
    rid = _post(sandbox, token, pid, wo["id"], period).body["id"]
    co_items = call(sandbox, token, "GET", _req(pid, rid, "/change_order_items")).body
    assert_shape(co_items, [CONTRACT_ITEM], "GET change_order_items")
    assert [(i["item_type"], i["scheduled_value"]) for i in co_items] == [
        ("change_order_item", "2000.00"), ("change_order_item", "-500.00")]
    assert co_items[0]["line_item_id"] == int(plus["id"])
    summary = call(sandbox, token, "GET", _req(pid, rid)).body["summary"]
    assert summary["net_change_by_change_orders"] == "1500.00"
    assert summary["contract_sum_to_date"] == "16500.00"
    assert (summary["positive_new_change_order_item_total"],
            summary["negative_new_change_order_item_total"]) == ("2000.00", "-500.00")


# --- refusals and rules --------------------------------------------------------------------
def test_invoice_needs_an_approved_commitment_and_an_open_period(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, period = setup(sandbox, demo, status="Draft")
    refused = _post(sandbox, token, pid, wo["id"], period)
    assert refused.status == 400  # the POST documents 400/404, no 422
    assert "commitment" in refused.body["errors"]
    sandbox.update_commitment("work_order_contracts", wo["id"], status="Approved")
    assert "period_id" in _post(sandbox, token, pid, wo["id"], None).body["errors"]
    closed = sandbox.create_billing_period(pid, "2025-12-01", "2025-12-31", "2026-01-10",
                                           status="closed")
    assert "period" in _post(sandbox, token, pid, wo["id"], closed["id"]).body["errors"]
    bad = _post(sandbox, token, pid, wo["id"], period, status="paid", origin_code="x")
    assert set(bad.body["errors"]) == {"status", "origin_code"}
    assert _post(sandbox, token, pid, wo["id"], period).status == 201


def test_one_open_invoice_per_commitment_and_one_per_period(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, period = setup(sandbox, demo)
    feb = sandbox.create_billing_period(pid, "2026-02-01", "2026-02-28", "2026-03-10")["id"]
    first = _post(sandbox, token, pid, wo["id"], period).body
    second = _post(sandbox, token, pid, wo["id"], feb)
    assert second.status == 400 and "base" in second.body["errors"]
    approved = patch(sandbox, token, pid, first["id"], wo["id"], status="approved")
    assert approved.status == 200 and approved.body["status"] == "approved"
    same_period = _post(sandbox, token, pid, wo["id"], period)
    assert same_period.status == 400 and "period_id" in same_period.body["errors"]
    assert _post(sandbox, token, pid, wo["id"], feb).status == 201
    reopen = patch(sandbox, token, pid, first["id"], wo["id"], status="draft")
    assert reopen.status == 422
    # the PATCH schema requires commitment_id (and project_id) in the body
    bare = call(sandbox, token, "PATCH", _req(pid, first["id"]),
                {"requisition": {"invoice_number": "X"}})
    assert bare.status == 422 and "commitment_id" in bare.body["errors"]


def test_bulk_item_update_refusals(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, period = setup(sandbox, demo)
    rid = _post(sandbox, token, pid, wo["id"], period).body["id"]
    items = call(sandbox, token, "GET", _req(pid, rid, "/contract_items")).body
    path = _req(pid, rid, "/bulk_item_update")

    def send(*entries: dict[str, Any]) -> Any:
        return call(sandbox, token, "PATCH", path, {"requisition_items": list(entries)})

    first = {"id": items[0]["id"], "item_type": "contract_item"}
    over = send({**first, "work_completed_this_period": "10000.01"})
    assert over.status == 422
    assert "requisition_items[0].work_completed_this_period" in over.body["errors"]
    retainage = send({**first, "work_completed_this_period": "100",
                      "work_completed_retainage_retained_this_period": "100.01"})
    assert retainage.status == 422
    assert send({**first, "work_completed_this_period": "1.005"}).status == 422
    assert send({**first, "work_completed_this_period_quantity": "2"}).status == 422
    assert send({**first, "item_type": "change_order_item"}).status == 422
    assert send({**first, "id": 999999}).status == 422
    assert send({**first, "scheduled_value": "1"}).status == 422
    # all or nothing: the good entry before a bad one is not written
    mixed = send({**first, "work_completed_this_period": "10"},
                 {"id": items[1]["id"], "item_type": "contract_item",
                  "work_completed_this_period": "5000.01"})
    assert mixed.status == 422 and list(mixed.body["errors"]) == [
        "requisition_items[1].work_completed_this_period"]
    after = call(sandbox, token, "GET", _req(pid, rid, "/contract_items")).body
    assert after[0]["work_completed_this_period"] == "0.00"
    assert send({**first, "work_completed_this_period": "10000"}).status == 200
    patch(sandbox, token, pid, rid, wo["id"], status="approved")
    locked = send({**first, "work_completed_this_period": "1"})
    assert locked.status == 422 and "base" in locked.body["errors"]


def test_origin_id_locks_the_invoice(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, period = setup(sandbox, demo)
    rid = _post(sandbox, token, pid, wo["id"], period).body["id"]
    synced = call(sandbox, token, "PATCH", f"/rest/v1.0/companies/{COMPANY_ID}/external_data/"
                  "sync", {"updates": [{"item_type": "requisition", "item_id": rid,
                                        "origin_id": "AP-77"}]})
    assert synced.status == 200 and synced.body["errors"] == []
    assert call(sandbox, token, "GET", _req(pid) + "&filters[origin_id]=AP-77"
                ).body[0]["id"] == rid
    locked = patch(sandbox, token, pid, rid, wo["id"], payment_date="2026-02-15")
    assert locked.status == 422 and "base" in locked.body["errors"]
    origin = patch(sandbox, token, pid, rid, wo["id"], origin_data="batch 4")
    assert origin.status == 200 and origin.body["origin_data"] == "batch 4"
    items = call(sandbox, token, "GET", _req(pid, rid, "/contract_items")).body
    bulk = call(sandbox, token, "PATCH", _req(pid, rid, "/bulk_item_update"),
                {"requisition_items": [{"id": items[0]["id"], "item_type": "contract_item",
                                        "work_completed_this_period": "1"}]})
    assert bulk.status == 422
    assert call(sandbox, token, "DELETE", _req(pid, rid)).status == 422


def test_delete_only_the_latest(sandbox: ProcoreSandbox, demo: dict[str, Any],
                                token: str) -> None:
    pid, wo, _, period = setup(sandbox, demo)
    first = sandbox.create_requisition(pid, wo["id"], period_id=period, invoice_number="1",
                                       billing_date="2026-01-31")
    feb = sandbox.create_billing_period(pid, "2026-02-01", "2026-02-28", "2026-03-10")
    second = _post(sandbox, token, pid, wo["id"], feb["id"]).body
    assert second["previous_requisition_id"] == first["id"]
    assert call(sandbox, token, "GET", _req(pid, first["id"])).body["deletable"] is False
    assert call(sandbox, token, "DELETE", _req(pid, first["id"])).status == 422
    gone = call(sandbox, token, "DELETE", _req(pid, second["id"]))
    assert (gone.status, gone.body) == (200, None)
    assert call(sandbox, token, "GET", _req(pid, second["id"])).status == 404


# --- polling: no webhooks, filters --------------------------------------------------------
def test_requisitions_fire_no_webhook_and_are_found_by_updated_at(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, _, period = setup(sandbox, demo)
    before = len(sandbox.events)
    made = _post(sandbox, token, pid, wo["id"], period).body
    patch(sandbox, token, pid, made["id"], wo["id"], status="approved")
    assert len(sandbox.events) == before
    stamp = made["updated_at"]
    day = stamp[:10]
    found = call(sandbox, token, "GET", _req(pid) + f"&filters[updated_at]={day}...{day}")
    assert [r["id"] for r in found.body] == [made["id"]]
    none = call(sandbox, token, "GET", _req(pid) + "&filters[updated_at]=2001-01-01...2001-01-02")
    assert none.body == []
    assert call(sandbox, token, "GET", _req(pid) + "&filters[updated_at]=yesterday").status == 400
    for query, expected in ((f"filters[commitment_id]={wo['id']}", [made["id"]]),
                            (f"filters[period_id]={period}", [made["id"]]),
                            ("filters[status]=approved", [made["id"]]),
                            ("filters[status]=draft", [])):
        assert [r["id"] for r in call(sandbox, token, "GET", _req(pid) + "&" + query).body
                ] == expected, query
    paged = call(sandbox, token, "GET", _req(pid) + "&per_page=1&page=1")
    assert paged.headers["Per-Page"] == "1"


def test_v11_create_takes_items(sandbox: ProcoreSandbox, demo: dict[str, Any],
                                token: str) -> None:
    pid, wo, lines, period = setup(sandbox, demo)
    made = call(sandbox, token, "POST", "/rest/v1.1/requisitions?view=items", {
        "project_id": pid, "commitment_id": wo["id"], "requisition": {
            "period_id": period, "items": [
                {"item_type": "contract_item", "line_item_id": lines[1]["id"],
                 "work_completed_this_period": "500.00"}]}})
    assert made.status == 201, made.body
    assert [i["work_completed_this_period"] for i in made.body["items"]] == ["0.00", "500.00"]
    refused = call(sandbox, token, "POST", "/rest/v1.1/requisitions", {
        "project_id": pid, "commitment_id": wo["id"], "requisition": {
            "period_id": period, "comment": "v1.0 only"}})
    assert refused.status == 400 and "comment" in refused.body["errors"]


def test_helpers(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> None:
    pid, wo, lines, period = setup(sandbox, demo)
    made = sandbox.create_requisition(pid, wo["id"], period_id=period, invoice_number="A-1",
                                      billing_date="2026-01-31",
                                      items={lines[0]["id"]: (Decimal("1000"), "0")})
    assert (made["status"], made["summary"]["current_payment_due"]) == ("approved", "1000.00")
    assert sandbox.get_requisition(pid, made["id"]) == made
    feb = sandbox.create_billing_period(pid, "2026-02-01", "2026-02-28", "2026-03-10")
    with pytest.raises(SandboxError):
        sandbox.create_requisition(pid, wo["id"], period_id=feb["id"], invoice_number="A-2",
                                   billing_date=None, items={lines[0]["id"]: ("9001", "0")})
    assert [r["id"] for r in sandbox.state.requisitions.values()] == [made["id"]]
