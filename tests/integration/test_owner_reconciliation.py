"""The reconciliation report's owner side (GET /reports/reconciliation, ERP admin) through
the API against moto and the Procore sandbox: the prime contract imported from Sage vs
Sage's job contract and approved prime changes, each exported owner invoice vs its Sage
receivable invoice (mapped by its link only), receivable invoices in Sage only; Sage's
side comes from the ``receivables`` pull."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from chalicelib.wiring import get_store
from devstack.procore_sandbox.owner_seeding import seed_owner_side
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401 - the fixture
from tests.helpers import COMPANY_ID, use_division_dash_codes
from tests.integration.test_owner_invoice_api import link_all, send
from tests.integration.test_setup_api import SetupApi, make_setup_api

JOB = {"sage_key": "actrec:24001", "kind": "job_contract", "job": 24001,
       "number": "OC-24001", "status": 4, "contract": "950000.00", "changes": "12500.00",
       "invoiced": None, "retention": None, "received": None}


def invoice(recnum: int, number: str, invoiced: str, retention: str, received: str, *,
            job: int = 24001, status: int = 1) -> dict[str, Any]:
    return {"sage_key": f"acrinv:{recnum}", "kind": "invoice", "job": job, "number": number,
            "status": status, "contract": None, "changes": None, "invoiced": invoiced,
            "retention": retention, "received": received}


# Sage matching Procore: the contract (950,000.00 + the PCCO's 12,500.00) and OI-001.
MATCHING = [JOB, invoice(7, "OI-001", "120000.00", "12000.00", "0.00")]


@pytest.fixture(name="api")
def api_fixture(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    """OI-001 exported to Sage as acrinv 7 on job 24001 (its project and prime contract
    linked), nothing pulled yet."""
    api = make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)
    api.owner = seed_owner_side(sandbox, api.demo)  # type: ignore[attr-defined]
    use_division_dash_codes()
    link_all(api)
    status, item = send(api, api.owner["payment_application_id"])  # type: ignore[attr-defined]
    assert status == 200 and item["status"] == "ready_to_export", item
    status, item = api.call("POST", f"/items/{item['id']}/accept", "approver")
    assert status == 200, item
    api.export(item["id"], {"acrinv": "7", "invnum": "OI-001", "period": "2024-04"})
    return api


def report(api: SetupApi, who: str = "admin") -> tuple[int, Any]:
    return api.call("GET", f"/reports/reconciliation?project_id={api.main}", who)


def owner_rows(body: dict[str, Any]) -> list[tuple[str, ...]]:
    return [(r["scope"], r["key"], r["measure"], r["procore"], r["sage"], r["difference"])
            for r in body["rows"] if r["scope"] in ("prime contract", "owner invoice")]


def test_nothing_is_compared_before_sage_was_read_then_matching_figures_list_nothing(
        api: SetupApi) -> None:
    status, before = report(api)
    assert status == 200, before
    assert owner_rows(before) == [] and before["sage_as_of"]["receivables"] is None

    api.pull("receivables", MATCHING)
    status, body = report(api)

    assert status == 200, body
    assert owner_rows(body) == []
    # 3 contract measures + 3 invoice measures compared beside what was compared before
    assert body["compared"] == before["compared"] + 6
    assert body["sage_as_of"]["receivables"]


def test_planted_differences_and_an_invoice_in_sage_only_are_listed_with_both_values(
        api: SetupApi) -> None:
    api.pull("receivables", [
        {**JOB, "changes": "12000.00"},  # a change order of 500.00 voided in Sage
        invoice(7, "OI-001", "120000.00", "11000.00", "108000.00"),
        invoice(8, "OI-900", "5000.00", "500.00", "0.00"),  # entered in Sage only
        invoice(9, "OI-901", "700.00", "0.00", "0.00", status=5),  # void: no receivable
        invoice(10, "OI-902", "900.00", "0.00", "0.00", job=24002),  # another job
    ])

    status, body = report(api)

    assert status == 200, body
    assert owner_rows(body) == [
        ("prime contract", "1", "approved changes", "12500.00", "12000.00", "-500.00"),
        ("prime contract", "1", "revised", "962500.00", "962000.00", "-500.00"),
        ("owner invoice", "OI-001", "retention", "12000.00", "11000.00", "-1000.00"),
        # Sage received 108,000.00 the receipts pull has not recorded on the item yet
        ("owner invoice", "OI-001", "received", "0.00", "108000.00", "108000.00"),
        ("owner invoice", "OI-900 (in Sage only)", "invoiced", "0.00", "5000.00", "5000.00"),
        ("owner invoice", "OI-900 (in Sage only)", "retention", "0.00", "500.00", "500.00"),
    ]
    assert {r["job"] for r in body["rows"]} == {"24001"}
    listed = list(csv.DictReader(io.StringIO(api.client.http.get(
        f"/reports/reconciliation?format=csv&project_id={api.main}",
        headers={"Authorization": api.mint("admin")}).body.decode())))
    assert [(r["scope"], r["key"], r["measure"], r["procore"], r["sage"], r["difference"])
            for r in listed if r["scope"] in ("prime contract", "owner invoice")
            ] == owner_rows(body)
    assert list(listed[0]) == ["project_id", "job", "scope", "key", "measure", "procore",
                               "sage", "difference"]


def test_a_void_or_missing_sage_invoice_counts_as_zero_and_says_so(api: SetupApi) -> None:
    api.pull("receivables", [JOB, invoice(7, "OI-001", "120000.00", "12000.00", "0.00",
                                          status=5)])
    status, body = report(api)
    assert status == 200, body
    assert [(key, measure, sage) for _, key, measure, _, sage, _ in owner_rows(body)] == [
        ("OI-001 (void in Sage)", "invoiced", "0.00"),
        ("OI-001 (void in Sage)", "retention", "0.00")]

    api.pull("receivables", [JOB])  # the invoice deleted in Sage
    status, body = report(api)
    assert [(key, measure, procore) for _, key, measure, procore, _, _ in owner_rows(body)
            ] == [("OI-001 (not in Sage)", "invoiced", "120000.00"),
                  ("OI-001 (not in Sage)", "retention", "12000.00")]


def test_receipts_recorded_on_the_item_match_sages_received(api: SetupApi) -> None:
    app_id = api.owner["payment_application_id"]  # type: ignore[attr-defined]
    api.pull("receipts", [{"receipt": "R-1", "invoice": 7, "invoice_number": "OI-001",
                           "job": 24001, "check_number": "5521", "date": "2024-05-20",
                           "amount": "108000.00", "invoice_status": 1,
                           "invoice_balance": "12000.00"}])
    assert get_store().get_item(COMPANY_ID, "owner_invoice", app_id).erp_keys["receipts"]
    api.pull("receivables", [JOB, invoice(7, "OI-001", "120000.00", "12000.00",
                                          "108000.00")])
    status, body = report(api)
    assert status == 200 and owner_rows(body) == [], body


def test_permissions_are_unchanged(api: SetupApi) -> None:
    for who in ("standard", "approver", "viewer"):
        status, answer = api.call("POST", "/erp/lists/receivables/refresh", who)
        assert status == 403 and "reconciliation report" in answer["message"], (who, answer)
        status, answer = report(api, who)
        assert status == 403, (who, answer)
    assert [c for c in api.relay_commands() if c["item_id"] == "pull:receivables"] == []
    status, answer = api.call("POST", "/erp/lists/receivables/refresh", "admin")
    assert status == 202, answer
    [command] = [c for c in api.relay_commands() if c["item_id"] == "pull:receivables"]
    assert command["type"] == "pull_receivables"
