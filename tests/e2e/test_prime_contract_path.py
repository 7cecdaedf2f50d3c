"""A Sage job's contract imported into Procore's Prime Contracts tool, end to end: the
connector asks the relay agent (its own process) to read the job from the embedded Sage,
creates the prime contract and its schedule of values in the sandbox (over HTTP) with
origin ids and exact amounts, and refuses a second import."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from chalicelib.relay_protocol import BudgetLine, BudgetPayload
from tests.e2e.conftest import ExportStack
from tests.e2e.test_budget_path import ProjectManager

pytestmark = pytest.mark.e2e


def test_a_job_contract_imported_once_with_its_schedule_of_values(stack: ExportStack) -> None:
    stack.link()
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.execute("UPDATE actrec SET cntrct = '1250000.00', retain = '10', "
                     "connum = 'RMB-2024' WHERE recnum = 24001")
    stack.sage.add_budget(BudgetPayload(job=24001, lines=[
        BudgetLine(cost_code="3300.000", amounts={1: Decimal("400000.10"),
                                                  2: Decimal("150000.45")}),
        BudgetLine(phase=2, cost_code="5120.000", amounts={4: Decimal("500000")})]))
    stack.start_agent()
    project = stack.project
    path = f"/projects/{project}/prime-contract/import"

    status, body = stack.call("post", path, "viewer")
    assert status == 403 and "import a prime contract from the ERP" in body["message"]
    status, body = stack.call("post", path, "standard")
    assert (status, body["status"]) == (202, "waiting_for_sage"), body
    done = stack.until(lambda: (answer := stack.call("get", path, "standard")[1])["status"]
                       != "waiting_for_sage" and answer)
    assert (done["status"], done["contract_amount"], done["lines"]) == (
        "imported", "1250000.00", 3), done.get("reason")

    pm = ProjectManager(stack)
    [contract] = pm.call("GET", f"/rest/v1.0/prime_contracts?project_id={project}")
    assert (contract["id"], contract["origin_id"], contract["number"], contract["title"],
            contract["retainage_percent"], contract["grand_total"]) == (
        done["prime_contract_id"], "24001", "RMB-2024", "Riverside Medical Office Building",
        "10.00", "1250000.00")
    lines = pm.call("GET", f"/rest/v1.0/prime_contracts/{contract['id']}/line_items"
                           f"?project_id={project}")
    assert sorted((row["origin_id"], row["amount"], row["description"]) for row in lines) == [
        ("actrec:24001:cntrct", "199999.45",
         "Contract amount beyond the budget lines (fee, markup)"),
        ("bdglin:24001:0:3300.000", "550000.55", "3300.000 Cast-in-Place Concrete"),
        ("bdglin:24001:2:5120.000", "500000.00",
         "5120.000 Structural Steel (phase 2: Structure)")]
    assert sum(Decimal(line["amount"]) for line in lines) == Decimal("1250000.00")

    # A second import: refused, naming the prime contract; nothing more in Procore.
    status, body = stack.call("post", path, "admin")
    assert status == 409 and f"Procore prime contract {contract['id']}" in body["message"], body
    assert len(pm.call("GET", f"/rest/v1.0/prime_contracts?project_id={project}")) == 1
