"""Owner invoices through the API (chalice.test.Client) against moto and the Procore
sandbox over HTTP: the Payment Applications webhook and "send" (admin on Invoicing), the
readiness reasons, acceptance (approvers only), the command the exporter sends, the origin
id written back, rejection, resend, unlink (ERP standard/admin) and receipts recorded once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.webhooks import WebhookEvent
from chalicelib.wiring import get_intake, get_owner_receipts, get_store
from devstack.procore_sandbox.owner_seeding import seed_owner_side
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401 - the fixture
from tests.helpers import COMPANY_ID, use_division_dash_codes
from tests.integration.test_setup_api import SetupApi, make_setup_api

SENDER = "pm"  # admin on the Invoicing tool


@pytest.fixture(name="api")
def api_fixture(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    api = make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)
    api.owner = seed_owner_side(sandbox, api.demo)  # type: ignore[attr-defined]
    use_division_dash_codes()
    return api


def send(api: SetupApi, procore_id: int, who: str = SENDER) -> tuple[int, Any]:
    return api.call("POST", "/items/send", who, {"kind": "owner_invoice",
                                                 "procore_id": procore_id,
                                                 "project_id": api.main})


def link_all(api: SetupApi) -> None:
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=api.main,
                        sage_key="24001"))
    store.put_link(Link(company_id=COMPANY_ID, kind="prime_contract", origin="sage",
                        procore_id=api.owner["prime_contract_id"],  # type: ignore[attr-defined]
                        sage_key="24001"))
    settings = store.get_company_settings(COMPANY_ID)
    store.put_company_settings(COMPANY_ID, {**settings, "advanced": {
        **settings.get("advanced", {}), "owner_invoice_cost_code": "1100"}},
        expected_version=int(settings.get("version", 0)))


def test_send_needs_the_project_and_admin_on_invoicing(api: SetupApi) -> None:
    status, answer = api.call("POST", "/items/send", SENDER,
                              {"kind": "owner_invoice", "procore_id": 5})
    assert status == 400 and "project_id" in answer["message"], answer
    for who in ("approver", "admin", "standard"):
        status, answer = send(api, 5, who)
        assert status == 403 and "admin on the Procore invoicing tool" in answer["message"]


def test_not_ready_until_linked_then_accepted_exported_and_unlinked(api: SetupApi) -> None:
    app_id = api.owner["payment_application_id"]  # type: ignore[attr-defined]
    status, item = send(api, app_id)
    assert status == 200 and item["status"] == "not_ready", item
    reasons = " | ".join(item["reasons"])
    assert "is not linked to a Sage job" in reasons
    assert "Prime contract 'Riverside Medical Office Building - Owner Contract'" in reasons
    assert "3 Sage cost codes (1100.000, 26000.000, 3300.000)" in reasons
    assert (item["snapshot"]["amount"], item["snapshot"]["retention"]) == (
        "120000.00", "12000.00")

    link_all(api)
    status, item = send(api, app_id)
    assert (status, item["status"], item["reasons"]) == (200, "ready_to_export", []), item
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "standard")
    assert status == 403 and "accounting approver" in answer["message"], answer
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "approver")
    assert status == 200 and answer["status"] == "accepted", answer
    command = api.export(item["id"], {"acrinv": "7", "invnum": "OI-001", "period": "2024-04"})
    assert command["type"] == "add_receivable_invoice"
    assert command["payload"]["job"] == 24001
    assert command["payload"]["invoice_number"] == "OI-001"
    assert command["payload"]["invoice_date"] == "2024-04-30"
    assert command["payload"]["lines"] == [{
        "line_number": 1, "description": "Billed this period 2024-04-01 - 2024-04-30",
        "cost_code": "1100.000", "amount": "120000.00", "retention": "12000.00"}]
    synced = get_store().get_item(COMPANY_ID, "owner_invoice", app_id)
    assert synced.status.value == "synced" and synced.writeback_error is None
    assert api.sandbox.state.payment_applications[app_id]["origin_id"] == "acrinv:7"
    assert get_store().get_link(COMPANY_ID, "owner_invoice", app_id).sage_key == "acrinv:7"

    # Sage's receipts: recorded on the item once each, however often they are pulled.
    rows = [{"receipt": "R-1", "invoice": 7, "invoice_number": "OI-001", "job": 24001,
             "check_number": "5521", "date": "2024-05-20", "amount": "108000.00",
             "invoice_status": 1, "invoice_balance": "12000.00"},
            {"receipt": "R-9", "invoice": 99, "invoice_number": "X-1", "job": 24001,
             "check_number": "1", "date": "2024-05-20", "amount": "5.00",
             "invoice_status": 4, "invoice_balance": "0.00"}]
    for _ in range(2):
        api.pull("receipts", rows)
    item = get_store().get_item(COMPANY_ID, "owner_invoice", app_id)
    assert [(r["receipt"], r["amount"]) for r in item.erp_keys["receipts"]] == [
        ("R-1", "108000.00")]
    assert item.erp_keys["paid"] is False
    # ...and told to Procore in the payment application's origin_data (its only field
    # for a third party's data once exported; Procore has no "paid" status).
    told = json.loads(api.sandbox.state.payment_applications[app_id]["origin_data"])
    assert told["sage"]["received"] == "108000.00" and told["sage"]["paid"] is False
    assert [r["receipt"] for r in told["sage"]["receipts"]] == ["R-1"]
    paid = {**rows[0], "receipt": "R-2", "amount": "12000.00", "date": "2025-01-10",
            "invoice_status": 4, "invoice_balance": "0.00"}
    api.pull("receipts", [rows[0], paid])
    get_owner_receipts().report(COMPANY_ID)  # again: nothing new
    item = get_store().get_item(COMPANY_ID, "owner_invoice", app_id)
    assert [r["receipt"] for r in item.erp_keys["receipts"]] == ["R-1", "R-2"]
    assert item.erp_keys["paid"] is True
    told = json.loads(api.sandbox.state.payment_applications[app_id]["origin_data"])
    assert told["sage"] == {
        "invoice": "7", "received": "120000.00", "balance": "0.00", "paid": True,
        "receipts": [
            {"receipt": "R-1", "date": "2024-05-20", "check_number": "5521",
             "amount": "108000.00"},
            {"receipt": "R-2", "date": "2025-01-10", "check_number": "5521",
             "amount": "12000.00"}]}

    # Unlink: ERP standard or admin; the origin id is cleared in Procore.
    status, answer = api.call("POST", f"/items/{item.item_id}/unlink", "viewer")
    assert status == 403 and "unlink" in answer["message"], answer
    status, answer = api.call("POST", f"/items/{item.item_id}/unlink", "standard")
    assert status == 200 and answer["status"] == "unlinked", answer
    assert api.sandbox.state.payment_applications[app_id]["origin_id"] is None
    assert get_store().get_link(COMPANY_ID, "owner_invoice", app_id) is None


def test_the_webhook_brings_it_and_an_approver_rejects_then_it_is_resent(
        api: SetupApi) -> None:
    link_all(api)
    contract = api.owner["prime_contract_id"]  # type: ignore[attr-defined]
    lines = api.owner["prime_line_ids"]  # type: ignore[attr-defined]
    record = api.sandbox.create_payment_application(
        api.main, contract, items={lines[0]: "5000.00"}, invoice_number="OI-002",
        billing_date="2024-05-31", status="approved")
    event = WebhookEvent(event_id="ev-oi-2", payload_version="v2.0", company_id=COMPANY_ID,
                         project_id=api.main, action="create",
                         resource_name="Payment Applications", resource_id=record["id"],
                         timestamp="2024-05-31T00:00:00Z")
    assert get_intake().handle_event(event) == "changed"
    item = get_store().get_item(COMPANY_ID, "owner_invoice", record["id"])
    assert item.status.value == "ready_to_export", item.reasons
    status, answer = api.call("POST", f"/items/{item.item_id}/reject", "pm",
                              {"reason": "wrong period"})
    assert status == 403, answer
    status, answer = api.call("POST", f"/items/{item.item_id}/reject", "approver",
                              {"reason": "wrong period"})
    assert status == 200 and answer["status"] == "rejected", answer
    status, answer = api.call("POST", f"/items/{item.item_id}/resend", "standard")
    assert status == 403, answer
    status, answer = api.call("POST", f"/items/{item.item_id}/resend", SENDER)
    assert status == 200 and answer["status"] == "ready_to_export", answer
