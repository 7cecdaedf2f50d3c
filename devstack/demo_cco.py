"""The commitment change order part of `make demo` (devstack/demo.py's Story runs it last).

9. A change order on the synced subcontract: the project manager creates a CCO on it in
   Procore (draft), adds two line items over the v2.0 API - one changing the subcontract's
   first SOV line (+1,500) and one new line (05-120 Material, +800; its WBS code id read off
   the purchase order's line, which has that cost code and type) - and approves it. The
   CCO is ready to export; the approver accepts; Sage gets a change order (prmchg) with one
   sbcgln line each, the subcontract's changes and new total move by the CCO's total, and
   the CCO in Procore shows the Sage change order as its origin.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devstack.demo import DemoFailed

if TYPE_CHECKING:
    from devstack.demo import Story

CHANGED, ADDED = Decimal("1500.00"), Decimal("800.00")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def sage_rows(path: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of the embedded Sage (read only)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args).fetchall()]


def subcon_totals(path: str, recnum: int) -> dict[str, Decimal]:
    [row] = sage_rows(path, "SELECT cntttl, chgttl, ctcttl, balttl FROM subcon WHERE recnum = ?",
                      recnum)
    return {k: money(v) for k, v in row.items()}


def wait_cco(story: Story, item_id: str, total: str, timeout: float = 60) -> dict[str, Any]:
    """Until the CCO is ready to export holding both lines (its webhooks come one by one)."""
    deadline = time.monotonic() + timeout
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            item = story.connector("GET", f"/items/{item_id}", "viewer")
        except DemoFailed:
            item = {}
        if (item.get("status") == "ready_to_export"
                and (item.get("snapshot") or {}).get("total") == total):
            return item
        time.sleep(0.2)
    raise DemoFailed(f"{item_id} did not become ready to export with total {total} (now "
                     f"{item.get('status')}, total {(item.get('snapshot') or {}).get('total')}: "
                     f"{'; '.join(item.get('reasons') or []) or item.get('status_reason') or ''})")


def sbcnln_changes(path: str, recnum: int) -> dict[int, Decimal]:
    """The subcontract's lines in Sage: line number -> approved changes."""
    return {r["linnum"]: money(r["change"]) for r in sage_rows(
        path, "SELECT linnum, change FROM sbcnln WHERE recnum = ? ORDER BY linnum", recnum)}


def cco_story(story: Story, pid: int, contract_id: int, purchase_order_id: int,
              subcontract: dict[str, Any]) -> None:
    """Step 9 of the module docstring: ``subcontract`` is the connector's synced item of
    Procore work order contract ``contract_id``; ``purchase_order_id`` a Procore purchase
    order of project ``pid`` with a 05-120 Material line."""
    number = subcontract["snapshot"]["number"]
    sov = story.procore_call("GET", f"/rest/v1.0/work_order_contracts/{contract_id}/line_items"
                                    f"?project_id={pid}")
    footings = next(line for line in sov if line["description"] == "Footings")
    po_lines = story.procore_call(
        "GET", f"/rest/v1.0/purchase_order_contracts/{purchase_order_id}/line_items"
               f"?project_id={pid}")
    steel = next(line for line in po_lines if (line.get("wbs_code") or {}).get("flat_code")
                 == "05-120.M")

    cco = story.procore_call("POST", f"/rest/v1.0/projects/{pid}/commitment_change_orders", {
        "change_order": {"contract_id": contract_id, "title": "Deeper footings",
                         "status": "draft", "description": "Soil report: footings 2 ft deeper"}})
    item_id = f"cco-{cco['id']}"
    lines = (f"/rest/v2.0/companies/{story.company}/projects/{pid}/commitment_change_orders/"
             f"{cco['id']}/line_items")
    story.procore_call("POST", lines, {
        "wbs_code_id": str(footings["wbs_code"]["id"]), "amount": str(CHANGED),
        "description": "Footings 2 ft deeper", "commitment_line_item_id": str(footings["id"])})
    story.procore_call("POST", lines, {
        "wbs_code_id": str(steel["wbs_code"]["id"]), "amount": str(ADDED),
        "description": "Steel dowels"})
    story.procore_call("PATCH", f"/rest/v1.0/projects/{pid}/commitment_change_orders/"
                                f"{cco['id']}", {"change_order": {"status": "approved"}})
    total = CHANGED + ADDED
    story.step(f"PM creates CCO {cco['number']} '{cco['title']}' on {number} in "
               f"Procore: Footings +{CHANGED:,} and a new line 05-120 Material +{ADDED:,} "
               f"(WBS code {steel['wbs_code']['flat_code']}, id from the PO's line); approves it")
    wait_cco(story, item_id, f"{total:.2f}")
    story.step(f"{item_id} is in the accounting inbox, ready to export ({total:,})")

    db, subcon = story.env["SAGE_DB"], int(subcontract["sage_keys"]["subcon"])
    before, lines_before = subcon_totals(db, subcon), sbcnln_changes(db, subcon)
    started = time.monotonic()
    story.connector("POST", f"/items/{item_id}/accept", "approver")
    story.step(f"approver accepts {item_id}")
    synced = story.wait_for(item_id, "synced", "failed")
    seconds = time.monotonic() - started
    keys = synced.get("sage_keys") or {}
    changes = sage_rows(db, "SELECT * FROM prmchg WHERE recnum = ?", int(keys.get("prmchg") or 0))
    change = changes[0] if changes else {}
    sbcgln = sage_rows(db, "SELECT * FROM sbcgln WHERE recnum = ? ORDER BY linnum",
                       change.get("recnum", 0))
    after, lines_after = subcon_totals(db, subcon), sbcnln_changes(db, subcon)
    lines_moved = {n: change - lines_before.get(n, money(0)) for n, change in lines_after.items()
                   if change != lines_before.get(n, money(0))}
    shown = story.procore_call("GET", f"/rest/v1.0/projects/{pid}/commitment_change_orders/"
                                      f"{cco['id']}")
    got = [(ln["ctclin"], money(ln["bdgprc"]), f"{Decimal(str(ln['cstcde'])):.3f}",
            ln["csttyp"], ln["vndctc"]) for ln in sbcgln]
    wanted = [(1, CHANGED, "3300.000", 4, subcon), (3, ADDED, "5120.000", 1, subcon)]
    moved = {k: after[k] - before[k] for k in before}
    story.rows.append([item_id, f"{number} CCO {cco['number']}",
                       synced["status"],
                       f"prmchg {change.get('chgnum', 'missing')}, sbcgln {len(sbcgln)} lines",
                       f"{shown.get('origin_id')} ({shown.get('origin_code')})",
                       f"{seconds:.1f} s"])
    if (synced["status"] != "synced" or not change or got != wanted
            or moved != {"cntttl": 0, "chgttl": total, "ctcttl": total, "balttl": total}
            or lines_moved != {1: CHANGED, 3: ADDED}
            or (shown.get("origin_id"), shown.get("origin_code")) != (
                f"prmchg:{change['recnum']}", change["chgnum"])):
        raise DemoFailed(f"{item_id} did not land: {synced.get('status_reason') or ''} "
                         f"prmchg {change}; sbcgln {got} (wanted {wanted}); subcontract moved "
                         f"{moved}, its lines {lines_moved}; Procore origin "
                         f"{shown.get('origin_id')} {shown.get('origin_code')}")
    story.step(f"Sage change order {change['chgnum']} (prmchg {change['recnum']}, "
               f"'{change['dscrpt']}'): sbcgln "
               + ", ".join(f"line {line} {cost}/{kind} {amount:,}"
                           for line, amount, cost, kind, _ in got))
    story.step(f"Sage subcontract {number}: changes {before['chgttl']:,} -> "
               f"{after['chgttl']:,}, contract {before['ctcttl']:,} -> {after['ctcttl']:,}, "
               f"remaining {before['balttl']:,} -> {after['balttl']:,}; sbcnln changes "
               + ", ".join(f"line {n} +{amount:,}" for n, amount in sorted(lines_moved.items())))
