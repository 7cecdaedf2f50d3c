"""Job cost transactions end to end: jobcst rows of three journals posted in the embedded
Sage become Procore direct costs on the enabled project only; a second run changes
nothing; a void is reflected; an AP row of a subcontract appears only in the unsyncable
report; a Procore edit is shown before it is overwritten; the reports answer with the
right numbers, as CSV, and with 403 for the levels the matrix excludes; the
reconciliation finds an invoice planted in Sage."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.permissions import Level, User
from tests.e2e.conftest import ExportStack
from tests.e2e.test_budget_path import ProjectManager
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e

ROWS = [  # job 24001, cost code 3300.000 <- Procore 03-300 (the division-dash rule)
    {"journal": "General Journal", "cost_type": 1, "amount": "1200.00",
     "description": "Formwork rental", "transaction": "JE-1"},
    {"journal": "Accounts Payable", "cost_type": 1, "amount": "845.10", "vendor": 3001,
     "description": "Rebar, small order", "transaction": "INV-77"},
    {"journal": "Payroll", "cost_type": 2, "amount": "2310.55", "employee": 12,
     "description": "Crew week 45", "transaction": "PR-45"},
    {"journal": "Equipment", "cost_type": 3, "amount": "400.00",
     "description": "Excavator hours", "transaction": "EQ-9"},
]


def ago(seconds: float) -> datetime:
    """Sage rows written this long ago: a run reads only rows older than its settle time
    (JOB_COST_SETTLE_SECONDS), so the tests write them in the past."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


def post(stack: ExportStack, job: int = 24001, rows: list[dict[str, Any]] = ROWS) -> list[int]:
    return stack.sage.post_job_costs([{"job": job, "cost_code": "3300.000",
                                       "date": "2026-11-02", **row} for row in rows],
                                     inserted_at=ago(180))


def plant_subcontract_invoice(stack: ExportStack, subcontract: int) -> None:
    """An invoice entered in Sage only, on the exported subcontract SC-001 (Sage's own AP
    write: acpinv naming the subcontract, its billed amounts, the jobcst distribution),
    its job cost written before the run's settle time."""
    import sqlite3

    from chalicelib.relay_protocol import PayableInvoicePayload

    stack.sage.add_payable_invoice(PayableInvoicePayload.model_validate({
        "job": 24001, "vendor": 3001, "subcontract": subcontract,
        "subcontract_number": "SC-001", "invoice_number": "GB-9001",
        "description": "Concrete progress billing", "invoice_date": "2026-11-02",
        "lines": [{"line_number": 1, "subcontract_line": 1, "description": "Footings",
                   "cost_code": "3300.000", "cost_type": 4, "amount": "5000.00"}]}))
    settled = ago(180).strftime("%Y-%m-%d %H:%M:%S.000")
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.execute("UPDATE jobcst SET insdte = ?, upddte = ? WHERE trnnum = 'GB-9001'",
                     (settled, settled))


def sync_now(stack: ExportStack, project: int) -> dict[str, Any]:
    status, body = stack.call("post", "/sync/job-costs", "admin", {"project_id": project})
    assert status == 202, body
    assert body["queued"] == [project], body

    def finished() -> Any:
        view = stack.call("get", f"/projects/{project}/job-cost-sync", "admin")[1]
        return view if not view["running"] and view["last_run"] else None
    return stack.until(finished)


def direct_costs(stack: ExportStack, project: int) -> dict[str, dict[str, Any]]:
    return {c["origin_id"]: c for c in stack.sandbox.direct_costs(project)}


def csv_rows(stack: ExportStack, path: str, who: str) -> list[dict[str, str]]:
    response = stack.client.http.get(path, headers={"Authorization": stack.mint(who)})
    assert response.status_code == 200, response.body
    assert {k.lower(): v for k, v in response.headers.items()}["content-type"].startswith(
        "text/csv")
    return list(csv.DictReader(io.StringIO(response.body.decode())))


def test_job_costs_reach_procore_direct_costs_and_every_report(stack: ExportStack) -> None:
    from chalicelib.wiring import get_store

    stack.link()
    second = stack.demo["project_ids"]["second"]
    get_store().put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=second,
                              sage_key="24002"))
    get_store().put_user(User(subject="controller", company_id=COMPANY_ID, name="controller",
                              erp_level=Level.ADMIN, tool_levels={
                                  "reports": Level.READ_ONLY, "budget": Level.ADMIN}))
    stack.start_agent()
    record = stack.commitment()  # SC-001, exported to Sage
    stack.until(stack.status(record["id"], "ready_to_export"))
    stack.call("post", f"/items/commitment-{record['id']}/accept", "approver")
    exported = stack.until(stack.status(record["id"], "synced"))
    plant_subcontract_invoice(stack, int(exported.erp_keys["subcon"]))
    general, payable, payroll, equipment = post(stack)
    [commitment] = [r["recnum"] for r in stack.sage.rows("jobcst", {"trnnum": "GB-9001"})]
    post(stack, job=24002, rows=ROWS[:1])  # the second project's job: not enabled

    # Only an ERP admin enables; the answer names the action and level.
    status, body = stack.call("put", f"/projects/{stack.project}/job-cost-sync", "approver",
                              {"enabled": True})
    assert status == 403 and "sync job cost transactions" in body["message"], body
    status, body = stack.call("put", f"/projects/{stack.project}/job-cost-sync", "admin",
                              {"enabled": "yes"})
    assert status == 400 and "enabled" in body["message"], body
    status, body = stack.call("put", f"/projects/{stack.project}/job-cost-sync", "admin",
                              {"enabled": True})
    assert (status, body["enabled"], body["job"]) == (200, True, "24001"), body

    view = sync_now(stack, stack.project)
    assert view["last_run"]["status"] == "ok", view
    assert (view["last_run"]["rows"], view["last_run"]["synced"],
            view["last_run"]["unsyncable"]) == (5, 3, 2)
    costs = direct_costs(stack, stack.project)
    assert sorted(costs) == [f"jobcst:{r}" for r in sorted((general, payable, payroll))]
    by_type = {c["direct_cost_type"]: c for c in costs.values()}
    assert sorted(by_type) == ["expense", "invoice", "payroll"]
    assert by_type["invoice"]["vendor_id"] == stack.demo["vendor_ids"]["concrete"]
    assert by_type["invoice"]["invoice_number"] == "INV-77"
    assert [(Decimal(c["grand_total"]), c["line_items"][0]["cost_code"]["id"] if isinstance(
        c["line_items"][0]["cost_code"], dict) else c["line_items"][0]["cost_code_id"])
        for c in sorted(costs.values(), key=lambda c: c["origin_id"])] == [
        (Decimal("1200.00"), stack.codes["03-300"]), (Decimal("845.10"), stack.codes["03-300"]),
        (Decimal("2310.55"), stack.codes["03-300"])]
    assert stack.sandbox.direct_costs(second) == []  # not enabled: nothing there

    # A second run reads nothing new and changes nothing.
    before = stack.sandbox.direct_costs(stack.project)
    again = sync_now(stack, stack.project)
    assert (again["last_run"]["rows"], again["last_run"]["synced"]) == (0, 0), again
    assert stack.sandbox.direct_costs(stack.project) == before

    # A Procore edit is listed before Sage's next change overwrites it, then recorded.
    edited = costs[f"jobcst:{general}"]
    ProjectManager(stack).call(
        "PATCH", f"/rest/v1.0/projects/{stack.project}/direct_costs/{edited['id']}",
        {"item": {"description": "Formwork (typed in Procore)"}})
    view = sync_now(stack, stack.project)
    assert [e["direct_cost_id"] for e in view["edited_in_procore"]] == [edited["id"]], view
    stack.sage.set_job_cost_amount(general, Decimal("1250.00"), changed_at=ago(120))
    stack.sage.void_job_cost(payroll, changed_at=ago(120))
    view = sync_now(stack, stack.project)
    assert view["edited_in_procore"] == [], view
    [overwrite] = view["overwritten"]
    assert (overwrite["procore_description"], overwrite["sage_amount"]) == (
        "Formwork (typed in Procore)", "1250.00"), overwrite
    costs = direct_costs(stack, stack.project)
    assert Decimal(costs[f"jobcst:{general}"]["grand_total"]) == Decimal("1250.00")
    voided = costs[f"jobcst:{payroll}"]
    assert Decimal(voided["grand_total"]) == Decimal("0.00")
    assert voided["description"].startswith("VOID in Sage: ")

    # The unsyncable report: the subcontract's AP row and the equipment journal, with why.
    status, body = stack.call("get", "/reports/unsyncable-direct-costs?project_id="
                                     f"{stack.project}", "controller")
    assert status == 200, body
    reasons = {row["record"]: row for row in body["rows"]}
    assert sorted(reasons) == sorted((equipment, commitment))
    assert reasons[commitment]["reason_code"] == "commitment_cost"
    assert "SC-001" in reasons[commitment]["reason"]
    assert reasons[equipment]["reason_code"] == "journal_not_synced"
    listed = csv_rows(stack, "/reports/unsyncable-direct-costs?format=csv&project_id="
                             f"{stack.project}", "controller")
    assert sorted(int(r["record"]) for r in listed) == sorted((equipment, commitment))
    for who in ("viewer", "approver", "pm"):  # Reports read-only and Budget admin needed
        status, body = stack.call("get", "/reports/unsyncable-direct-costs?project_id="
                                         f"{stack.project}", who)
        assert status == 403 and "Reports" in body["message"], (who, body)

    # The ERP job costs report: Sage's job cost per cell beside Procore's direct costs.
    status, body = stack.call("get", f"/reports/job-costs?project_id={stack.project}",
                              "controller")
    assert status == 200, body
    cells = {(r["cost_code"], r["cost_type"]): r for r in body["rows"]}
    material = cells[("3300.000", "1")]
    assert (material["sage_job_cost"], material["sage_direct_costs"],
            material["procore_direct_costs"], material["unsynced"]) == (
        "2095.10", "2095.10", "2095.10", "0.00")
    subcontract = cells[("3300.000", "4")]
    assert (subcontract["sage_job_cost"], subcontract["sage_direct_costs"]) == (
        "5000.00", "0.00")
    assert cells[("3300.000", "2")]["sage_job_cost"] == "0.00"  # the payroll row, voided
    company = csv_rows(stack, "/reports/job-costs?format=csv", "admin")
    assert {r["project_id"] for r in company} == {str(stack.project)}
    for who, path in (("approver", "/reports/job-costs"),
                      ("admin", f"/reports/job-costs?project_id={stack.project}")):
        status, body = stack.call("get", path, who)
        assert status == 403, (who, body)

    # Reconciliation: the invoice entered only in Sage is a difference with both values.
    status, _ = stack.call("post", "/erp/lists/commitments/refresh", "admin")
    assert status == 202
    stack.until(lambda: stack.call("get", "/erp/lists", "admin")[1]["pulls"]["commitments"]
                .get("status") == "complete")
    status, body = stack.call("get", f"/reports/reconciliation?project_id={stack.project}",
                              "admin")
    assert status == 200, body
    assert [(r["scope"], r["key"], r["measure"], r["procore"], r["sage"], r["difference"])
            for r in body["rows"] if r["scope"] == "commitment"] == [
        ("commitment", "SC-001", "invoiced", "0.00", "5000.00", "5000.00")]
    assert body["compared"] > len(body["rows"]) and body["sage_as_of"]["commitments"]
    assert all(r["difference"] != "0.00" for r in body["rows"])
    listed = csv_rows(stack, f"/reports/reconciliation?format=csv&project_id={stack.project}",
                      "admin")
    assert [(r["key"], r["measure"], r["difference"]) for r in listed
            if r["scope"] == "commitment"] == [("SC-001", "invoiced", "5000.00")]
    status, body = stack.call("get", f"/reports/reconciliation?project_id={stack.project}",
                              "approver")
    assert status == 403, body
    status, body = stack.call("get", "/reports/reconciliation", "admin")
    assert status == 400 and "project_id" in body["message"], body
