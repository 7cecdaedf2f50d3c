"""The budget part of `make demo` (devstack/demo.py's Story runs it last).

It plays on the Procore project the story exported to Sage as a new job: a new job has no
phases (with Sage phases a budget originates in Sage and is imported, never exported).

7. The project manager (admin on the Budget tool) sets up the project's cost codes, enters
   the budget in Procore (cost codes 03-300 and 05-120, four cost types), locks it and
   sends it; the approver accepts. Sage gets one bdglin row per cost code, a column per
   cost type, originals equal to the amounts; each Procore budget line item gets its Sage
   cell as origin id.
8. A change set: a budget modification moves 2,500 from 05-120 Subcontract to 03-300
   Material, and a line added to the locked budget (09-900 Material, original 0) is
   funded by another. The item is ready again; the approver previews Sage now against
   after the export and accepts; only the changed cells move and the originals stay.
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

# Divisions and codes the PM adds to the new project (Procore: "03" > "300" = 03-300).
COST_CODES = (("03", "Concrete", "300", "Cast-in-Place Concrete"),
              ("05", "Metals", "120", "Structural Steel"),
              ("09", "Finishes", "900", "Painting"))
# The demo company's rule "division-dash-code" and the default cost type map.
SAGE_CODES = {"03-300": "3300.000", "05-120": "5120.000", "09-900": "9900.000"}
SAGE_TYPES = {"M": 1, "L": 2, "E": 3, "S": 4}
BUDGET = (("03-300", "M", 42000), ("03-300", "L", 18500.5), ("05-120", "S", 96000),
          ("05-120", "E", 4200))
COLUMNS = ("matbdg", "labbdg", "eqpbdg", "subbdg", "othbdg", "ttlbdg",
           "matorg", "laborg", "eqporg", "suborg", "othorg", "ttlorg")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def bdglin(path: str, job: int) -> dict[str, dict[str, Decimal]]:
    """The job's budget rows in the embedded Sage, by cost code (read only)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM bdglin WHERE recnum = ? ORDER BY cstcde",
                            (job,)).fetchall()
    return {f"{Decimal(str(r['cstcde'])):.3f}": {c: money(r[c]) for c in COLUMNS}
            for r in rows}


def changed_cells(before: dict[str, dict[str, Decimal]],
                  after: dict[str, dict[str, Decimal]]) -> dict[tuple[str, str], Decimal]:
    """(cost code, column) -> new value, for every cell that moved (a new row from 0)."""
    zero = dict.fromkeys(COLUMNS, money(0))
    return {(code, column): value for code, row in after.items()
            for column, value in row.items() if before.get(code, zero)[column] != value}


def origin(story: Story, line_id: int, pid: int) -> str:
    return str(story.procore_call("GET", f"/rest/v1.0/budget_line_items/{line_id}"
                                         f"?project_id={pid}").get("origin_id"))


def wait_budget(story: Story, item_id: str, revised_total: str,
                timeout: float = 30) -> dict[str, Any]:
    """Until the item is ready again holding the whole change (its webhooks come one by one)."""
    deadline = time.monotonic() + timeout
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        item = story.connector("GET", f"/items/{item_id}", "viewer")
        if (item.get("status") == "ready_to_export"
                and item["snapshot"].get("revised_total") == revised_total):
            return item
        time.sleep(0.2)
    revised = (item.get("snapshot") or {}).get("revised_total")
    raise DemoFailed(f"{item_id}: the change never arrived from Procore (now "
                     f"{item.get('status')}, revised {revised}: "
                     f"{item.get('reasons') or item.get('status_reason') or ''})")


def budget_story(story: Story, pid: int, job: int) -> dict[tuple[str, str], int]:
    """Steps 7 and 8 of the module docstring, on project ``pid`` linked to Sage job ``job``;
    the budget's line ids by (cost code, cost type)."""
    codes = {}
    for division, division_name, code, name in COST_CODES:
        parent = story.procore_call("POST", "/rest/v1.0/cost_codes", {
            "project_id": pid, "cost_code": {"code": division, "name": division_name}})
        codes[f"{division}-{code}"] = story.procore_call("POST", "/rest/v1.0/cost_codes", {
            "project_id": pid, "cost_code": {"code": code, "name": name,
                                             "parent_id": parent["id"]}})["id"]
    types = {t["code"]: t["id"] for t in story.procore_call(
        "GET", f"/rest/v1.0/line_item_types?company_id={story.company}")}

    def add_line(code: str, cost_type: str, amount: float) -> int:
        return int(story.procore_call("POST", "/rest/v1.0/budget_line_items", {
            "project_id": pid, "budget_line_item": {
                "cost_code_id": codes[code], "line_item_type_id": types[cost_type],
                "original_budget_amount": amount}})["id"])

    lines = {(code, cost_type): add_line(code, cost_type, amount)
             for code, cost_type, amount in BUDGET}
    story.procore_call("POST", f"/rest/v1.0/projects/{pid}/budget/lock")
    total = sum(money(amount) for *_, amount in BUDGET)
    story.step(f"PM sets up cost codes {', '.join(SAGE_CODES)} on project {pid}, enters its "
               f"budget in Procore ({len(BUDGET)} lines, {total:,}) and locks it")
    story.refresh("phases")  # a job with phases would refuse the export (budget from Sage)
    story.step(f"admin refreshes the phases list: Sage job {job} has none, so its budget "
               "may come from Procore")
    item_id = f"budget-{pid}"
    sent = story.connector("POST", "/items/send", "pm", {"kind": "budget", "project_id": pid})
    if sent["status"] != "ready_to_export":
        raise DemoFailed(f"{item_id} is {sent['status']}: {'; '.join(sent.get('reasons', []))}")
    story.step(f"PM sends {item_id} to accounting: ready to export to Sage job {job}")
    started = time.monotonic()
    story.connector("POST", f"/items/{item_id}/accept", "approver")
    story.step(f"approver accepts {item_id}")
    synced = story.wait_for(item_id, "synced", "failed")
    seconds = time.monotonic() - started
    rows = bdglin(story.env["SAGE_DB"], job)
    wanted: dict[str, dict[str, Decimal]] = {}
    for code, cost_type, amount in BUDGET:
        row = wanted.setdefault(SAGE_CODES[code], dict.fromkeys(COLUMNS, money(0)))
        current, original = (("mat", "lab", "eqp", "sub")[SAGE_TYPES[cost_type] - 1] + suffix
                             for suffix in ("bdg", "org"))
        for column in (current, original, "ttlbdg", "ttlorg"):
            row[column] += money(amount)
    origins = {key: origin(story, line_id, pid) for key, line_id in lines.items()}
    expected = {(code, cost_type): f"bdglin:{job}:0:{SAGE_CODES[code]}:{SAGE_TYPES[cost_type]}"
                for code, cost_type in lines}
    story.rows.append([item_id, f"{job} budget", synced["status"],
                       f"bdglin {len(rows)} rows, {sum(r['ttlbdg'] for r in rows.values()):,}",
                       origins[("03-300", "M")], f"{seconds:.1f} s"])
    if synced["status"] != "synced" or rows != wanted or origins != expected:
        raise DemoFailed(f"{item_id} did not land: {synced.get('status_reason') or ''} "
                         f"Sage {rows} (wanted {wanted}); origin ids {origins}")
    for code, row in rows.items():
        story.step(f"Sage bdglin {code}: material {row['matbdg']:,} labor {row['labbdg']:,} "
                   f"equipment {row['eqpbdg']:,} subcontract {row['subbdg']:,} = "
                   f"{row['ttlbdg']:,} (original {row['ttlorg']:,})")
    change_story(story, pid, job, codes=codes, types=types, lines=lines, before=rows)
    return lines


def change_story(story: Story, pid: int, job: int, *, codes: dict[str, int],
                 types: dict[str, int], lines: dict[tuple[str, str], int],
                 before: dict[str, dict[str, Decimal]]) -> None:
    item_id = f"budget-{pid}"
    modifications = f"/rest/v1.0/projects/{pid}/budget_modifications"
    story.procore_call("POST", modifications, {"budget_modification": {
        "from_budget_line_item_id": lines[("05-120", "S")],
        "to_budget_line_item_id": lines[("03-300", "M")], "transfer_amount": "2500",
        "notes": "Steel package bought below budget; more concrete"}})
    painting = int(story.procore_call("POST", "/rest/v1.0/budget_line_items", {
        "project_id": pid, "budget_line_item": {
            "cost_code_id": codes["09-900"], "line_item_type_id": types["M"],
            "original_budget_amount": 0}})["id"])
    story.procore_call("POST", modifications, {"budget_modification": {
        "to_budget_line_item_id": painting, "transfer_amount": "1500",
        "notes": "Painting added after the budget was locked"}})
    story.step("PM moves 2,500 from 05-120 Subcontract to 03-300 Material (a budget "
               "modification) and adds 09-900 Material to the locked budget, funded with 1,500")
    total = sum(money(amount) for *_, amount in BUDGET) + money(1500)
    wait_budget(story, item_id, f"{total:.2f}")
    story.step(f"{item_id} is ready to export again: a change set")

    story.refresh("budgets")
    preview = story.connector("GET", f"/items/{item_id}/preview", "approver")
    view = {(v["cost_code"], v["cost_type"]): (v["sage_now"], v["after_export"], v["difference"])
            for v in preview.get("against_sage") or []}
    for (code, cost_type), (now, after, difference) in sorted(view.items()):
        story.step(f"preview: Sage {code} cost type {cost_type} now {now} -> {after} "
                   f"({difference})")
    wanted_view = {("3300.000", 1): ("42000.00", "44500.00", "2500.00"),
                   ("5120.000", 4): ("96000.00", "93500.00", "-2500.00"),
                   ("9900.000", 1): ("0.00", "1500.00", "1500.00")}
    if preview.get("command") != "change_budget" or view != wanted_view:
        raise DemoFailed(f"{item_id}: the preview is not the change set: {preview}")

    started = time.monotonic()
    story.connector("POST", f"/items/{item_id}/accept", "approver")
    story.step(f"approver accepts the change set of {item_id}")
    synced = story.wait_for(item_id, "synced", "failed")
    seconds = time.monotonic() - started
    after = bdglin(story.env["SAGE_DB"], job)
    moved = changed_cells(before, after)
    wanted = {("3300.000", "matbdg"): money(44500), ("3300.000", "ttlbdg"): money(63000.5),
              ("5120.000", "subbdg"): money(93500), ("5120.000", "ttlbdg"): money(97700),
              ("9900.000", "matbdg"): money(1500), ("9900.000", "ttlbdg"): money(1500)}
    shown = origin(story, painting, pid)
    story.rows.append([item_id, f"{job} change set", synced["status"],
                       f"bdglin {sum(k != 'ttlbdg' for _, k in moved)} cells moved", shown,
                       f"{seconds:.1f} s"])
    if (synced["status"] != "synced" or moved != wanted
            or shown != f"bdglin:{job}:0:9900.000:1"):
        raise DemoFailed(f"{item_id}: the change set did not land as previewed: "
                         f"{synced.get('status_reason') or ''} moved {moved}; origin {shown}")
    story.step(f"Sage moved only {', '.join(f'{c} {k}' for c, k in sorted(moved))}; "
               "originals and the other cells stayed")
