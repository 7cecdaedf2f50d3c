"""Setup workflows end to end: pulls answered by the relay agent (its own process) from
the embedded Sage, then sub jobs and cost codes onto a Procore project, and a project and a
company exported to Sage through acceptance."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.permissions import Level, User
from chalicelib.wiring import get_store
from tests.e2e.conftest import ExportStack
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e


def pulled(stack: ExportStack, list_name: str) -> Any:
    status, state = stack.call("post", f"/erp/lists/{list_name}/refresh", "admin")
    assert status == 202, state

    def complete() -> Any:
        _, lists = stack.call("get", "/erp/lists", "viewer")
        pull = lists["pulls"][list_name]
        return pull if pull.get("run_id") == state["run_id"] and \
            pull.get("status") == "complete" else None

    return stack.until(complete)


def test_pulls_sub_jobs_and_cost_codes_from_the_real_agent(stack: ExportStack) -> None:
    stack.start_agent()
    assert pulled(stack, "jobs")["rows"] == 3
    assert pulled(stack, "phases")["rows"] == 4
    assert pulled(stack, "cost_codes")["rows"] == 6
    assert pulled(stack, "cost_types")["rows"] == 9
    status, link = stack.call("post", "/links/projects", "admin",
                              {"procore_id": stack.project, "sage_key": 24001})
    assert status == 201, link
    status, sub_job = stack.call("post", f"/projects/{stack.project}/sub-jobs", "standard",
                                 {"phase": 2})
    assert status == 201 and sub_job["sub_job"]["name"] == "Structure"
    status, refreshed = stack.call("post", f"/projects/{stack.project}/cost-codes/refresh",
                                   "admin")
    assert status == 200 and refreshed["sent"] == 6 and refreshed["errors"] == []


def test_project_and_company_exported_to_sage_by_the_agent(stack: ExportStack) -> None:
    stack.start_agent()
    pulled(stack, "jobs")
    pulled(stack, "vendors")
    second = stack.demo["project_ids"]["second"]
    status, item = stack.call("post", "/items/send", "standard",
                              {"kind": "project", "procore_id": second})
    assert status == 200 and item["status"] == "ready_to_export", item
    assert stack.call("post", f"/items/{item['id']}/accept", "approver",
                      {"sage_job_number": 24010})[0] == 200
    stack.until(lambda: get_store().get_item(COMPANY_ID, "project", second).status.value ==
                "synced")
    assert stack.sage.find_job(24010) == {"actrec": "24010"}
    assert get_store().get_link(COMPANY_ID, "project", second).sage_key == "24010"
    get_store().put_user(User("dir_admin", COMPANY_ID, Level.STANDARD,
                              tool_levels={"directory": Level.ADMIN}))
    steel = stack.demo["vendor_ids"]["steel"]
    status, answer = stack.call("post", "/items/send", "dir_admin",
                                {"kind": "vendor", "procore_id": steel})
    assert status == 409 and "Sage already has vendor 3003" in answer["message"]
    company = stack.sandbox.add_vendor("Foothill Glazing")
    status, item = stack.call("post", "/items/send", "dir_admin",
                              {"kind": "vendor", "procore_id": company["id"]})
    assert status == 200 and item["status"] == "ready_to_export", item
    assert stack.call("post", f"/items/{item['id']}/accept", "approver")[0] == 200
    synced = stack.until(lambda: (lambda i: i if i.status.value == "synced" else None)(
        get_store().get_item(COMPANY_ID, "vendor", company["id"])))
    key = synced.erp_keys["actpay"]
    assert stack.sage.find_vendor(int(key), "")["actpay"] == key
    assert stack.sandbox.state.vendors[company["id"]]["origin_id"] == key
