"""Budgets end to end: a project manager works in Procore (the sandbox, over HTTP, as another
application so its webhooks reach us), the connector reads, the approver accepts, the relay
agent (its own process) writes the embedded Sage; and a Sage budget imported into Procore."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.relay_protocol import BudgetLine, BudgetPayload
from tests.e2e.conftest import ExportStack
from tests.fixtures_sandbox import http_call
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e


class ProjectManager:
    """Procore's web UI, as far as the connector can tell: another OAuth application."""

    def __init__(self, stack: ExportStack) -> None:
        self.url = stack.sandbox.url
        stack.sandbox.add_client("pm-web", "pm-secret", 91001)
        answer = http_call(self.url, "POST", "/oauth/token", company=None, form={
            "grant_type": "client_credentials", "client_id": "pm-web",
            "client_secret": "pm-secret"})
        self.token = answer.body["access_token"]

    def call(self, method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        answer = http_call(self.url, method, path, token=self.token, json_body=body)
        assert answer.status < 300 if status is None else answer.status == status, answer.body
        return answer.body

    def line(self, project: int, code: int, cost_type: int, amount: float) -> int:
        return int(self.call("POST", "/rest/v1.0/budget_line_items", {
            "project_id": project, "budget_line_item": {
                "cost_code_id": code, "line_item_type_id": cost_type,
                "original_budget_amount": amount}})["id"])

    def lock(self, project: int, locked: bool = True) -> None:
        self.call("POST" if locked else "DELETE", f"/rest/v1.0/projects/{project}/budget/lock")


def budget_item(project: int) -> Any:
    from chalicelib.wiring import get_store

    return get_store().get_item(COMPANY_ID, "budget", project)


def waits_for(project: int, *statuses: str) -> Any:
    def check() -> Any:
        item = budget_item(project)
        return item if item is not None and item.status.value in statuses else None
    return check


def bdglin(stack: ExportStack, job: int) -> dict[str, dict[str, Decimal]]:
    """The job's budget rows by cost code: current and original columns as Decimal."""
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM bdglin WHERE recnum = ? ORDER BY cstcde",
                            (job,)).fetchall()
    return {f"{Decimal(str(r['cstcde'])):.3f}": {
        k: Decimal(str(r[k])).quantize(Decimal("0.01"))
        for k in ("matbdg", "labbdg", "subbdg", "ttlbdg", "matorg", "laborg", "suborg",
                  "ttlorg")} for r in rows}


def set_sage_lock(stack: ExportStack, job: int, locked: bool) -> None:
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.execute("UPDATE budget SET lckedt = ? WHERE recnum = ?", (int(locked), job))


def test_budget_exports_then_change_sets_write_only_what_changed(stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    pm, project, codes, types = ProjectManager(stack), stack.project, stack.codes, stack.types
    material = pm.line(project, codes["03-300"], types["M"], 10000)
    labor = pm.line(project, codes["03-300"], types["L"], 5000.5)
    pm.line(project, codes["05-120"], types["S"], 20000)
    send = {"kind": "budget", "project_id": project}

    # Not locked: the reason says what to do.
    status, body = stack.call("post", "/items/send", "pm", send)
    assert status == 200 and body["status"] == "not_ready", body
    assert any("not locked in Procore" in r for r in body["reasons"])
    pm.lock(project)
    status, body = stack.call("post", "/items/send", "pm", send)
    assert (status, body["status"], body["id"]) == (200, "ready_to_export", f"budget-{project}")

    # Rejected with a reason, fixed in Procore, resent.
    status, _ = stack.call("post", f"/items/budget-{project}/reject", "approver",
                           {"reason": "labour on 03-300 is 5,200"})
    assert status == 200
    pm.lock(project, locked=False)
    pm.call("PATCH", f"/rest/v1.0/budget_line_items/{labor}",
            {"project_id": project, "budget_line_item": {"original_budget_amount": 5200}})
    pm.lock(project)
    stack.until(lambda: (item := budget_item(project)) and "5200.00" in str(item.snapshot))
    status, body = stack.call("post", f"/items/budget-{project}/resend", "pm")
    assert (status, body["status"]) == (200, "ready_to_export"), body

    # Accepted: Sage gets one row per cost code, a column per cost type, originals equal.
    status, body = stack.call("post", f"/items/budget-{project}/accept", "approver")
    assert status == 200, body
    stack.until(waits_for(project, "synced"))
    rows = bdglin(stack, 24001)
    assert rows["3300.000"] == {"matbdg": Decimal("10000.00"), "labbdg": Decimal("5200.00"),
                                "subbdg": Decimal("0.00"), "ttlbdg": Decimal("15200.00"),
                                "matorg": Decimal("10000.00"), "laborg": Decimal("5200.00"),
                                "suborg": Decimal("0.00"), "ttlorg": Decimal("15200.00")}
    assert rows["5120.000"]["subbdg"] == rows["5120.000"]["suborg"] == Decimal("20000.00")
    shown = pm.call("GET", f"/rest/v1.0/budget_line_items/{material}?project_id={project}")
    assert shown["origin_id"] == "bdglin:24001:0:3300.000:1"
    # Exported from Procore: managed there, so Sage's budget is never imported over it.
    status, body = stack.call("post", f"/projects/{project}/budget/import", "standard")
    assert status == 409 and "managed in Procore" in body["message"], body

    # A budget change (-300 / +300) and a partial line item funded by it: a change set.
    stack.sandbox.set_budget_changes(project, True)
    painting = pm.line(project, codes["09-900"], types["M"], 0)
    wbs = stack.sandbox.budget_wbs_code_id
    pm.call("POST", f"/rest/v1.0/projects/{project}/budget_changes", {
        "status": "approved", "title": "Value engineering", "adjustment_line_items": [
            {"wbs_code_id": wbs(project, codes["03-300"], types["M"]), "type": "budget_change",
             "amount": -300},
            {"wbs_code_id": wbs(project, codes["05-120"], types["S"]), "type": "budget_change",
             "amount": 300},
            {"wbs_code_id": wbs(project, codes["09-900"], types["M"]), "type": "budget_change",
             "amount": 1500}]})
    stack.until(lambda: (item := budget_item(project)) and item.status.value ==
                "ready_to_export" and "1500.00" in str(item.snapshot))

    # The approver sees each cell in Sage now beside the amount after the export.
    status, _ = stack.call("post", "/erp/lists/budgets/refresh", "admin")
    assert status == 202
    stack.until(lambda: stack.call("get", "/erp/lists", "admin")[1]["pulls"]["budgets"].get(
        "status") == "complete")
    status, preview = stack.call("get", f"/items/budget-{project}/preview", "approver")
    assert status == 200 and preview["command"] == "change_budget", preview
    view = {(v["cost_code"], v["cost_type"]): (v["sage_now"], v["after_export"], v["difference"])
            for v in preview["against_sage"]}
    assert view == {("3300.000", 1): ("10000.00", "9700.00", "-300.00"),
                    ("5120.000", 4): ("20000.00", "20300.00", "300.00"),
                    ("9900.000", 1): ("0.00", "1500.00", "1500.00")}
    stack.call("post", f"/items/budget-{project}/accept", "approver")
    stack.until(waits_for(project, "synced"))
    rows = bdglin(stack, 24001)
    assert (rows["3300.000"]["matbdg"], rows["3300.000"]["matorg"]) == (Decimal("9700.00"),
                                                                        Decimal("10000.00"))
    assert rows["3300.000"]["labbdg"] == Decimal("5200.00")  # unchanged, not rewritten
    assert (rows["5120.000"]["subbdg"], rows["5120.000"]["suborg"]) == (Decimal("20300.00"),
                                                                        Decimal("20000.00"))
    assert (rows["9900.000"]["matbdg"], rows["9900.000"]["matorg"]) == (Decimal("1500.00"),
                                                                        Decimal("0.00"))
    shown = pm.call("GET", f"/rest/v1.0/budget_line_items/{painting}?project_id={project}")
    assert shown["origin_id"] == "bdglin:24001:0:9900.000:1"

    # A deleted line is zeroed in Sage (the row and its originals stay). Sage refuses while
    # its budget is locked there: the failure says so, and a resend after unlocking lands.
    pm.call("DELETE", f"/rest/v2.0/companies/{COMPANY_ID}/projects/{project}/"
                      f"budget_line_items/{labor}")
    stack.until(waits_for(project, "ready_to_export"))
    set_sage_lock(stack, 24001, True)
    stack.call("post", f"/items/budget-{project}/accept", "approver")
    failed = stack.until(waits_for(project, "failed"))
    assert failed.last_error["code"] == 14050 and "locked in Sage" in failed.last_error["message"]
    set_sage_lock(stack, 24001, False)
    status, body = stack.call("post", f"/items/budget-{project}/resend", "pm")
    assert (status, body["status"]) == (200, "ready_to_export"), body
    stack.call("post", f"/items/budget-{project}/accept", "approver")
    stack.until(waits_for(project, "synced"))
    rows = bdglin(stack, 24001)
    assert (rows["3300.000"]["labbdg"], rows["3300.000"]["laborg"]) == (Decimal("0.00"),
                                                                        Decimal("5200.00"))
    assert rows["3300.000"]["matbdg"] == Decimal("9700.00")


def test_a_sage_budget_imported_into_procore_is_then_managed_in_sage(
        stack: ExportStack) -> None:
    from chalicelib.domain.models import Link
    from chalicelib.wiring import get_store

    project = stack.demo["project_ids"]["second"]
    get_store().put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=project,
                              sage_key="24002"))
    stack.sage.add_budget(BudgetPayload(job=24002, lines=[
        BudgetLine(cost_code="3300.000", amounts={1: Decimal("1000"), 2: Decimal("250.50")}),
        BudgetLine(cost_code="2200.000", amounts={4: Decimal("8000")})]))
    pm = ProjectManager(stack)
    second = stack.demo["cost_code_ids"]["second"]
    pm.call("PATCH", f"/rest/v1.0/cost_codes/sync?project_id={project}", {"updates": [
        {"id": second["03-300"], "origin_id": "3300.000"},
        {"id": second["02-200"], "origin_id": "2200.000"}]})
    stack.start_agent()

    status, body = stack.call("post", f"/projects/{project}/budget/import", "viewer")
    assert status == 403 and "import a budget from the ERP" in body["message"]
    status, body = stack.call("post", f"/projects/{project}/budget/import", "standard")
    assert (status, body["status"]) == (202, "waiting_for_sage"), body
    done = stack.until(lambda: (answer := stack.call(
        "get", f"/projects/{project}/budget/import", "standard")[1])["status"] != "waiting_for_sage"
        and answer)
    assert (done["status"], done.get("created"), done.get("updated")) == ("imported", 3, 0), \
        done.get("reason")

    view = pm.call("GET", f"/rest/v1.0/budget_views?project_id={project}")[0]["id"]
    rows = pm.call("GET", f"/rest/v1.0/budget_views/{view}/detail_rows?project_id={project}")
    amounts = sorted(Decimal(r["original_budget_amount"]) for r in rows)
    assert amounts == [Decimal("250.5"), Decimal("1000"), Decimal("8000")]
    origins = sorted(pm.call("GET", f"/rest/v1.0/budget_line_items/{r['id']}?project_id="
                                    f"{project}")["origin_id"] for r in rows)
    assert origins == ["bdglin:24002:0:2200.000:4", "bdglin:24002:0:3300.000:1",
                       "bdglin:24002:0:3300.000:2"]

    # Managed in Sage: sending it from Procore says so; importing again updates in place.
    pm.lock(project)
    status, body = stack.call("post", "/items/send", "pm",
                              {"kind": "budget", "project_id": project})
    assert status == 200 and body["status"] == "not_ready"
    assert any("imported from Sage job 24002" in r for r in body["reasons"]), body
    status, body = stack.call("post", f"/projects/{project}/budget/import", "standard")
    assert status == 202
    again = stack.until(lambda: (answer := stack.call(
        "get", f"/projects/{project}/budget/import", "standard")[1])["status"] != "waiting_for_sage"
        and answer)
    assert again["status"] == "failed" and "locked" in again["reason"], again
