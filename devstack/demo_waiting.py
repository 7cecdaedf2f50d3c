"""The end of `make demo`: items left waiting in the accounting inbox for a person to open.

Everything the story before did lands in Sage; a person then wants something to look at:

11. A subcontract approved in Procore (a webhook): ready to export, not accepted.
12. The exported budget changed again in Procore (a budget modification moving 1,000 from
    05-120 Subcontract to 03-300 Labor): the budget is ready again with a change set.
13. A subcontractor invoice on a second subcontract (accepted and in Sage first, since an
    invoice bills a subcontract Sage holds; one invoice per commitment per billing period),
    sent by the PM: ready to export, not accepted.

``waiting_story`` returns (item id, what it is) for each, and ``summary`` the lines that
end the demo's output, pointing at the inbox.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from devstack.demo import DemoFailed
from devstack.demo_budget import BUDGET, money, wait_budget
from devstack.demo_invoice import open_period

if TYPE_CHECKING:
    from devstack.demo import Story

WORK, HELD = Decimal("6000.00"), Decimal("600.00")  # the waiting invoice: 10% retainage


def waiting_story(story: Story, pid: int, budget_project: int,
                  budget_lines: dict[tuple[str, str], int], suffix: str) -> list[tuple[str, str]]:
    """Steps 11-13 of the module docstring on project ``pid`` (subcontracts) and on the
    exported project ``budget_project`` (its budget's line ids ``budget_lines``)."""
    billed = approved_subcontract(story, pid, f"SC-{suffix}B", "Retaining walls")
    story.wait_for(billed[0], "ready_to_export")
    story.connector("POST", f"/items/{billed[0]}/accept", "approver")
    synced = story.wait_for(billed[0], "synced", "failed")
    if synced["status"] != "synced":
        raise DemoFailed(f"{billed[0]} did not land: {synced.get('status_reason')}")
    story.step(f"PM's subcontract SC-{suffix}B is accepted and in Sage, to be billed")
    invoice = waiting_invoice(story, pid, billed[1], f"SC-{suffix}B", f"GB-{suffix}B")

    item_id = f"budget-{budget_project}"
    story.procore_call("POST", f"/rest/v1.0/projects/{budget_project}/budget_modifications",
                       {"budget_modification": {
                           "from_budget_line_item_id": budget_lines[("05-120", "S")],
                           "to_budget_line_item_id": budget_lines[("03-300", "L")],
                           "transfer_amount": "1000", "notes": "Labor for the waiting demo"}})
    total = sum(money(amount) for *_, amount in BUDGET) + money(1500)
    wait_budget(story, item_id, f"{total:.2f}")
    story.step(f"PM moves 1,000 from 05-120 Subcontract to 03-300 Labor: {item_id} is ready "
               "to export again (left for the approver)")

    waiting, _ = approved_subcontract(story, pid, f"SC-{suffix}C", "Site drainage")
    story.wait_for(waiting, "ready_to_export")
    story.step(f"PM approves subcontract SC-{suffix}C in Procore: {waiting} is ready to "
               "export (left for the approver)")
    return [(waiting, f"subcontract SC-{suffix}C, ready to export"),
            (item_id, "budget change set: 1,000 from 05-120 Subcontract to 03-300 Labor"),
            (invoice, f"subcontractor invoice GB-{suffix}B on SC-{suffix}B, {WORK:,} "
                      f"(retention {HELD:,})")]


def approved_subcontract(story: Story, pid: int, number: str,
                         title: str) -> tuple[str, int]:
    """A subcontract with one line, approved in Procore; (its item id, its Procore id)."""
    vendors = {v["name"]: v["id"] for v in story.procore_call(
        "GET", f"/rest/v1.0/vendors?company_id={story.company}")}
    codes = {c["full_code"]: c["id"] for c in story.procore_call(
        "GET", f"/rest/v1.0/cost_codes?project_id={pid}")}
    types = {t["code"]: t["id"] for t in story.procore_call(
        "GET", f"/rest/v1.0/line_item_types?company_id={story.company}")}
    contract = story.procore_call("POST", "/rest/v1.0/work_order_contracts", {
        "project_id": pid, "work_order_contract": {
            "number": number, "title": title, "status": "Draft",
            "vendor_id": vendors["Granite Bay Concrete"], "retainage_percent": "10"}})
    story.procore_call("POST", f"/rest/v1.0/work_order_contracts/{contract['id']}/line_items",
                       {"project_id": pid, "line_item": {
                           "description": title, "amount": "24000",
                           "cost_code_id": codes["03-300"], "line_item_type_id": types["S"]}})
    story.procore_call("PATCH", f"/rest/v1.0/work_order_contracts/{contract['id']}", {
        "project_id": pid, "work_order_contract": {"status": "Approved"}})
    return f"commitment-{contract['id']}", int(contract["id"])


def waiting_invoice(story: Story, pid: int, contract_id: int, number: str,
                    invoice_number: str) -> str:
    """An approved invoice on the subcontract, sent to the connector; its item id."""
    today = date.today()
    period = open_period(story, pid, today)
    requisition = story.procore_call("POST", "/rest/v1.1/requisitions?view=items", {
        "project_id": pid, "commitment_id": contract_id, "requisition": {
            "period_id": period["id"], "invoice_number": invoice_number,
            "billing_date": today.isoformat(), "requisition_start": period["start_date"],
            "requisition_end": period["end_date"], "status": "draft"}})
    rid = requisition["id"]
    entries = [{"id": item["id"], "item_type": "contract_item",
                "work_completed_this_period": str(WORK),
                "work_completed_retainage_retained_this_period": str(HELD)}
               for item in requisition["items"] if item["item_type"] == "contract_item"]
    if len(entries) != 1:
        raise DemoFailed(f"invoice {rid} has {len(entries)} items for {number}'s one line")
    story.procore_call("PATCH", f"/rest/v1.0/requisitions/{rid}/bulk_item_update"
                                f"?project_id={pid}", {"requisition_items": entries})
    story.procore_call("PATCH", f"/rest/v1.1/requisitions/{rid}?project_id={pid}", {
        "project_id": pid, "commitment_id": contract_id,
        "requisition": {"status": "approved"}})
    item_id = f"subcontractor_invoice-{rid}"
    sent: dict[str, Any] = story.connector("POST", "/items/send", "pm", {
        "kind": "subcontractor_invoice", "procore_id": rid, "project_id": pid})
    if sent.get("status") != "ready_to_export":
        raise DemoFailed(f"{item_id} is {sent.get('status')}, not ready to export: "
                         f"{'; '.join(sent.get('reasons') or [])}")
    story.step(f"PM bills {number}: invoice {invoice_number} ({WORK:,}, retainage {HELD:,}) "
               f"approved and sent; {item_id} is ready to export (left for the approver)")
    return item_id


def summary(inbox: str, waiting: list[tuple[str, str]]) -> str:
    """What the demo leaves in the inbox (indented: not rows of the landed table)."""
    width = max(len(item_id) for item_id, _ in waiting)
    lines = [f"  {item_id:<{width}}  {what}" for item_id, what in waiting]
    return ("\n".join(["Waiting in the inbox, ready to export:", *lines])
            + f"\n\nOpen {inbox} (sign in as approver) to accept or reject them: "
            f"{len(waiting)} items waiting")


def stay_up(stay: bool, terminal: TextIO) -> None:
    """A stack the demo started: kept until Ctrl-C when ``stay`` (else it stops now, and
    the inbox with it)."""
    if not stay:
        print("the stack this demo started stops now; to keep the inbox, start `make run` "
              "first and run `make demo` beside it", file=terminal, flush=True)
        return
    print("the stack stays up for the inbox: Ctrl-C stops it", file=terminal, flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping", file=terminal, flush=True)
