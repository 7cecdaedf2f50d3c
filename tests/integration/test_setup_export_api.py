"""Cost codes and sub jobs sent for export through the API (chalice.test.Client) against
moto and the Procore sandbox over HTTP: readiness with the pulled Sage lists, acceptance,
the command the exporter sends, the result written back, rejection, unlink and who may."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.permissions import Level, User
from chalicelib.wiring import get_store
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401 - the fixture
from tests.helpers import COMPANY_ID, use_division_dash_codes
from tests.integration.test_setup_api import SetupApi, make_setup_api

ADMIN = "projects_admin"
CODES = [{"code": "3300.000", "name": "Cast-in-Place Concrete", "unit": "", "inactive": False},
         {"code": "5120.000", "name": "Structural Steel", "unit": "", "inactive": True}]
PHASES = [{"job": 24001, "phase": 1, "name": "Site and Foundations"}]


@pytest.fixture(name="api")
def api_fixture(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    api = make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)
    get_store().put_user(User(ADMIN, COMPANY_ID, Level.READ_ONLY,
                              tool_levels={"projects": Level.ADMIN}))
    get_store().put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=api.main,
                              sage_key="24001"))
    use_division_dash_codes()
    return api


def send(api: SetupApi, kind: str, procore_id: int, who: str = ADMIN,
         **extra: Any) -> tuple[int, Any]:
    return api.call("POST", "/items/send", who, {"kind": kind, "procore_id": procore_id,
                                                 "project_id": api.main, **extra})


@pytest.mark.parametrize("kind", ["cost_code", "sub_job"])
def test_send_needs_the_project_and_admin_on_the_projects_tool(api: SetupApi,
                                                               kind: str) -> None:
    status, answer = api.call("POST", "/items/send", ADMIN, {"kind": kind, "procore_id": 5})
    assert status == 400 and "project_id" in answer["message"], answer
    for who in ("approver", "admin", "pm"):
        status, answer = send(api, kind, 5, who)
        assert status == 403, answer
        assert "send, retrieve or resend" in answer["message"]
        assert "admin on the Procore projects tool" in answer["message"]


def test_a_cost_code_sage_has_is_not_ready_and_one_it_lacks_exports(api: SetupApi) -> None:
    api.pull("cost_codes", CODES)
    taken = api.demo["cost_code_ids"]["main"]["03-300"]
    status, item = send(api, "cost_code", taken)
    assert status == 200 and item["status"] == "not_ready", item
    assert any("Sage already has cost code 3300.000" in r and "use it" in r
               for r in item["reasons"]), item["reasons"]
    inactive = api.sandbox.add_cost_code(api.main, "05-120", "Steel again")  # inactive in Sage
    assert "Sage already has cost code 5120.000" in send(api, "cost_code",
                                                         inactive["id"])[1]["reasons"][0]
    long_name = api.sandbox.add_cost_code(api.main, "03-360", "x" * 51)
    reasons = send(api, "cost_code", long_name["id"])[1]["reasons"]
    assert reasons == [f"Cost code '03-360' name '{'x' * 51}' is 51 characters; Sage cost "
                       "code names take at most 50 (cstcde.cdenme). Shorten it in Procore."]
    odd = api.sandbox.add_cost_code(api.main, "3-350", "Shotcrete")
    [reason] = send(api, "cost_code", odd["id"])[1]["reasons"]
    assert "'3-350'" in reason and "division-dash-code" in reason

    code = api.sandbox.add_cost_code(api.main, "03-350", "Shotcrete")
    status, item = send(api, "cost_code", code["id"])
    assert (status, item["status"], item["reasons"]) == (200, "ready_to_export", []), item
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "standard")
    assert status == 403 and "accounting approver" in answer["message"], answer
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "approver")
    assert status == 200 and answer["status"] == "accepted", answer
    command = api.export(item["id"], {"cstcde": "3350.000"})
    assert command["type"] == "add_cost_code"
    assert command["payload"] == {"cost_code": "3350.000", "name": "Shotcrete",
                                  "division": None}
    synced = get_store().get_item(COMPANY_ID, "cost_code", code["id"])
    assert synced.status.value == "synced" and synced.writeback_error is None
    assert get_store().get_link(COMPANY_ID, "cost_code", code["id"]).sage_key == "3350.000"
    assert api.sandbox.state.cost_codes[api.main][code["id"]]["origin_id"] == "3350.000"
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "approver")
    assert status == 409 and "synced" in answer["message"], answer

    # A second Procore code landing on the same Sage code is refused, naming the first.
    twin = api.sandbox.add_cost_code(api.demo["project_ids"]["second"], "03-350", "Shotcrete")
    status, other = api.call("POST", "/items/send", ADMIN, {
        "kind": "cost_code", "procore_id": twin["id"],
        "project_id": api.demo["project_ids"]["second"]})
    assert status == 200 and other["status"] == "not_ready"
    assert f"already added from Procore cost code {code['id']}" in other["reasons"][0]

    # Unlink: standard or admin on ERP; the origin id is cleared in Procore.
    status, answer = api.call("POST", f"/items/{item['id']}/unlink", "viewer")
    assert status == 403 and "unlink" in answer["message"], answer
    status, answer = api.call("POST", f"/items/{item['id']}/unlink", "standard")
    assert status == 200 and answer["status"] == "unlinked", answer
    assert api.sandbox.state.cost_codes[api.main][code["id"]]["origin_id"] is None
    assert get_store().get_link(COMPANY_ID, "cost_code", code["id"]) is None


def test_a_sub_job_is_checked_against_its_jobs_phases_then_rejected(api: SetupApi) -> None:
    api.pull("phases", PHASES)
    used = api.sandbox.add_sub_job(api.main, "Foundations", code="1")
    status, item = send(api, "sub_job", used["id"])
    assert status == 200 and item["status"] == "not_ready"
    assert "Sage job 24001 already has phase 1 'Site and Foundations'" in item["reasons"][0]
    for code in ("01", "0", "4A"):
        odd = api.sandbox.add_sub_job(api.main, f"Odd {code}", code=code)
        [reason] = send(api, "sub_job", odd["id"])[1]["reasons"]
        assert f"code '{code}' is not a Sage phase number" in reason
    unlinked = api.sandbox.add_sub_job(api.demo["project_ids"]["second"], "Annex", code="2")
    status, other = api.call("POST", "/items/send", ADMIN, {
        "kind": "sub_job", "procore_id": unlinked["id"],
        "project_id": api.demo["project_ids"]["second"]})
    assert status == 200 and "is not linked to a Sage job" in other["reasons"][0], other

    sub_job = api.sandbox.add_sub_job(api.main, "Parking Deck", code="7")
    status, item = send(api, "sub_job", sub_job["id"])
    assert (status, item["status"]) == (200, "ready_to_export"), item
    status, answer = api.call("POST", f"/items/{item['id']}/reject", "approver", {})
    assert status == 400 and "reason" in answer["message"], answer
    status, answer = api.call("POST", f"/items/{item['id']}/reject", "approver",
                              {"reason": "Use phase 9"})
    assert status == 200 and answer["status"] == "rejected", answer
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "approver")
    assert status == 409 and "rejected" in answer["message"], answer
    status, answer = api.call("POST", f"/items/{item['id']}/resend", "approver")
    assert status == 403, answer
    status, answer = api.call("POST", f"/items/{item['id']}/resend", ADMIN)
    assert status == 200 and answer["status"] == "ready_to_export", answer
    assert api.call("POST", f"/items/{item['id']}/accept", "approver")[0] == 200
    command = api.export(item["id"], {"jobphs": "24001", "phsnum": "7"})
    assert (command["type"], command["payload"]) == (
        "add_phase", {"job": 24001, "phase": 7, "name": "Parking Deck"})
    assert get_store().get_link(COMPANY_ID, "sub_job", sub_job["id"]).sage_key == "24001-7"
    assert api.sandbox.state.sub_jobs[sub_job["id"]]["origin_id"] == "24001-7"
