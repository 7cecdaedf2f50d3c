"""The accountant report (JSON and CSV) and the on-demand paid invoice sync, through the
API under the matrix's rules."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from chalicelib.domain.state_machine import Status
from tests.helpers import seed_item, seed_personas


def get(client: Any, mint: Any, path: str, who: str) -> Any:
    return client.http.get(path, headers={"Authorization": mint(who)})


def test_the_accountant_report_lists_what_waits_for_whom_oldest_first(
        aws: Any, chalice_client: Any, mint: Any) -> None:
    seed_personas()
    seed_item(Status.READY_TO_EXPORT, procore_id=501)
    seed_item(Status.FAILED, procore_id=502)
    seed_item(Status.SYNCED, procore_id=503)  # waits for no one
    seed_item(Status.EXPORTING, procore_id=504)
    answer = get(chalice_client, mint, "/reports/accountant", "admin")
    assert answer.status_code == 200
    rows = json.loads(answer.body)["rows"]
    assert [(r["item_id"], r["waiting_for"]) for r in rows] == [
        ("commitment-501", "accounting approver"), ("commitment-502", "sender (fix and resend)"),
        ("commitment-504", "Sage (relay agent)")]
    assert rows[0]["approvers"] == "admin_approver, approver"
    assert [r["since"] for r in rows] == sorted(r["since"] for r in rows)

    answer = get(chalice_client, mint, "/reports/accountant?format=csv", "admin")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer.body.decode()
                                            if isinstance(answer.body, bytes) else answer.body)))
    assert [r["item_id"] for r in table] == ["commitment-501", "commitment-502",
                                             "commitment-504"]
    assert get(chalice_client, mint, "/reports/accountant?format=xml",
               "admin").status_code == 400


def test_reports_and_syncs_follow_the_matrix(aws: Any, chalice_client: Any, mint: Any) -> None:
    seed_personas()
    answer = get(chalice_client, mint, "/reports/accountant", "approver")
    assert answer.status_code == 403
    assert "view the accountant report" in json.loads(answer.body)["message"]
    denied = chalice_client.http.post("/sync/paid-invoices",
                                      headers={"Authorization": mint("standard")})
    assert denied.status_code == 403
    queued = chalice_client.http.post("/sync/paid-invoices",
                                      headers={"Authorization": mint("admin")})
    assert queued.status_code == 202
    assert json.loads(queued.body)["queued"] == ["payments", "receipts"]
