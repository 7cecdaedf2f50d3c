"""Cost codes and sub jobs exported end to end: a Procore cost code Sage lacks is sent,
accepted and written to Sage's cost code list (cstcde, with its division), a sub job
becomes a phase of its job (jobphs); both are linked and carry the Sage key as their
origin id in Procore. A rejection keeps its reason."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.permissions import Level, User
from tests.e2e.conftest import ExportStack
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e

PROJECT_ADMIN = "projects_admin"


def rows(stack: ExportStack, sql: str, *args: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args).fetchall()]


def item_in(kind: str, procore_id: int, *statuses: str) -> Any:
    from chalicelib.wiring import get_store

    def check() -> Any:
        item = get_store().get_item(COMPANY_ID, kind, procore_id)
        return item if item is not None and item.status.value in statuses else None
    return check


def setup(stack: ExportStack) -> None:
    from chalicelib.wiring import get_store

    stack.link()
    get_store().put_user(User(PROJECT_ADMIN, COMPANY_ID, Level.READ_ONLY,
                              tool_levels={"projects": Level.ADMIN}))
    stack.start_agent()


def send(stack: ExportStack, kind: str, procore_id: int) -> dict[str, Any]:
    status, item = stack.call("post", "/items/send", PROJECT_ADMIN,
                              {"kind": kind, "procore_id": procore_id,
                               "project_id": stack.project})
    assert status == 200, item
    return item


def test_a_cost_code_is_added_to_sage_with_its_division_and_linked(stack: ExportStack) -> None:
    setup(stack)
    stack.sage.add_division(3, "Concrete")
    division = stack.sandbox.add_cost_code(stack.project, "03", "Concrete")
    code = stack.sandbox.add_cost_code(stack.project, "03-350", "Shotcrete")
    with stack.sandbox.state.lock:  # put it under its division, as Procore shows it
        stack.sandbox.state.cost_codes[stack.project][code["id"]]["parent_id"] = division["id"]

    item = send(stack, "cost_code", code["id"])
    assert item["status"] == "ready_to_export", item
    assert (item["snapshot"]["sage_code"], item["snapshot"]["sage_division"]) == ("3350.000", 3)
    status, body = stack.call("post", f"/items/{item['id']}/accept", "approver")
    assert status == 200, body
    synced = stack.until(item_in("cost_code", code["id"], "synced"))

    [row] = rows(stack, "SELECT * FROM cstcde WHERE recnum = 3350")
    assert (f"{Decimal(str(row['recnum'])):.3f}", row["cdenme"], row["divnum"]) == \
        ("3350.000", "Shotcrete", 3)
    from chalicelib.wiring import get_store

    assert get_store().get_link(COMPANY_ID, "cost_code", code["id"]).sage_key == "3350.000"
    assert synced.erp_keys["cstcde"] == "3350.000" and synced.writeback_error is None
    held = stack.sandbox.state.cost_codes[stack.project][code["id"]]
    assert held["origin_id"] == "3350.000"

    # The same code sent again is refused: it is linked, in Sage, to be used.
    again = stack.call("post", "/items/send", PROJECT_ADMIN,
                       {"kind": "cost_code", "procore_id": code["id"],
                        "project_id": stack.project})
    assert again[0] == 200 and again[1]["status"] == "synced"


def test_a_sub_job_becomes_a_phase_of_its_job_and_is_linked(stack: ExportStack) -> None:
    setup(stack)
    sub_job = stack.sandbox.add_sub_job(stack.project, "Parking Deck", code="7")
    item = send(stack, "sub_job", sub_job["id"])
    assert item["status"] == "ready_to_export", item
    assert stack.call("post", f"/items/{item['id']}/accept", "approver")[0] == 200
    synced = stack.until(item_in("sub_job", sub_job["id"], "synced"))

    [row] = rows(stack, "SELECT * FROM jobphs WHERE recnum = 24001 AND phsnum = 7")
    assert row["phsnme"] == "Parking Deck"
    from chalicelib.wiring import get_store

    assert get_store().get_link(COMPANY_ID, "sub_job", sub_job["id"]).sage_key == "24001-7"
    assert synced.erp_keys["origin_id"] == "24001-7"
    assert stack.sandbox.state.sub_jobs[sub_job["id"]]["origin_id"] == "24001-7"


def test_a_rejected_sub_job_keeps_its_reason_and_sage_is_unchanged(
        stack: ExportStack) -> None:
    setup(stack)
    sub_job = stack.sandbox.add_sub_job(stack.project, "Landscaping", code="8")
    item = send(stack, "sub_job", sub_job["id"])
    status, body = stack.call("post", f"/items/{item['id']}/reject", "approver",
                              {"reason": "Phase 8 is reserved for closeout; use 9"})
    assert status == 200 and body["status"] == "rejected", body
    assert body["status_reason"] == "Phase 8 is reserved for closeout; use 9"
    assert rows(stack, "SELECT * FROM jobphs WHERE recnum = 24001 AND phsnum = 8") == []
    # A sub job whose code is not a phase number is not ready, with the reason.
    odd = stack.sandbox.add_sub_job(stack.project, "Roof", code="R-1")
    refused = send(stack, "sub_job", odd["id"])
    assert refused["status"] == "not_ready"
    assert any("code 'R-1' is not a Sage phase number" in r for r in refused["reasons"])
