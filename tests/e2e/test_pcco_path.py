"""Prime contract change orders end to end over the local stack (moto, the Procore sandbox,
the Chalice app, the relay agent process, the embedded Sage): an approved PCCO on a linked
prime contract is sent by a change orders admin, accepted, written as a Sage change order
(prmchg + pmcgln) and its origin id written back, then unlinked; a PCCO of the same change
event as a synced CCO lands in that CCO's change order, and a CCO of the same change event
as a synced PCCO in the PCCO's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.permissions import Level, User
from devstack.procore_sandbox.owner_seeding import seed_owner_side
from tests.e2e.conftest import ExportStack
from tests.e2e.test_budget_path import ProjectManager
from tests.e2e.test_cco_path import cco_status, money, rows, synced_commitment
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e
CO_ADMIN = "change_orders_admin"


def pcco_item(procore_id: int) -> Any:
    from chalicelib.wiring import get_store

    return get_store().get_item(COMPANY_ID, "pcco", procore_id)


def pcco_status(procore_id: int, *statuses: str) -> Any:
    def check() -> Any:
        item = pcco_item(procore_id)
        return item if item is not None and item.status.value in statuses else None
    return check


def owner_side(stack: ExportStack) -> dict[str, Any]:
    """The prime contract (linked to job 24001's contract, as its import leaves it) and an
    approved PCCO of 12,500.00 on 03-300 Subcontract."""
    from chalicelib.wiring import get_store

    owner = seed_owner_side(stack.sandbox, stack.demo)
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="prime_contract",
                        procore_id=owner["prime_contract_id"], sage_key="24001"))
    store.put_user(User(CO_ADMIN, COMPANY_ID, Level.NONE,
                        tool_levels={"change_orders": Level.ADMIN}))
    return owner


def test_a_pcco_lands_in_sages_change_orders_and_is_unlinked(stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    owner = owner_side(stack)
    pcco_id = owner["pcco_id"]
    status, body = stack.call("post", "/items/send", "admin",
                              {"kind": "pcco", "procore_id": pcco_id, "project_id": stack.project})
    assert status == 403 and "change orders" in body["message"], body
    status, body = stack.call("post", "/items/send", CO_ADMIN,
                              {"kind": "pcco", "procore_id": pcco_id, "project_id": stack.project})
    assert (status, body["status"]) == (200, "ready_to_export"), body
    status, body = stack.call("post", f"/items/pcco-{pcco_id}/accept", "approver")
    assert status == 200, body
    item = stack.until(pcco_status(pcco_id, "synced"))

    [change] = rows(stack, "SELECT * FROM prmchg WHERE jobnum = 24001")
    assert (str(change["recnum"]), change["chgnum"]) == (item.erp_keys["prmchg"],
                                                         item.erp_keys["chgnum"])
    assert change["dscrpt"] == f"PCCO{pcco_id} Added footing at grid C-4"
    assert (change["status"], money(change["appamt"]), money(change["cstamt"])) == (
        1, Decimal("12500.00"), Decimal("0.00"))
    lines = rows(stack, "SELECT * FROM pmcgln WHERE recnum = ?", change["recnum"])
    assert [(ln["linnum"], ln["dscrpt"], money(ln["aprprc"]),
             f"{Decimal(str(ln['cstcde'])):.3f}", ln["csttyp"]) for ln in lines] == [
        (1, f"PCCO{pcco_id} Added footing at grid C-4", Decimal("12500.00"), "3300.000", 4)]
    shown = stack.sandbox.state.prime_change_orders[pcco_id]
    assert (shown["origin_id"], shown["origin_code"]) == (
        f"pmcgln:{change['recnum']}:1-1", change["chgnum"])

    status, body = stack.call("post", f"/items/pcco-{pcco_id}/unlink", "viewer")
    assert status == 403, body
    status, body = stack.call("post", f"/items/pcco-{pcco_id}/unlink", "standard")
    assert (status, body["status"]) == (200, "unlinked"), body
    assert stack.sandbox.state.prime_change_orders[pcco_id]["origin_id"] is None
    assert len(rows(stack, "SELECT * FROM pmcgln")) == 1  # Sage keeps its change order


def footing_event(stack: ExportStack, record: dict[str, Any]) -> dict[str, Any]:
    """A change event of 9,000.00 on the commitment's first line (03-300 Subcontract)."""
    footings = stack.sandbox.list_line_items("work_order_contract", record["id"])[0]
    stack.sandbox.set_change_events(stack.project, True)
    return ProjectManager(stack).call(
        "POST", f"/rest/v1.0/change_events?project_id={stack.project}", {
            "project_id": stack.project, "change_event": {
                "title": "Footing at C-4", "event_scope": "out_of_scope",
                "change_event_status_id": 1, "change_event_line_items_attributes": [
                    {"cost_code_id": stack.codes["03-300"], "line_item_type_id": stack.types["S"],
                     "estimated_cost_amount": "9000.00", "proposed_contract_id": record["id"],
                     "commitment_contract_line_item_id": footings["id"]}]}})


def test_a_pcco_meets_the_cco_of_its_change_event_in_one_sage_change_order(
        stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    owner = owner_side(stack)
    record = synced_commitment(stack)
    event = footing_event(stack, record)
    cco = stack.sandbox.create_cco_from_change_event(stack.project, event["id"], record["id"],
                                                     status="approved", title="Footing C-4")
    stack.until(cco_status(cco["id"], "ready_to_export"))
    assert stack.call("post", f"/items/cco-{cco['id']}/accept", "approver")[0] == 200
    cco_item = stack.until(cco_status(cco["id"], "synced"))

    # The owner's side of the same change event: the seeded PCCO, added to it in Procore;
    # the webhook ("Change Order Packages") brings it in, ready.
    stack.sandbox.link_pcco_change_event(stack.project, owner["pcco_id"], event["id"])
    item = stack.until(pcco_status(owner["pcco_id"], "ready_to_export"))
    assert item.snapshot["change_events"] == [event["id"]]
    assert stack.call("post", f"/items/pcco-{owner['pcco_id']}/accept", "approver")[0] == 200
    item = stack.until(pcco_status(owner["pcco_id"], "synced"))

    assert item.erp_keys["prmchg"] == cco_item.erp_keys["prmchg"]
    assert item.erp_keys["joined"] == "true"
    [change] = rows(stack, "SELECT * FROM prmchg WHERE jobnum = 24001")
    assert change["dscrpt"].startswith(f"CCO{cco['id']}")  # the CCO's change order
    assert (money(change["appamt"]), money(change["cstamt"])) == (Decimal("12500.00"),
                                                                  Decimal("9000.00"))
    assert len(rows(stack, "SELECT * FROM sbcgln WHERE recnum = ?", change["recnum"])) == 1
    assert len(rows(stack, "SELECT * FROM pmcgln WHERE recnum = ?", change["recnum"])) == 1
    assert stack.sandbox.state.prime_change_orders[owner["pcco_id"]]["origin_id"] == \
        f"pmcgln:{change['recnum']}:1-1"


def test_a_cco_meets_the_synced_pcco_of_its_change_event_in_one_sage_change_order(
        stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    owner = owner_side(stack)
    record = synced_commitment(stack)
    event = footing_event(stack, record)
    # The owner's side first: the PCCO, added to the change event, gets its own change order.
    stack.sandbox.link_pcco_change_event(stack.project, owner["pcco_id"], event["id"])
    stack.until(pcco_status(owner["pcco_id"], "ready_to_export"))
    assert stack.call("post", f"/items/pcco-{owner['pcco_id']}/accept", "approver")[0] == 200
    pcco = stack.until(pcco_status(owner["pcco_id"], "synced"))
    assert pcco.erp_keys["joined"] == "false"

    cco = stack.sandbox.create_cco_from_change_event(stack.project, event["id"], record["id"],
                                                     status="approved", title="Footing C-4")
    item = stack.until(cco_status(cco["id"], "ready_to_export"))
    assert item.snapshot["change_events"] == [event["id"]]  # read with the extended view
    status, preview = stack.call("get", f"/items/cco-{cco['id']}/preview", "approver")
    assert status == 200 and preview["payload"]["join"] == int(pcco.erp_keys["prmchg"]), preview
    assert stack.call("post", f"/items/cco-{cco['id']}/accept", "approver")[0] == 200
    item = stack.until(cco_status(cco["id"], "synced"))

    assert (item.erp_keys["prmchg"], item.erp_keys["joined"]) == (pcco.erp_keys["prmchg"],
                                                                  "true")
    [change] = rows(stack, "SELECT * FROM prmchg WHERE jobnum = 24001")
    assert change["dscrpt"].startswith(f"PCCO{owner['pcco_id']}")  # the PCCO's change order
    assert (money(change["reqamt"]), money(change["appamt"]), money(change["cstamt"])) == (
        Decimal("12500.00"), Decimal("12500.00"), Decimal("9000.00"))
    [cost] = rows(stack, "SELECT * FROM sbcgln WHERE recnum = ?", change["recnum"])
    assert cost["dscrpt"].startswith(f"CCO{cco['id']} ") and money(cost["bdgprc"]) == \
        Decimal("9000.00")
    assert len(rows(stack, "SELECT * FROM pmcgln WHERE recnum = ?", change["recnum"])) == 1
    [subcon] = rows(stack, "SELECT * FROM subcon WHERE recnum = ?", cost["vndctc"])
    assert money(subcon["chgttl"]) == Decimal("9000.00")
    assert stack.sandbox.get_cco(stack.project, cco["id"])["origin_id"] == \
        f"prmchg:{change['recnum']}"
