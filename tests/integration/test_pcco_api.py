"""Prime contract change orders (PCCOs) through the API (chalice.test.Client) against moto
and the Procore sandbox over HTTP: the "Change Order Packages" webhook told apart from a
CCO's, readiness (approved, project and prime contract linked, cost codes), send/accept/
reject/resend/unlink with who may, the command the exporter sends (joining a synced CCO's
change order of the same change event), and the origin id written back to Procore."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.models import Item, Link
from chalicelib.domain.permissions import Level, User
from chalicelib.domain.state_machine import Status
from chalicelib.domain.webhooks import WebhookEvent
from chalicelib.kinds.cco import change_order_to_join
from chalicelib.wiring import get_intake, get_item_service, get_store
from devstack.procore_sandbox.owner_seeding import seed_owner_side
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401 - the fixture
from tests.helpers import COMPANY_ID, use_division_dash_codes
from tests.integration.test_setup_api import SetupApi, make_setup_api

CO_ADMIN = "change_orders_admin"


@pytest.fixture(name="api")
def api_fixture(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    api = make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)
    get_store().put_user(User(CO_ADMIN, COMPANY_ID, Level.NONE,
                              tool_levels={"change_orders": Level.ADMIN}))
    use_division_dash_codes()
    api.demo["owner"] = seed_owner_side(api.sandbox, api.demo)
    return api


def link(api: SetupApi, *, project: bool = True, contract: bool = True) -> None:
    if project:
        get_store().put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=api.main,
                                  sage_key="24001"))
    if contract:
        get_store().put_link(Link(company_id=COMPANY_ID, kind="prime_contract",
                                  procore_id=api.demo["owner"]["prime_contract_id"],
                                  sage_key="24001"))


def send(api: SetupApi, pcco_id: int, who: str = CO_ADMIN) -> tuple[int, Any]:
    return api.call("POST", "/items/send", who, {"kind": "pcco", "procore_id": pcco_id,
                                                 "project_id": api.main})


def package_event(api: SetupApi, pcco_id: int, action: str = "update") -> WebhookEvent:
    return WebhookEvent(event_id=f"ev-{pcco_id}-{action}", payload_version="v2.0",
                        company_id=COMPANY_ID, project_id=api.main, action=action,
                        resource_name="Change Order Packages", resource_id=pcco_id,
                        timestamp=datetime.now(UTC).isoformat())


def second_pcco(api: SetupApi, status: str = "approved") -> int:
    """Another PCCO on the prime contract: one line of 2,000.00 on 03-300 Subcontract."""
    sandbox, pid = api.sandbox, api.main
    with sandbox.state.lock:
        pcco = sandbox._create_pcco(pid, {"contract_id": api.demo["owner"]["prime_contract_id"],
                                          "title": "Owner upgrades", "status": "draft"},
                                    sandbox._web_actor("procore-web", None), [])
        code = sandbox.state.cost_codes[pid][api.demo["cost_code_ids"]["main"]["03-300"]]
        wbs = sandbox._wbs_code_id(code, api.demo["line_item_type_ids"]["S"])
        sandbox._write_pcco_line(pcco, {"wbs_code_id": str(wbs), "description": "Lobby",
                                        "amount": "2000.00"}, None,
                                 sandbox._web_actor("procore-web", None), [])
        pcco["status"] = status
    return int(pcco["id"])


def test_send_needs_the_project_and_admin_on_the_change_orders_tool(api: SetupApi) -> None:
    status, answer = api.call("POST", "/items/send", CO_ADMIN, {"kind": "pcco",
                                                                "procore_id": 5})
    assert status == 400 and "project_id" in answer["message"], answer
    for who in ("approver", "admin", "pm", "viewer"):
        status, answer = send(api, api.demo["owner"]["pcco_id"], who)
        assert status == 403 and "send, retrieve or resend" in answer["message"], answer


def test_reasons_name_the_job_the_prime_contract_and_the_status(api: SetupApi) -> None:
    pcco = second_pcco(api, status="pending")
    status, item = send(api, pcco)
    assert status == 200 and item["status"] == "not_ready", item
    contract = api.demo["owner"]["prime_contract_id"]
    assert item["reasons"] == [
        "PCCO 002 is pending. Only approved prime contract change orders go to Sage; "
        "approve it in Procore.",
        f"Project {api.main} is not linked to a Sage job.",
        f"Prime contract {contract} is not linked to Sage 100 Contractor. A PCCO goes to "
        "Sage only on a synced prime contract: import the job's contract from Sage into "
        "Procore first."], item["reasons"]
    link(api)
    with api.sandbox.state.lock:
        api.sandbox.state.prime_change_orders[pcco]["status"] = "approved"
    assert send(api, pcco)[1]["reasons"] == []


def test_a_pcco_is_accepted_exported_written_back_and_unlinked(api: SetupApi) -> None:
    link(api)
    pcco_id = api.demo["owner"]["pcco_id"]
    # Procore's "Change Order Packages" event for a PCCO reaches the PCCO intake.
    assert get_intake().handle_event(package_event(api, pcco_id)) == "changed"
    item = get_store().get_item(COMPANY_ID, "pcco", pcco_id)
    assert item.status.value == "ready_to_export", item.reasons
    assert get_store().get_item(COMPANY_ID, "cco", pcco_id) is None
    assert item.snapshot["total"] == "12500.00"
    status, answer = api.call("POST", f"/items/pcco-{pcco_id}/accept", "standard")
    assert status == 403 and "accounting approver" in answer["message"], answer
    status, answer = api.call("POST", f"/items/pcco-{pcco_id}/accept", "approver")
    assert (status, answer["status"]) == (200, "accepted"), answer

    command = api.export(f"pcco-{pcco_id}", {"prmchg": "7", "chgnum": "3",
                                             "joined": "false", "lines": "1-1"})
    assert command["type"] == "add_prime_change_order"
    payload = command["payload"]
    assert {k: payload[k] for k in ("job", "reference", "description", "join")} == {
        "job": 24001, "reference": f"PCCO{pcco_id}",
        "description": f"PCCO{pcco_id} Added footing at grid C-4", "join": None}
    assert payload["lines"] == [{"description": f"PCCO{pcco_id} Added footing at grid C-4",
                                 "cost_code": "3300.000", "cost_type": 4,
                                 "amount": "12500.00"}]
    synced = get_store().get_item(COMPANY_ID, "pcco", pcco_id)
    assert synced.status.value == "synced" and synced.writeback_error is None
    assert get_store().get_link(COMPANY_ID, "pcco", pcco_id).sage_key == "pmcgln:7:1-1"
    shown = api.sandbox.state.prime_change_orders[pcco_id]
    assert (shown["origin_id"], shown["origin_code"]) == ("pmcgln:7:1-1", "3")

    for who in ("viewer", CO_ADMIN):
        status, answer = api.call("POST", f"/items/pcco-{pcco_id}/unlink", who)
        assert status == 403 and "unlink" in answer["message"].lower(), answer
    status, answer = api.call("POST", f"/items/pcco-{pcco_id}/unlink", "standard")
    assert (status, answer["status"]) == (200, "unlinked"), answer
    assert api.sandbox.state.prime_change_orders[pcco_id]["origin_id"] is None
    assert get_store().get_link(COMPANY_ID, "pcco", pcco_id) is None


def test_rejected_then_resent_by_a_change_orders_admin(api: SetupApi) -> None:
    link(api)
    pcco = second_pcco(api)
    assert send(api, pcco)[1]["status"] == "ready_to_export"
    status, answer = api.call("POST", f"/items/pcco-{pcco}/reject", "approver",
                              {"reason": "Wrong cost code"})
    assert (status, answer["status"]) == (200, "rejected"), answer
    assert api.call("POST", f"/items/pcco-{pcco}/resend", "admin")[0] == 403
    status, answer = api.call("POST", f"/items/pcco-{pcco}/resend", CO_ADMIN)
    assert (status, answer["status"]) == (200, "ready_to_export"), answer


def test_a_pcco_joins_the_change_order_of_a_synced_cco_of_its_change_event(
        api: SetupApi) -> None:
    link(api)
    pcco = second_pcco(api)
    with api.sandbox.state.lock:
        api.sandbox.state.prime_change_orders[pcco]["change_event_ids"] = [880]
        api.sandbox.state.change_events[880] = {"id": 880, "alphanumeric_number": "7"}
    contract = api.sandbox.create_commitment(
        "work_order_contract", api.main, number="SC-1", title="Concrete", status="Approved",
        vendor_id=api.demo["vendor_ids"]["concrete"])
    items = get_item_service()
    for events, prmchg in (([879], "4"), ([880], "6"), ([880], "5")):
        cco_id = api.sandbox.create_cco(api.main, contract["id"])["id"]
        with api.sandbox.state.lock:
            api.sandbox.state.change_orders[cco_id]["change_event_ids"] = events
        item = items.observe(company_id=COMPANY_ID, kind="cco", procore_id=cco_id,
                             project_id=api.main, subtype="subcontract",
                             snapshot={"id": cco_id, "change_events": events}, reasons=[],
                             actor="seed")
        item.status, item.erp_keys = Status.SYNCED, {"prmchg": prmchg}
        get_store().save_fields(item)
    status, item = send(api, pcco)
    assert status == 200 and item["snapshot"]["change_events"] == [880], item
    assert len(item["snapshot"]["change_event_ccos"]) == 2  # Procore's CCOs of event 880
    status, preview = api.call("GET", f"/items/pcco-{pcco}/preview", "approver")
    assert status == 200 and preview["payload"]["join"] == 5, preview  # shown before accept
    assert api.call("POST", f"/items/pcco-{pcco}/accept", "approver")[0] == 200
    command = api.export(f"pcco-{pcco}", {"prmchg": "5", "chgnum": "2", "joined": "true",
                                          "lines": "1-1"})
    assert command["payload"]["join"] == 5  # the earliest synced change order of the event


def test_a_cco_joins_the_change_order_of_a_synced_pcco_of_its_change_event(
        api: SetupApi) -> None:
    """The cco kind's ``join``: the lowest prmchg of the synced PCCOs of the CCO's project
    sharing one of its change events (or listing it in change_event_ccos) that wrote a
    change order of their own."""
    store, items = get_store(), get_item_service()
    seeded = ((9001, [879], [], {"prmchg": "4"}, Status.SYNCED),
              (9002, [880], [], {"prmchg": "7"}, Status.SYNCED),
              (9003, [880], [], {"prmchg": "6", "joined": "true"}, Status.SYNCED),  # a CCO's
              (9004, [880], [], {"prmchg": "5"}, Status.ACCEPTED),  # not synced yet
              (9005, [881], [555], {"prmchg": "8"}, Status.SYNCED))
    for pcco_id, events, ccos, keys, status in seeded:
        item = items.observe(company_id=COMPANY_ID, kind="pcco", procore_id=pcco_id,
                             project_id=api.main, subtype=None, actor="seed", reasons=[],
                             snapshot={"id": pcco_id, "change_events": events,
                                       "change_event_ccos": ccos})
        item.status, item.erp_keys = status, keys
        store.save_fields(item)

    def cco(cco_id: int, events: list[int], project: int = api.main) -> Item:
        return Item(company_id=COMPANY_ID, kind="cco", procore_id=cco_id, project_id=project,
                    status=Status.ACCEPTED,
                    snapshot={"id": cco_id, "change_events": events})

    assert change_order_to_join(store, cco(1, [880])) == 7
    assert change_order_to_join(store, cco(1, [879, 880])) == 4
    assert change_order_to_join(store, cco(555, [])) == 8  # listed by the PCCO
    assert change_order_to_join(store, cco(2, [882])) is None  # no PCCO of its events
    assert change_order_to_join(store, cco(1, [880], project=api.main + 1)) is None
    assert change_order_to_join(None, cco(1, [880])) is None
