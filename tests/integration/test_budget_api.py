"""Budget routes and rules through the API (chalice.test.Client) against moto and the
Procore sandbox over HTTP; Sage's lists and results delivered as the agent sends them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.relay_protocol import Result
from chalicelib.wiring import get_store
from devstack.pump import drain
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401 - the fixture
from tests.helpers import COMPANY_ID, use_division_dash_codes
from tests.integration.test_setup_api import SetupApi, make_setup_api

SAGE_BUDGET = [{"job": 24001, "phase": None, "line": 1, "cost_code": "3300.000", "unit": "",
                "amounts": {"1": "900.00"}, "originals": {"1": "900.00"}, "total": "900.00",
                "locked": False}]


@pytest.fixture(name="api")
def api_fixture(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    return make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)


def link_main(api: SetupApi) -> None:
    get_store().put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=api.main,
                              sage_key="24001"))


def seed_locked_budget(api: SetupApi) -> list[int]:
    codes, types = api.demo["cost_code_ids"]["main"], api.demo["line_item_type_ids"]
    return api.sandbox.seed_budget(api.main, [(codes["03-300"], types["M"], "1000"),
                                              (codes["05-120"], types["S"], "2500.25")],
                                   locked=True)


def send(api: SetupApi, who: str = "pm", **body: Any) -> tuple[int, Any]:
    return api.call("POST", "/items/send", who, {"kind": "budget", **body})


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "project_id"), ({"project_id": 5, "procore_id": 6}, "procore_id")])
def test_send_names_what_is_missing(api: SetupApi, payload: dict[str, Any], field: str) -> None:
    status, answer = send(api, **payload)
    assert status == 400 and field in answer["message"], answer


def test_send_needs_admin_on_the_budget_tool(api: SetupApi) -> None:
    status, answer = send(api, "approver", project_id=api.main)
    assert status == 403 and "admin on the Procore budget tool" in answer["message"], answer
    assert get_store().get_item(COMPANY_ID, "budget", api.main) is None


def test_a_sent_budget_exports_as_one_row_per_cost_code(api: SetupApi) -> None:
    link_main(api)
    use_division_dash_codes()
    seed_locked_budget(api)
    status, item = send(api, project_id=api.main)
    assert (status, item["status"], item["reasons"]) == (200, "ready_to_export", []), item
    status, preview = api.call("GET", f"/items/budget-{api.main}/preview", "viewer")
    assert status == 200 and preview["command"] == "add_budget", preview
    assert preview["against_sage"][0]["sage_now"] is None  # Sage's budgets never pulled
    status, _ = api.call("POST", f"/items/budget-{api.main}/accept", "approver")
    assert status == 200
    command = api.export(f"budget-{api.main}", {"budget": "24001", "lines": "2"})
    assert command["type"] == "add_budget"
    assert command["payload"] == {"job": 24001, "lines": [
        {"phase": None, "cost_code": "3300.000", "unit": None, "amounts": {"1": "1000.00"},
         "originals": {"1": "1000.00"}},
        {"phase": None, "cost_code": "5120.000", "unit": None, "amounts": {"4": "2500.25"},
         "originals": {"4": "2500.25"}}]}
    item = get_store().get_item(COMPANY_ID, "budget", api.main)
    assert item.status.value == "synced" and item.writeback_error is None
    link = get_store().get_link(COMPANY_ID, "budget", api.main)
    assert (link.sage_key, link.origin) == ("24001", "procore")
    lines = [r for r in api.sandbox.state.budget_line_items.values()]
    assert sorted(r.get("origin_id") for r in lines) == ["bdglin:24001:0:3300.000:1",
                                                         "bdglin:24001:0:5120.000:4"]

    # Unlink (ERP standard): the link goes, Procore's origin ids are cleared, Sage is as it was.
    status, answer = api.call("POST", f"/items/budget-{api.main}/unlink", "viewer")
    assert status == 403
    status, answer = api.call("POST", f"/items/budget-{api.main}/unlink", "standard")
    assert (status, answer["status"]) == (200, "unlinked"), answer
    assert get_store().get_link(COMPANY_ID, "budget", api.main) is None
    assert [r.get("origin_id") for r in lines] == [None, None]


def test_created_in_both_and_phases_are_reasons_once_sage_is_known(api: SetupApi) -> None:
    link_main(api)
    use_division_dash_codes()
    seed_locked_budget(api)
    api.pull("budgets", SAGE_BUDGET)
    api.pull("phases", [{"job": 24001, "phase": 1, "name": "Site"}])
    status, item = send(api, project_id=api.main)
    assert (status, item["status"]) == (200, "not_ready")
    joined = " ".join(item["reasons"])
    assert "Sage job 24001 already has a budget (1 lines)" in joined
    assert "With Sage phases the budget originates in Sage" in joined
    _, preview = api.call("GET", f"/items/budget-{api.main}/preview", "viewer")
    assert {(v["cost_code"], v["sage_now"], v["after_export"])
            for v in preview["against_sage"]} == {("3300.000", "900.00", "1000.00"),
                                                  ("5120.000", "0.00", "2500.25")}


def test_import_refusals(api: SetupApi) -> None:
    status, answer = api.call("POST", f"/projects/{api.main}/budget/import", "viewer")
    assert status == 403 and "import a budget from the ERP" in answer["message"]
    status, answer = api.call("POST", f"/projects/{api.main}/budget/import", "standard")
    assert status == 409 and "not linked to a Sage job" in answer["message"]
    status, answer = api.call("GET", f"/projects/{api.main}/budget/import", "standard")
    assert (status, answer["status"]) == (200, "never_imported")
    status, answer = api.call("POST", "/projects/abc/budget/import", "standard")
    assert status == 400 and answer["details"]["field"] == "project_id"
    get_store().put_link(Link(company_id=COMPANY_ID, kind="budget", procore_id=api.main,
                              sage_key="24001", origin="procore"))
    link_main(api)
    status, answer = api.call("POST", f"/projects/{api.main}/budget/import", "standard")
    assert status == 409 and "managed in Procore" in answer["message"]


def test_an_import_that_cannot_map_names_every_cell_and_writes_nothing(api: SetupApi) -> None:
    link_main(api)
    status, answer = api.call("POST", f"/projects/{api.main}/budget/import", "standard")
    assert (status, answer["status"]) == (202, "waiting_for_sage")
    [command] = api.relay_commands()  # the import asked for Sage's budget lines
    assert command["type"] == "pull_budgets"
    api.answer(Result(command_id=command["command_id"], company_id=COMPANY_ID,
                      item_id=command["item_id"], export_version=0, ok=True, data=SAGE_BUDGET,
                      page=1, more=False, agent_id="agent", finished_at="2026-11-30T00:00:00Z"))
    status, answer = api.call("GET", f"/projects/{api.main}/budget/import", "standard")
    assert answer["status"] == "failed", answer
    assert "Sage cost code 3300.000 has no Procore cost code" in answer["reason"]
    assert api.sandbox.state.budget_line_items == {}


def test_unknown_item_preview_is_404(api: SetupApi) -> None:
    status, answer = api.call("GET", "/items/budget-999/preview", "viewer")
    assert status == 404, answer


def test_a_budget_change_whose_webhook_was_lost_is_read_within_the_hour(
        api: SetupApi) -> None:
    link_main(api)
    use_division_dash_codes()
    seed_locked_budget(api)
    send(api, project_id=api.main)
    codes, types = api.demo["cost_code_ids"]["main"], api.demo["line_item_type_ids"]
    api.sandbox.seed_budget(api.main, [(codes["09-900"], types["L"], "75")])  # no webhook
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/reconcile"])
    answer = api.client.lambda_.invoke("reconcile-commitments", event).payload
    assert answer["budget_rereads"] == 1
    drain(api.aws.sqs, api.aws.inbound_url,
          lambda e: api.client.lambda_.invoke("intake", e).payload)
    item = get_store().get_item(COMPANY_ID, "budget", api.main)
    assert item.snapshot["revised_total"] == "3575.25"
    # Later polls of the same hour queue nothing more.
    assert api.client.lambda_.invoke("reconcile-commitments", event).payload[
        "budget_rereads"] == 0


def test_an_import_near_the_end_of_its_invocation_pauses_and_goes_on(
        api: SetupApi, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.services import budget_import
    from chalicelib.wiring import get_procore

    link_main(api)
    codes = api.demo["cost_code_ids"]["main"]
    get_procore(COMPANY_ID).sync_cost_codes(api.main, [
        {"id": codes["03-300"], "origin_id": "3300.000"},
        {"id": codes["05-120"], "origin_id": "5120.000"}])
    rows = [{**SAGE_BUDGET[0], "amounts": {"1": "900.00", "2": "100.00"}},
            {**SAGE_BUDGET[0], "line": 2, "cost_code": "5120.000", "amounts": {"4": "50.00"}}]
    left = iter([None])  # time enough for one create, then 1 s left

    class NearlyOver:
        @staticmethod
        def remaining() -> float | None:
            return next(left, 1.0)

    monkeypatch.setattr(budget_import, "deadline", NearlyOver)
    api.call("POST", f"/projects/{api.main}/budget/import", "standard")
    [command] = api.relay_commands()
    api.answer(Result(command_id=command["command_id"], company_id=COMPANY_ID,
                      item_id=command["item_id"], export_version=0, ok=True, data=rows,
                      page=1, more=False, agent_id="agent", finished_at="2026-11-30T00:00:00Z"))
    _, answer = api.call("GET", f"/projects/{api.main}/budget/import", "standard")
    assert answer["status"] == "waiting_for_sage", answer
    assert "1 more line items" in answer["progress"], answer
    assert len(api.sandbox.state.budget_line_items) == 1

    monkeypatch.undo()
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/pulls"])
    api.client.lambda_.invoke("scheduled-pulls", event)
    _, answer = api.call("GET", f"/projects/{api.main}/budget/import", "standard")
    assert (answer["status"], answer["created"], answer["updated"]) == ("imported", 2, 1), answer
    lines = api.sandbox.state.budget_line_items.values()
    assert sorted(Decimal(str(r["original_budget_amount"])) for r in lines) == [
        Decimal("50"), Decimal("100"), Decimal("900")]
    assert all(r["origin_id"].startswith("bdglin:24001:0:") for r in lines)
