"""The subcontractor invoice part of `make demo` (devstack/demo.py's Story runs it last).

10. A subcontractor invoice on the synced subcontract (after its CCO): the project manager
    finds the project's open billing period covering today or creates one (billing
    periods of a project never overlap, so a re-run against the same stack reuses the
    period it made; each run bills its own new subcontract, one invoice per commitment per
    period), creates an invoice (Procore: requisition) with an invoice number unique per
    run and today's billing date, enters the work completed this period on the two SOV
    lines with 10% retainage each (bulk item update) and approves it. Procore fires no
    webhook for invoices: the PM, admin on the Invoicing tool, sends it to the connector
    (`POST /items/send`); the approver accepts; Sage gets a payable invoice (acpinv) with
    one apivln line per billed line and the job cost distribution (jobcst) totalling it,
    posted to this month with the retention; the subcontract's invoiced total and its
    lines' billed amounts move by the invoice; the invoice in Procore shows
    ``acpinv:{recnum}`` as its origin id.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devstack.demo import DemoFailed
from devstack.demo_cco import money, sage_rows

if TYPE_CHECKING:
    from devstack.demo import Story

# SOV line -> (work completed this period, retainage retained this period: 10%)
BILLED = {"Footings": (Decimal("12000.00"), Decimal("1200.00")),
          "Slab on grade": (Decimal("9062.50"), Decimal("906.25"))}


def open_period(story: Story, pid: int, today: date) -> dict[str, Any]:
    """The project's open billing period covering ``today``; else a new one: this month,
    cut short where another period of the project already lies (they may not overlap)."""
    periods = story.procore_call("GET", f"/rest/v1.0/projects/{pid}/billing_periods"
                                        f"?per_page=100")
    day = today.isoformat()
    for period in periods:
        if period["start_date"] <= day <= period["end_date"]:
            if period["status"] != "open":
                raise DemoFailed(f"billing period {period['start_date']} - "
                                 f"{period['end_date']} of project {pid} is closed")
            return dict(period)
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    for period in periods:
        first, last = (date.fromisoformat(period[k]) for k in ("start_date", "end_date"))
        if last < today:
            start = max(start, last + timedelta(days=1))
        elif first > today:
            end = min(end, first - timedelta(days=1))
    return dict(story.procore_call("POST", f"/rest/v1.0/projects/{pid}/billing_periods", {
        "billing_period": {"start_date": start.isoformat(), "end_date": end.isoformat(),
                           "due_date": (end + timedelta(days=10)).isoformat(),
                           "status": "open"}}))


def subcon_row(path: str, recnum: int) -> dict[str, Decimal]:
    [row] = sage_rows(path, "SELECT invttl, balttl FROM subcon WHERE recnum = ?", recnum)
    return {k: money(v) for k, v in row.items()}


def sbcnln_billed(path: str, recnum: int) -> dict[int, tuple[Decimal, Decimal]]:
    """The subcontract's lines in Sage: line number -> (billed, remain)."""
    return {r["linnum"]: (money(r["billed"]), money(r["remain"])) for r in sage_rows(
        path, "SELECT linnum, billed, remain FROM sbcnln WHERE recnum = ? ORDER BY linnum",
        recnum)}


def invoice_story(story: Story, pid: int, contract_id: int, subcontract: dict[str, Any],
                  suffix: str) -> None:
    """Step 10 of the module docstring: ``subcontract`` is the connector's synced item of
    Procore work order contract ``contract_id`` (project ``pid``, the vendor Granite Bay
    Concrete); ``suffix`` makes the invoice number unique per run."""
    number = subcontract["snapshot"]["number"]
    today = date.today()
    period = open_period(story, pid, today)
    invoice_number = f"GB-{suffix}"
    requisition = story.procore_call("POST", "/rest/v1.1/requisitions?view=items", {
        "project_id": pid, "commitment_id": contract_id, "requisition": {
            "period_id": period["id"], "invoice_number": invoice_number,
            "billing_date": today.isoformat(), "requisition_start": period["start_date"],
            "requisition_end": period["end_date"], "status": "draft"}})
    rid = requisition["id"]
    sov = {line["id"]: line["description"] for line in story.procore_call(
        "GET", f"/rest/v1.0/work_order_contracts/{contract_id}/line_items?project_id={pid}")}
    entries = []
    for item in requisition["items"]:
        billed = BILLED.get(sov.get(item["line_item_id"], ""))
        if item["item_type"] == "contract_item" and billed is not None:
            entries.append({"id": item["id"], "item_type": "contract_item",
                            "work_completed_this_period": str(billed[0]),
                            "work_completed_retainage_retained_this_period": str(billed[1])})
    if len(entries) != len(BILLED):
        raise DemoFailed(f"invoice {rid} has no items for the SOV lines {sorted(BILLED)}")
    story.procore_call("PATCH", f"/rest/v1.0/requisitions/{rid}/bulk_item_update"
                                f"?project_id={pid}", {"requisition_items": entries})
    story.procore_call("PATCH", f"/rest/v1.1/requisitions/{rid}?project_id={pid}", {
        "project_id": pid, "commitment_id": contract_id,
        "requisition": {"status": "approved"}})
    total = sum((work for work, _ in BILLED.values()), Decimal(0))
    retention = sum((held for _, held in BILLED.values()), Decimal(0))
    story.step(f"PM bills {number} in Procore: invoice {invoice_number} (#"
               f"{requisition['number']}) in billing period {period['start_date']} - "
               f"{period['end_date']}, billing date {today}, "
               + ", ".join(f"{name} {work:,} (retainage {held:,})"
                           for name, (work, held) in BILLED.items()) + "; approves it")

    item_id = f"subcontractor_invoice-{rid}"
    sent = story.connector("POST", "/items/send", "pm", {
        "kind": "subcontractor_invoice", "procore_id": rid, "project_id": pid})
    if sent.get("status") != "ready_to_export" or sent["snapshot"].get("total") != f"{total}":
        raise DemoFailed(f"{item_id} was not ready to export with total {total} (now "
                         f"{sent.get('status')}, total {sent['snapshot'].get('total')}: "
                         f"{'; '.join(sent.get('reasons') or []) or ''})")
    story.step(f"PM (admin on Invoicing) sends it to the connector (Procore fires no webhook "
               f"for invoices): {item_id} is ready to export ({total:,}, retention "
               f"{retention:,})")

    db, subcon = story.env["SAGE_DB"], int(subcontract["sage_keys"]["subcon"])
    before, lines_before = subcon_row(db, subcon), sbcnln_billed(db, subcon)
    started = time.monotonic()
    story.connector("POST", f"/items/{item_id}/accept", "approver")
    story.step(f"approver accepts {item_id}")
    synced = story.wait_for(item_id, "synced", "failed")
    seconds = time.monotonic() - started
    keys = synced.get("sage_keys") or {}
    headers = sage_rows(db, "SELECT * FROM acpinv WHERE recnum = ?", int(keys.get("acpinv") or 0))
    header = headers[0] if headers else {}
    lines = sage_rows(db, "SELECT * FROM apivln WHERE recnum = ? ORDER BY linnum",
                      header.get("recnum", 0))
    costs = sage_rows(db, "SELECT * FROM jobcst WHERE trnnum = ? AND vndnum = ? AND jobnum = ?",
                      invoice_number, header.get("vndnum", 0), header.get("jobnum", 0))
    after, lines_after = subcon_row(db, subcon), sbcnln_billed(db, subcon)
    moved = {k: after[k] - before[k] for k in before}
    lines_moved = {n: billed - lines_before.get(n, (money(0), money(0)))[0]
                   for n, (billed, _) in lines_after.items()
                   if billed != lines_before.get(n, (money(0), money(0)))[0]}
    shown = origin_of(story, pid, rid, f"acpinv:{header.get('recnum')}")
    got = {
        "invnum": header.get("invnum"), "ctcnum": header.get("ctcnum"),
        "invttl": money(header.get("invttl")), "retain": money(header.get("retain")),
        "period": (header.get("postyr"), header.get("actper")),
        "apivln": [money(ln["extttl"]) for ln in lines],
        "jobcst": sum((money(c["cstamt"]) for c in costs), money(0)),
    }
    wanted = {
        "invnum": invoice_number, "ctcnum": number, "invttl": total, "retain": retention,
        "period": (today.year, today.month), "apivln": [w for w, _ in BILLED.values()],
        "jobcst": total,
    }
    story.rows.append([item_id, f"{number} inv {invoice_number}", synced["status"],
                       f"acpinv {header.get('recnum', 'missing')}, apivln {len(lines)} lines",
                       str(shown.get("origin_id")), f"{seconds:.1f} s"])
    if (synced["status"] != "synced" or not header or got != wanted
            or moved != {"invttl": total, "balttl": -total}
            or sorted(lines_moved.values()) != sorted(w for w, _ in BILLED.values())
            or shown.get("origin_id") != f"acpinv:{header['recnum']}"):
        raise DemoFailed(f"{item_id} did not land: {synced.get('status_reason') or ''} "
                         f"acpinv {got} (wanted {wanted}); subcontract moved {moved}, its "
                         f"lines billed {lines_moved}; Procore origin {shown.get('origin_id')}")
    story.step(f"Sage payable invoice {header['invnum']} (acpinv {header['recnum']}, vendor "
               f"{header['vndnum']}, job {header['jobnum']}, subcontract {header['ctcnum']}): "
               f"total {got['invttl']:,}, retention {got['retain']:,}, posted to period "
               f"{header['actper']}/{header['postyr']}; apivln "
               + ", ".join(f"line {ln['linnum']} {money(ln['extttl']):,}" for ln in lines)
               + f"; jobcst {len(costs)} rows = {got['jobcst']:,}")
    story.step(f"Sage subcontract {number}: invoiced {before['invttl']:,} -> "
               f"{after['invttl']:,}, remaining {before['balttl']:,} -> {after['balttl']:,}; "
               "sbcnln billed " + ", ".join(
                   f"line {n} +{amount:,} (remain {lines_after[n][1]:,})"
                   for n, amount in sorted(lines_moved.items())))
    story.step(f"invoice {invoice_number} in Procore has origin id {shown.get('origin_id')}")


def origin_of(story: Story, pid: int, rid: int, wanted: str,
              timeout: float = 10) -> dict[str, Any]:
    """The requisition as Procore shows it, once its origin id is ``wanted`` (or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        shown: dict[str, Any] = story.procore_call(
            "GET", f"/rest/v1.0/requisitions/{rid}?project_id={pid}")
        if shown.get("origin_id") == wanted or time.monotonic() >= deadline:
            return shown
        time.sleep(0.2)
