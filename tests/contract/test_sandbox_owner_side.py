"""The sandbox's owner side over real loopback HTTP: prime contracts, their line items (and
sync), prime contract change orders (PCCOs) with their v2.0 line items, and payment
applications (owner invoices): the documented shapes, 400/404 refusals and the webhooks.

Shapes: ``procore-spec/openapi/RestV10PrimeContract*.json``, ``RestV10PrimeContracts
PrimeContractId{LineItems,PaymentApplications}*.json``, ``RestV10ProjectsProjectIdPrime
ChangeOrders*.json``, ``RestV20...PrimeChangeOrders...LineItems*.json``,
``RestV10PaymentApplications*.json``. Choices: docs/decisions.md ("Sandbox prime contracts,
PCCOs and owner invoices ...").
"""

from __future__ import annotations

from typing import Any

import pytest

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
    sync_answer,
    token_fixture,
)
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    sandbox_fixture,
)

D = DECIMAL
# openapi/RestV10PrimeContractsGet.json items
PRIME_LIST = {
    **dict.fromkeys(("id",), INT), "accounting_method": STR,
    **dict.fromkeys(("actual_completion_date", "approval_letter_date", "contract_date",
                     "contract_estimated_completion_date", "contract_start_date",
                     "contract_termination_date", "execution_date", "issued_on_date",
                     "letter_of_intent_date", "returned_date",
                     "signed_contract_received_date"), DATE),
    "approved_change_orders": D, "created_at": DATETIME, "deleted_at": DATETIME,
    **dict.fromkeys(("description", "exclusions", "inclusions", "number", "origin_code",
                     "origin_data", "origin_id", "retainage_percent", "status", "title"), STR),
    "executed": BOOL, "grand_total": D, "private": BOOL,
    "show_line_items_to_non_admins": BOOL, "updated_at": DATETIME, "architect": OBJECT,
    "attachments": [OBJECT], "contractor": OBJECT, "created_by": OBJECT, "vendor": OBJECT,
    "currency_configuration": OBJECT,
}
_MONEY = ("approved_change_orders", "draft_change_orders_amount", "grand_total",
          "line_items_extended_total", "line_items_total", "outstanding_balance",
          "owner_invoices_amount", "pending_change_orders_amount",
          "pending_revised_contract_amount", "percentage_paid", "revised_contract_amount",
          "total_payments")
# openapi/RestV10PrimeContractIdGet.json
PRIME_FULL = {
    **{k: v for k, v in PRIME_LIST.items() if k != "origin_code"}, **dict.fromkeys(_MONEY, D),
    **dict.fromkeys(("allow_comments", "allow_markups", "allow_payment_applications",
                     "allow_payments", "allow_redistributions", "display_materials_retainage",
                     "display_stored_materials", "display_work_retainage"), BOOL),
    **dict.fromkeys(("bill_to", "payment_terms", "requisition_number", "ship_to", "ship_via",
                     "type"), STR),
    **dict.fromkeys(("delivery_date", "original_substantial_completion_date",
                     "substantial_completion_date"), DATE),
    "budget_line_item_id": INT, "position": INT, "assigned_to": OBJECT,
    "change_order_packages": [OBJECT], "change_order_requests": [OBJECT],
    "cost_code": OBJECT, "line_items": [OBJECT], "potential_change_orders": [OBJECT],
    "payments_received": [OBJECT], "received_from": OBJECT,
}
# openapi/RestV10PrimeContractsPrimeContractIdLineItemsGet.json items
PRIME_LINE = {
    "id": INT, "amount": D, "company": OBJECT, "cost_code": OBJECT, "created_at": DATETIME,
    "description": STR, "extended_type": STR, "holder": {"id": INT, "holder_type": STR},
    "line_item_type": OBJECT, "origin_data": STR, "origin_id": STR, "position": INT,
    "project": {"id": INT, "name": STR}, "quantity": D, "tax_code_id": INT,
    "total_amount": D, "extended_amount": D, "unit_cost": D, "uom": STR, "wbs_code": OBJECT,
    "updated_at": DATETIME, "change_event_line_item": OBJECT, "currency_configuration": OBJECT,
}
# openapi/RestV20...PrimeChangeOrdersPrimeChangeOrderIdLineItemsIdGet.json ``data``
PCCO_LINE = {
    "prime_line_item_id": STR, "id": STR, "description": STR, "uom": STR, "quantity": NUM,
    "unit_cost": D, "amount": D, "extended_type": STR, "wbs_code_id": STR,
    "tax_code_id": STR, "position": NUM,
    "wbs_code": {"id": STR, "flat_code": STR, "description": STR},
    "work_breakdown_structure": OBJECT,
}
_G702 = ("balance_to_finish_including_retainage", "completed_work_retainage_percent",
         "completed_work_retainage_amount", "contract_sum_to_date", "current_payment_due",
         "less_previous_certificates_for_payment", "negative_change_order_item_total",
         "negative_new_change_order_item_total", "negative_previous_change_order_item_total",
         "net_change_by_change_orders", "original_contract_sum",
         "positive_change_order_item_total", "positive_new_change_order_item_total",
         "positive_previous_change_order_item_total", "stored_materials_retainage_amount",
         "stored_materials_retainage_percent", "tax_applicable_to_this_payment",
         "total_completed_and_stored_to_date", "total_earned_less_retainage",
         "total_retainage")
# openapi/RestV10PrimeContractsPrimeContractIdPaymentApplicationsGet.json items
PAY_APP = {
    "id": INT, "billing_date": DATE, "invoice_number": STR, "origin_data": STR,
    "origin_id": STR, "percent_complete": D, "period_start": DATE, "period_end": DATE,
    "period_id": INT, "status": STR, "total_amount_paid": D, "number": INT,
    "total_amount_accrued_this_period": D, "formatted_contract_company": STR,
    "currency_configuration": {"currency_iso_code": STR, "currency_exchange_rate": STR,
                               "base_currency_iso_code": STR},
    "g702": {**dict.fromkeys(_G702, D), "formatted_period": STR},
    "billing_period": {"start_date": DATE, "end_date": DATE},
    "contract": {"id": INT, "type": STR, "title": STR}, "created_at": DATE, "updated_at": DATE,
}


def _events(sandbox: ProcoreSandbox, name: str) -> list[tuple[str, int]]:
    return [(e["event_type"], e["resource_id"]) for e in sandbox.events
            if e["resource_name"] == name]


@pytest.fixture
def owner(sandbox: ProcoreSandbox) -> dict[str, Any]:
    return sandbox.seed(owner_side=True)


def test_the_owner_seed_is_opt_in_and_fires_nothing(sandbox: ProcoreSandbox,
                                                    demo: dict[str, Any]) -> None:
    assert "owner" not in demo and sandbox.state.prime_contracts == {}
    seeded = sandbox.seed(owner_side=True)["owner"]
    assert set(seeded) == {"prime_contract_id", "prime_line_ids", "pcco_id",
                           "payment_application_id"}
    assert not [e for e in sandbox.events if e["resource_name"] in (
        "Prime Contracts", "Prime Contract Line Items", "Payment Applications")]


def test_prime_contracts_answer_the_documented_shapes_and_fire_webhooks(
        sandbox: ProcoreSandbox, demo: dict[str, Any], token: str) -> None:
    pid = demo["project_ids"]["second"]
    made = call(sandbox, token, "POST", "/rest/v1.0/prime_contract", {
        "project_id": pid, "prime_contract": {"title": "Owner contract", "status": "Draft",
                                              "retainage_percent": "5", "origin_id": "J-2"}})
    assert made.status == 201, made.body
    assert_shape(made.body, PRIME_FULL, "POST prime_contract")
    cid = made.body["id"]
    assert (made.body["number"], made.body["retainage_percent"], made.body["grand_total"]) == (
        "1", "5.00", "0.00")
    first = call(sandbox, token, "GET", f"/rest/v1.0/prime_contract?project_id={pid}")
    assert first.status == 200 and first.body["id"] == cid
    listed = call(sandbox, token, "GET", f"/rest/v1.0/prime_contracts?project_id={pid}")
    assert_shape(listed.body, [PRIME_LIST], "GET prime_contracts")
    assert listed.body[0]["origin_id"] == "J-2" and listed.headers["Total"] == "1"
    patched = call(sandbox, token, "PATCH", f"/rest/v1.0/prime_contract/{cid}", {
        "project_id": pid, "prime_contract": {"status": "Approved", "executed": True}})
    assert patched.status == 200 and patched.body["status"] == "Approved"
    one = f"/rest/v1.0/prime_contract/{cid}?project_id={pid}"
    assert call(sandbox, token, "GET", one).body == patched.body
    gone = call(sandbox, token, "DELETE", one)
    assert (gone.status, gone.body) == (200, None)
    assert call(sandbox, token, "GET", one).status == 404
    assert _events(sandbox, "Prime Contracts") == [
        ("create", cid), ("update", cid), ("delete", cid)]


@pytest.mark.parametrize(("body", "field"), [
    ({"prime_contract": {"title": "x"}}, "project_id"),
    ({}, "prime_contract"),
    ({"prime_contract": {"colour": "red"}}, "colour"),
    ({"prime_contract": {"status": "Void"}}, "status"),
    ({"prime_contract": {"executed": "yes"}}, "executed"),
    ({"prime_contract": {"contract_date": "31/01/2025"}}, "contract_date"),
    ({"prime_contract": {"retainage_percent": "120"}}, "retainage_percent"),
    ({"prime_contract": {"vendor_id": 999999}}, "vendor"),
    ({"prime_contract": {"origin_code": "X"}}, "origin_code"),
    ({"prime_contract": {"number": "1"}}, "number"),
])
def test_prime_contract_refusals_answer_400_naming_the_field(
        sandbox: ProcoreSandbox, owner: dict[str, Any], token: str, body: dict[str, Any],
        field: str) -> None:
    pid = owner["project_ids"]["main"]
    full = body if field == "project_id" else {**body, "project_id": pid}
    answer = call(sandbox, token, "POST", "/rest/v1.0/prime_contract", full)
    assert answer.status == 400 and field in answer.body["errors"], answer.body
    assert len(sandbox.state.prime_contracts) == 1


def test_unknown_ids_answer_404(sandbox: ProcoreSandbox, owner: dict[str, Any],
                                token: str) -> None:
    pid, cid = owner["project_ids"]["main"], owner["owner"]["prime_contract_id"]
    second = owner["project_ids"]["second"]
    for path in (f"/rest/v1.0/prime_contract/999?project_id={pid}",
                 f"/rest/v1.0/prime_contract/{cid}?project_id={second}",
                 f"/rest/v1.0/prime_contract?project_id={second}",
                 f"/rest/v1.0/prime_contracts/999/line_items?project_id={pid}",
                 f"/rest/v1.0/prime_contracts/999/payment_applications?project_id={pid}",
                 f"/rest/v1.0/projects/{pid}/prime_change_orders/999",
                 f"/rest/v1.0/payment_applications/999?project_id={pid}"):
        assert call(sandbox, token, "GET", path).status == 404, path


def test_the_seeded_contract_sums_its_lines_pccos_and_invoices(
        sandbox: ProcoreSandbox, owner: dict[str, Any], token: str) -> None:
    pid, cid = owner["project_ids"]["main"], owner["owner"]["prime_contract_id"]
    shown = call(sandbox, token, "GET", f"/rest/v1.0/prime_contract/{cid}?project_id={pid}")
    assert_shape(shown.body, PRIME_FULL, "GET prime_contract/{id}")
    body = shown.body
    assert (body["grand_total"], body["approved_change_orders"],
            body["revised_contract_amount"], body["owner_invoices_amount"]) == (
        "950000.00", "12500.00", "962500.00", "120000.00")
    assert [p["status"] for p in body["change_order_packages"]] == ["approved"]
    assert_shape(body["line_items"], [PRIME_LINE], "prime contract line_items")


def test_prime_line_items_list_create_and_sync(
        sandbox: ProcoreSandbox, demo: dict[str, Any], token: str) -> None:
    pid = demo["project_ids"]["second"]
    cid = call(sandbox, token, "POST", "/rest/v1.0/prime_contract", {
        "project_id": pid, "prime_contract": {"title": "T"}}).body["id"]
    base = f"/rest/v1.0/prime_contracts/{cid}/line_items?project_id={pid}"
    code = demo["cost_code_ids"]["second"]["02-200"]
    made = call(sandbox, token, "POST", base, {"project_id": pid, "line_item": {
        "amount": "1000.50", "description": "Site work", "cost_code_id": code,
        "line_item_type_id": demo["line_item_type_ids"]["S"]}})
    assert made.status == 201, made.body
    assert_shape(made.body, PRIME_LINE, "POST line_items")
    assert (made.body["amount"], made.body["holder"]["holder_type"]) == (
        "1000.50", "PrimeContract")
    for bad, field in (({"amount": "abc"}, "amount"), ({"description": "no amount"}, "amount"),
                       ({"amount": "1", "color": "x"}, "color"),
                       ({"amount": "1", "cost_code_id": 1}, "cost_code")):
        answer = call(sandbox, token, "POST", base, {"project_id": pid, "line_item": bad})
        assert answer.status == 400 and field in answer.body["errors"], (bad, answer.body)
    synced = call(sandbox, token, "PATCH", f"/rest/v1.0/prime_contracts/{cid}/line_items/sync"
                  f"?project_id={pid}", {"updates": [
                      {"id": made.body["id"], "origin_id": "L-1"},
                      {"origin_id": "L-2", "amount": "20.00", "description": "New"},
                      {"id": 999, "origin_id": "L-3"}]})
    assert synced.status == 200, synced.body
    assert_shape(synced.body, sync_answer(PRIME_LINE), "sync line_items")
    assert [e["origin_id"] for e in synced.body["entities"]] == ["L-1", "L-2"]
    assert synced.body["errors"][0]["errors"] == {"id": ["Entity with this ID not found"]}
    listed = call(sandbox, token, "GET", base)
    assert listed.headers["Total"] == "2"
    total = call(sandbox, token, "GET", f"/rest/v1.0/prime_contract/{cid}?project_id={pid}")
    assert total.body["grand_total"] == "1020.50"
    new_id = synced.body["entities"][1]["id"]
    assert _events(sandbox, "Prime Contract Line Items") == [
        ("create", made.body["id"]), ("update", made.body["id"]), ("create", new_id)]


def test_pccos_and_their_v2_line_items(sandbox: ProcoreSandbox, owner: dict[str, Any],
                                       token: str) -> None:
    pid, cid = owner["project_ids"]["main"], owner["owner"]["prime_contract_id"]
    base = f"/rest/v1.0/projects/{pid}/prime_change_orders"
    made = call(sandbox, token, "POST", base, {"change_order": {
        "contract_id": cid, "title": "Owner-requested canopy", "status": "pending"}})
    assert made.status == 201, made.body
    pcco = made.body["id"]
    assert (made.body["number"], made.body["type"], made.body["grand_total"]) == (
        "002", "PrimeContractChangeOrder", "0.00")
    lines = f"/rest/v2.0/companies/{sandbox.company_id}/projects/{pid}/prime_change_orders/" \
            f"{pcco}/line_items"
    wbs = owner["owner"]["prime_line_ids"][0]
    prime_line = call(sandbox, token, "GET", f"/rest/v1.0/prime_contracts/{cid}/line_items"
                      f"?project_id={pid}").body[0]
    line = call(sandbox, token, "POST", lines, {
        "wbs_code_id": str(prime_line["wbs_code"]["id"]), "amount": "4200.00",
        "description": "Canopy", "prime_line_item_id": str(wbs)})
    assert line.status == 200, line.body
    assert_shape(line.body["data"], PCCO_LINE, "POST pcco line")
    assert call(sandbox, token, "POST", lines, {"amount": "1"}).body["errors"] == {
        "wbs_code_id": ["can't be blank"]}
    listed = call(sandbox, token, "GET", lines)
    assert_shape(listed.body, {"data": [PCCO_LINE]}, "GET pcco lines")
    approved = call(sandbox, token, "PATCH", f"{base}/{pcco}",
                    {"change_order": {"status": "approved"}})
    assert approved.status == 200 and approved.body["grand_total"] == "4200.00"
    line_id = line.body["data"]["id"]
    assert call(sandbox, token, "PATCH", f"{lines}/{line_id}", {"amount": "1"}).status == 400
    assert call(sandbox, token, "DELETE", f"{base}/{pcco}").status == 400
    shown = call(sandbox, token, "GET", f"/rest/v1.0/prime_contract/{cid}?project_id={pid}")
    assert shown.body["approved_change_orders"] == "16700.00"
    assert call(sandbox, token, "GET", f"{base}?filters[status]=approved").headers[
        "Total"] == "2"
    assert call(sandbox, token, "POST", base, {"change_order": {"contract_id": 999}}
                ).status == 422
    assert call(sandbox, token, "POST", base, {"change_order": {"contract_id": cid,
                                                                "nope": 1}}).status == 400
    assert call(sandbox, token, "POST", base, {"change_order": {
        "contract_id": cid, "number": "001"}}).body["errors"] == {
        "number": ["has already been taken"]}
    assert _events(sandbox, "Change Order Packages") == [
        ("create", pcco), ("update", pcco), ("update", pcco)]


def test_payment_applications_shape_rules_and_webhooks(
        sandbox: ProcoreSandbox, owner: dict[str, Any], token: str) -> None:
    pid, cid = owner["project_ids"]["main"], owner["owner"]["prime_contract_id"]
    base = f"/rest/v1.0/prime_contracts/{cid}/payment_applications"
    listed = call(sandbox, token, "GET", f"{base}?project_id={pid}")
    assert_shape(listed.body, [PAY_APP], "GET payment_applications")
    seeded = listed.body[0]
    assert (seeded["total_amount_accrued_this_period"], seeded["g702"]["total_retainage"],
            seeded["g702"]["current_payment_due"], seeded["status"]) == (
        "120000.00", "12000.00", "108000.00", "approved")
    made = call(sandbox, token, "POST", base, {"project_id": pid, "payment_application": {
        "invoice_number": "OI-002", "period_start": "2024-05-01", "period_end": "2024-05-31",
        "billing_date": "2024-05-31", "status": "draft"}})
    assert made.status == 201, made.body
    assert_shape(made.body, PAY_APP, "POST payment_applications")
    app = made.body["id"]
    assert (made.body["number"], made.body["g702"]["less_previous_certificates_for_payment"]
            ) == (2, "108000.00")
    for bad, field in (({"status": "paid"}, "status"),
                       ({"invoice_number": "OI-001"}, "invoice_number"),
                       ({"period_start": "2024-06-02", "period_end": "2024-06-01"},
                        "period_end"),
                       ({"commitment_billing_period_id": 5}, "commitment_billing_period"),
                       ({"total": "5"}, "total")):
        answer = call(sandbox, token, "POST", base, {"project_id": pid,
                                                     "payment_application": bad})
        assert answer.status == 400 and field in answer.body["errors"], (bad, answer.body)
    synced = call(sandbox, token, "PATCH", f"{base}/{app}", {
        "project_id": pid, "payment_application": {"origin_id": "AR-7"}})
    assert synced.status == 200 and synced.body["origin_id"] == "AR-7"
    locked = call(sandbox, token, "PATCH", f"{base}/{app}", {
        "project_id": pid, "payment_application": {"status": "approved"}})
    assert locked.status == 400 and "base" in locked.body["errors"]
    one = f"/rest/v1.0/payment_applications/{app}?project_id={pid}"
    assert call(sandbox, token, "GET", one).body["origin_id"] == "AR-7"
    assert call(sandbox, token, "GET", f"/rest/v1.0/payment_applications?project_id={pid}"
                ).headers["Total"] == "2"
    assert call(sandbox, token, "DELETE", one).status == 403
    assert call(sandbox, token, "PATCH", f"{base}/999", {
        "project_id": pid, "payment_application": {}}).status == 404
    assert _events(sandbox, "Payment Applications") == [("create", app), ("update", app)]
    helper = sandbox.create_payment_application(
        pid, cid, items={owner["owner"]["prime_line_ids"][2]: "35000"}, invoice_number="OI-3")
    assert helper["total_amount_accrued_this_period"] == "35000.00"
    assert _events(sandbox, "Payment Applications")[-1] == ("create", helper["id"])
