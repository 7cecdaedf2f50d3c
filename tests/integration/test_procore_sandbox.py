"""The Procore sandbox over real loopback HTTP: the contract the connector's tests rely on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.procore_sandbox import SERVICE_ACCOUNT_USER_ID, WEB_APPLICATION_ID, ProcoreSandbox
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    CLIENT_ID,
    COMPANY_ID,
    WebhookReceiver,
    demo_fixture,
    fetch_token,
    http_call,
    sandbox_fixture,
    webhook_receiver_fixture,
)

ROOT = Path(__file__).resolve().parents[2]


def _create_subcontract(
    box: ProcoreSandbox, token: str, ids: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {
        "project_id": ids["project_ids"]["main"],
        "work_order_contract": {
            "number": "SC-001",
            "title": "Concrete package",
            "vendor_id": ids["vendor_ids"]["concrete"],
            "retainage_percent": 10,
            **fields,
        },
    }
    answer = http_call(
        box.url, "POST", "/rest/v1.0/work_order_contracts", token=token, json_body=body
    )
    assert answer.status == 201, answer.body
    return answer.body


# --- auth ----------------------------------------------------------------------------------
def test_token_flow_issues_bearer_tokens_and_rejects_bad_credentials(
    sandbox: ProcoreSandbox,
) -> None:
    wrong = http_call(
        sandbox.url,
        "POST",
        "/oauth/token",
        company=None,
        form={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
    )
    assert wrong.status == 401
    assert wrong.body["error"] == "invalid_client"

    token = fetch_token(sandbox.url)
    ok = http_call(sandbox.url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}", token=token)
    assert ok.status == 200 and ok.body == []

    no_token = http_call(sandbox.url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}")
    bogus = http_call(
        sandbox.url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}", token="nope"
    )
    assert (no_token.status, bogus.status) == (401, 401)

    sandbox.revoke_tokens()
    revoked = http_call(
        sandbox.url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}", token=token
    )
    assert revoked.status == 401


def test_company_header_is_required_and_must_match(sandbox: ProcoreSandbox) -> None:
    token = fetch_token(sandbox.url)
    path = f"/rest/v1.0/vendors?company_id={COMPANY_ID}"
    missing = http_call(sandbox.url, "GET", path, token=token, company=None)
    other = http_call(sandbox.url, "GET", path, token=token, company=999)
    other_param = http_call(sandbox.url, "GET", "/rest/v1.0/vendors?company_id=999", token=token)
    assert missing.status == 400 and "Procore-Company-Id" in missing.body["errors"]
    assert other.status == 403
    assert other_param.status == 403
    assert [r["company_header"] for r in list(sandbox.requests)[-3:]] == [None, "999", "4264"]


# --- reads ------------------------------------------------------------------------------------
def test_list_and_get_shapes(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> None:
    token = fetch_token(sandbox.url)
    main_id = demo["project_ids"]["main"]

    projects = http_call(
        sandbox.url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}", token=token
    )
    assert [p["project_number"] for p in projects.body] == ["2024-001", "2024-002"]
    project = http_call(
        sandbox.url, "GET", f"/rest/v1.0/projects/{main_id}?company_id={COMPANY_ID}", token=token
    ).body
    assert project["id"] == main_id and project["company"]["id"] == COMPANY_ID

    vendors = http_call(
        sandbox.url, "GET", f"/rest/v1.0/vendors?company_id={COMPANY_ID}", token=token
    )
    assert len(vendors.body) == 3
    assert any(len(v["name"]) > 30 for v in vendors.body)
    vendor_id = demo["vendor_ids"]["steel"]
    vendor = http_call(
        sandbox.url, "GET", f"/rest/v1.0/vendors/{vendor_id}?company_id={COMPANY_ID}", token=token
    ).body
    assert vendor["name"] == "Summit Steel Supply"

    codes = http_call(
        sandbox.url, "GET", f"/rest/v1.0/cost_codes?project_id={main_id}", token=token
    )
    concrete = next(c for c in codes.body if c["full_code"] == "03-300")
    assert concrete == {
        **concrete,
        "code": "300",
        "name": "Cast-in-Place Concrete",
        "biller_type": "Project",
        "origin_id": None,
    }
    assert isinstance(concrete["id"], int)

    types = http_call(
        sandbox.url, "GET", f"/rest/v1.0/line_item_types?company_id={COMPANY_ID}", token=token
    )
    assert {t["code"]: t["name"] for t in types.body} == {
        "L": "Labor",
        "M": "Material",
        "E": "Equipment",
        "S": "Subcontract",
        "O": "Other",
    }
    assert set(types.body[0]) >= {"id", "name", "code", "base_type", "origin_id"}


def test_errors_for_unknown_paths_records_and_missing_params(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    token = fetch_token(sandbox.url)
    unknown_path = http_call(sandbox.url, "GET", "/rest/v1.0/nothing_here", token=token)
    unknown_project = http_call(
        sandbox.url, "GET", "/rest/v1.0/cost_codes?project_id=1", token=token
    )
    missing_param = http_call(sandbox.url, "GET", "/rest/v1.0/cost_codes", token=token)
    assert unknown_path.status == 404 and "errors" in unknown_path.body
    assert unknown_project.status == 404
    assert missing_param.status == 400 and "project_id" in missing_param.body["errors"]


def test_pagination_headers_and_links(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> None:
    token = fetch_token(sandbox.url)
    base = f"/rest/v1.0/cost_codes?project_id={demo['project_ids']['main']}&per_page=2"
    first = http_call(sandbox.url, "GET", base, token=token)
    last = http_call(sandbox.url, "GET", base + "&page=3", token=token)
    assert len(first.body) == 2 and len(last.body) == 1
    assert first.headers["Total"] == "5" and first.headers["Per-Page"] == "2"
    assert re.search(r"page=2&per_page=2>; rel=\"next\"", first.headers["Link"])
    assert 'rel="next"' not in last.headers["Link"]
    assert 'rel="prev"' in last.headers["Link"]
    every = (
        [c["id"] for c in first.body]
        + [c["id"] for c in http_call(sandbox.url, "GET", base + "&page=2", token=token).body]
        + [c["id"] for c in last.body]
    )
    assert len(set(every)) == 5


def test_rate_limit_headers_count_down_per_api_call(sandbox: ProcoreSandbox) -> None:
    token = fetch_token(sandbox.url)
    path = f"/rest/v1.0/projects?company_id={COMPANY_ID}"
    one = http_call(sandbox.url, "GET", path, token=token).headers
    two = http_call(sandbox.url, "GET", path, token=token).headers
    assert one["X-Rate-Limit-Limit"] == "3600"
    assert int(one["X-Rate-Limit-Remaining"]) - int(two["X-Rate-Limit-Remaining"]) == 1
    assert int(two["X-Rate-Limit-Reset"]) > time.time()

    sandbox.set_rate_limit(remaining=0, window_seconds=60)
    exhausted = http_call(sandbox.url, "GET", path, token=token)
    assert exhausted.status == 429
    assert exhausted.headers["X-Rate-Limit-Remaining"] == "0"


# --- commitments, line items and webhooks -----------------------------------------------------
@pytest.mark.parametrize("version", ["v2.0", "v3.0", "v4.0"])
def test_commitment_and_line_item_writes_fire_webhooks(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    webhook_receiver: WebhookReceiver,
    version: str,
) -> None:
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", version)
    token = fetch_token(sandbox.url)
    main_id = demo["project_ids"]["main"]
    contract = _create_subcontract(sandbox, token, demo)
    base = f"/rest/v1.0/work_order_contracts/{contract['id']}"
    line = http_call(
        sandbox.url,
        "POST",
        base + "/line_items",
        token=token,
        json_body={
            "project_id": main_id,
            "line_item": {
                "amount": "1500",
                "description": "Footings",
                "cost_code_id": demo["cost_code_ids"]["main"]["03-300"],
                "line_item_type_id": demo["line_item_type_ids"]["S"],
            },
        },
    )
    assert line.status == 201
    patched = http_call(
        sandbox.url,
        "PATCH",
        base,
        token=token,
        json_body={"project_id": main_id, "work_order_contract": {"status": "Approved"}},
    )
    assert patched.status == 200 and patched.body["status"] == "Approved"

    # sync delivery: every webhook arrived before its HTTP answer returned
    received = webhook_receiver.received
    assert len(received) == 3
    assert all(r.headers["authorization"] == "Bearer hook-secret" for r in received)
    assert [d["status"] for d in sandbox.deliveries] == [200, 200, 200]
    created, line_created, updated = (r.payload for r in received)
    line_id = line.body["id"]

    if version == "v4.0":
        assert created == {
            "id": created["id"],
            "timestamp": created["timestamp"],
            "reason": "create",
            "company_id": str(COMPANY_ID),
            "project_id": str(main_id),
            "user_id": str(SERVICE_ACCOUNT_USER_ID),
            "resource_type": "Work Order Contracts",
            "resource_id": str(contract["id"]),
        }  # Procore's v4.0 schema: no api_version, no metadata
        assert len(created["id"]) == 26
        assert (line_created["resource_type"], line_created["resource_id"]) == (
            "Work Order Contract Line Items",
            str(line_id),
        )
        assert updated["reason"] == "update"
        return

    assert created["api_version"] == version
    # Procore's event ids are int64 (its 2020 example: 5982324300946918154), 19 digits
    assert isinstance(created["id"], int) and 10**18 <= created["id"] < 2**63
    assert line_created["id"] > created["id"] and len(created["ulid"]) == 26
    assert (created["event_type"], created["resource_name"], created["resource_id"]) == (
        "create",
        "Work Order Contracts",
        contract["id"],
    )
    assert (created["company_id"], created["project_id"]) == (COMPANY_ID, main_id)
    assert created["metadata"] == {
        "source_user_id": SERVICE_ACCOUNT_USER_ID,
        "source_project_id": main_id,
        "source_operation_id": None,
        "source_company_id": COMPANY_ID,
        "source_application_id": CLIENT_ID,
    }
    assert (line_created["resource_name"], line_created["resource_id"]) == (
        "Work Order Contract Line Items",
        line_id,
    )
    assert updated["event_type"] == "update"
    if version == "v3.0":
        assert line_created["related_resources"] == [
            {"id": contract["id"], "name": "Work Order Contracts"}
        ]
        assert created["related_resources"] == []
    else:
        assert "related_resources" not in line_created


def test_commitment_records_validation_and_totals(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    token = fetch_token(sandbox.url)
    main_id = demo["project_ids"]["main"]
    contract = _create_subcontract(sandbox, token, demo)
    assert contract["status"] == "Draft" and contract["grand_total"] == "0.00"
    assert contract["vendor"] == {  # the full record's vendor carries its origin
        "id": demo["vendor_ids"]["concrete"],
        "company": "Granite Bay Concrete",
        "origin_data": None,
        "origin_id": None,
    }
    assert contract["project"]["id"] == main_id and contract["retainage_percent"] == "10.00"

    base = f"/rest/v1.0/work_order_contracts/{contract['id']}"
    lines = base + "/line_items"
    for body in ({"amount": "1000.10"}, {"quantity": 4, "unit_cost": "25.5", "uom": "ea"}):
        answer = http_call(
            sandbox.url,
            "POST",
            lines,
            token=token,
            json_body={"project_id": main_id, "line_item": body},
        )
        assert answer.status == 201, answer.body
    got = http_call(sandbox.url, "GET", f"{base}?project_id={main_id}", token=token).body
    assert got["grand_total"] == "1102.10"
    listed = http_call(sandbox.url, "GET", f"{lines}?project_id={main_id}", token=token).body
    assert [(li["position"], li["amount"]) for li in listed] == [(1, "1000.10"), (2, "102.00")]

    bad_status = http_call(
        sandbox.url,
        "PATCH",
        base,
        token=token,
        json_body={"project_id": main_id, "work_order_contract": {"status": "Signed"}},
    )
    assert bad_status.status == 422
    assert bad_status.body == {"errors": {"status": ["is not included in the list"]}}
    blank_line = http_call(
        sandbox.url, "POST", lines, token=token, json_body={"project_id": main_id, "line_item": {}}
    )
    # line item writes document 400 and no 422 (work order create/update document 422)
    assert blank_line.status == 400 and blank_line.body["errors"]["amount"] == ["can't be blank"]
    no_project = http_call(
        sandbox.url, "POST", lines, token=token, json_body={"line_item": {"amount": 1}}
    )
    assert no_project.body == {"errors": {"project_id": ["can't be blank"]}}
    duplicate = http_call(
        sandbox.url,
        "POST",
        "/rest/v1.0/work_order_contracts",
        token=token,
        json_body={"project_id": main_id, "work_order_contract": {"number": "SC-001"}},
    )
    assert duplicate.status == 422 and "number" in duplicate.body["errors"]
    bad_json = http_call(sandbox.url, "POST", lines, token=token, raw=b"{not json")
    assert bad_json.status == 400

    other_project = http_call(
        sandbox.url, "GET", f"{base}?project_id={demo['project_ids']['second']}", token=token
    )
    assert other_project.status == 404
    deleted = http_call(sandbox.url, "DELETE", f"{base}?project_id={main_id}", token=token)
    assert (deleted.status, deleted.body) == (200, None)  # documented 200, empty body
    gone = http_call(sandbox.url, "GET", f"{base}?project_id={main_id}", token=token)
    assert gone.status == 404


def test_python_helpers_fire_webhooks_as_the_web_app(
    sandbox: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", "v3.0")
    po = sandbox.create_commitment(
        "purchase_order_contract", demo["project_ids"]["second"], title="Rebar", status="Approved"
    )
    sandbox.add_line_item("purchase_order_contract", po["id"], amount=250)
    sandbox.update_commitment(
        "purchase_order_contract", po["id"], title="Rebar #5", as_application="other-erp"
    )
    apps = [r.payload["metadata"]["source_application_id"] for r in webhook_receiver.received]
    assert apps == [WEB_APPLICATION_ID, WEB_APPLICATION_ID, "other-erp"]
    names = [r.payload["resource_name"] for r in webhook_receiver.received]
    assert names == [
        "Purchase Order Contracts",
        "Purchase Order Contract Line Items",
        "Purchase Order Contracts",
    ]
    assert sandbox.get_commitment("purchase_order_contract", po["id"])["grand_total"] == "250.00"


def test_async_delivery_and_failed_deliveries_do_not_break_the_server(
    demo: dict[str, Any], sandbox: ProcoreSandbox, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.status = 500
    sandbox.set_delivery_policy(retry_base=0.05, retry_cap=0.05)
    sandbox.set_webhook(webhook_receiver.url, None, "v2.0", delivery="async")
    contract = sandbox.create_commitment("work_order_contract", demo["project_ids"]["main"])
    deliveries = sandbox.wait_for_deliveries(1)
    assert deliveries[0]["status"] == 500 and deliveries[0]["error"] == "HTTP 500"
    assert "authorization" not in webhook_receiver.received[0].headers

    # nothing listens on the receiver's port once it is stopped: connection refused; the
    # first event is retried (Procore's policy: tests/integration/test_webhook_delivery.py)
    webhook_receiver.server.shutdown()
    webhook_receiver.server.server_close()
    sandbox.update_commitment("work_order_contract", contract["id"], title="After")
    deadline = time.monotonic() + 5
    while not (refused := [d for d in sandbox.deliveries if d["status"] is None]):
        assert time.monotonic() < deadline, sandbox.deliveries
        time.sleep(0.02)
    assert refused[0]["error"] and refused[0]["attempt"] >= 2
    assert refused[0]["event_id"] == deliveries[0]["event_id"]
    assert http_call(sandbox.url, "GET", "/_sandbox/webhook").body["queued"] == 2
    listed = http_call(sandbox.url, "GET", "/_sandbox/deliveries")
    assert listed.status == 200 and len(listed.body) >= 2


def test_webhook_url_must_be_loopback(sandbox: ProcoreSandbox) -> None:
    with pytest.raises(ValueError, match="loopback"):
        sandbox.set_webhook("http://example.com/hook")
    answer = http_call(
        sandbox.url, "POST", "/_sandbox/webhook", json_body={"url": "http://10.0.0.1/hook"}
    )
    assert answer.status == 422


# --- fault injection ---------------------------------------------------------------------------
def test_injected_429_carries_rate_limit_headers_then_recovers(
    sandbox: ProcoreSandbox,
) -> None:
    token = fetch_token(sandbox.url)
    path = f"/rest/v1.0/projects?company_id={COMPANY_ID}"
    sandbox.inject_fault(429, count=1, reset_in=2)
    limited = http_call(sandbox.url, "GET", path, token=token)
    assert limited.status == 429
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    assert 0 < int(limited.headers["X-Rate-Limit-Reset"]) - time.time() <= 2
    assert http_call(sandbox.url, "GET", path, token=token).status == 200


def test_injected_503_over_http_carries_retry_after_and_respects_prefix(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    token = fetch_token(sandbox.url)
    added = http_call(
        sandbox.url,
        "POST",
        "/_sandbox/faults",
        json_body={
            "status": 503,
            "count": 2,
            "path_prefix": "/rest/v1.0/vendors",
            "retry_after": 7,
        },
    )
    assert added.status == 201
    other = http_call(
        sandbox.url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}", token=token
    )
    assert other.status == 200
    vendors = f"/rest/v1.0/vendors?company_id={COMPANY_ID}"
    answers = [http_call(sandbox.url, "GET", vendors, token=token) for _ in range(3)]
    assert [a.status for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert "X-Rate-Limit-Remaining" in answers[0].headers
    assert sandbox.request_counts["/rest/v1.0/vendors"] == 3

    counts = http_call(sandbox.url, "GET", "/_sandbox/request_counts").body
    assert counts["/rest/v1.0/vendors"] == 3


def test_seed_and_reset_over_http(sandbox: ProcoreSandbox) -> None:
    seeded = http_call(sandbox.url, "POST", "/_sandbox/seed", json_body={"demo": True})
    assert seeded.status == 201 and len(seeded.body["line_item_type_ids"]) == 5
    assert len(sandbox.state.projects) == 2
    assert http_call(sandbox.url, "POST", "/_sandbox/reset").status == 204
    assert sandbox.state.projects == {} and sandbox.state.vendors == {}


def test_command_line_runs_in_foreground_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.procore_sandbox", "--port", "0", "--seed", "demo"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            match = re.search(r"ready: (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url is not None, "sandbox did not report readiness"
        token = fetch_token(url)
        projects = http_call(
            url, "GET", f"/rest/v1.0/projects?company_id={COMPANY_ID}", token=token
        )
        assert [p["project_number"] for p in projects.body] == ["2024-001", "2024-002"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
