"""`make demo`: the main story over real HTTP, against the running local stack (or one it
starts), with a summary table; exit 0 only when everything landed.

1. A project manager creates a subcontract and a purchase order in Procore (the sandbox's
   REST API, as the Procore web app would) and approves them; Procore fires webhooks.
2. Both appear in the accounting inbox as ready to export.
3. The approver accepts the subcontract and rejects the purchase order with a reason.
4. The project manager fixes the purchase order's cost code in Procore and resends it;
   the approver accepts it.
5. Both land in Sage (the embedded company database) and their Sage ids come back to
   Procore as origin ids.
6. Setup both ways: the accountant adds a job in Sage and an admin adds it to Procore; a
   Procore project is exported to Sage as a new job; a Sage vendor is linked to its
   Procore company from a ranked suggestion; a Procore company is exported as a vendor.
7. A budget exported: on the project just exported as a new job (no phases), the project
   manager enters and locks a budget in Procore and sends it; the approver accepts; Sage
   gets its bdglin rows and each Procore line item its Sage cell as origin id.
8. A change set: a budget modification and a line added to the locked budget make the
   budget ready again; the approver previews Sage now against after the export and
   accepts; only the changed cells move in Sage (devstack/demo_budget.py).
9. A commitment change order: the project manager creates a CCO on the synced subcontract
   in Procore (one line changing a SOV line, one new line) and approves it; the approver
   accepts; Sage gets a change order (prmchg + sbcgln), the subcontract's totals and lines
   move by the CCO total, and the CCO gets the Sage change order as origin id
   (devstack/demo_cco.py).
10. A subcontractor invoice: on the same subcontract, the project manager creates an
   approved invoice in Procore in an open billing period covering today (work completed on
   two SOV lines, 10% retainage) and, admin on the Invoicing tool, sends it (Procore fires
   no webhook for invoices); the approver accepts; Sage gets a payable invoice (acpinv +
   apivln + jobcst) posted to this month with the retention, the subcontract's invoiced
   total and lines' billed amounts move, and the invoice gets the Sage invoice as origin id
   (devstack/demo_invoice.py).
11. Left waiting in the inbox for a person to open: a subcontract, a budget change set
   and a subcontractor invoice, ready to export (devstack/demo_waiting.py). The demo ends
   pointing at the inbox; a stack the demo started itself stays up on a terminal until
   Ctrl-C (`python -m devstack demo --exit` stops it at once, as without a terminal).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, TextIO

from devstack import stack as devstack

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


class DemoFailed(RuntimeError):
    pass


def http(method: str, url: str, *, token: str | None = None, body: Any = None,
         form: dict[str, str] | None = None, company: int | None = None) -> Any:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if company is not None:
        headers["Procore-Company-Id"] = str(company)
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with OPENER.open(request, timeout=15) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        raise DemoFailed(f"{method} {url} -> {exc.code}: {exc.read()[:300]!r}") from exc
    return json.loads(raw) if raw else None


@dataclass
class Story:
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    rows: list[list[str]] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (item id, what it is)
    out: TextIO = field(default_factory=lambda: sys.stdout)

    @property
    def api(self) -> str:
        return self.env["CONNECTOR_URL"]

    @property
    def procore(self) -> str:
        return self.env["SANDBOX_URL"]

    @property
    def company(self) -> int:
        return int(self.env["PROCORE_COMPANY_ID"])

    def procore_call(self, method: str, path: str, body: Any = None) -> Any:
        if "procore" not in self.tokens:
            self.tokens["procore"] = http("POST", f"{self.procore}/oauth/token", form={
                "grant_type": "client_credentials", "client_id": self.env["DEMO_CLIENT_ID"],
                "client_secret": self.env["DEMO_CLIENT_SECRET"]})["access_token"]
        return http(method, f"{self.procore}{path}", token=self.tokens["procore"], body=body,
                    company=self.company)

    def connector(self, method: str, path: str, who: str, body: Any = None) -> Any:
        if who not in self.tokens:
            self.tokens[who] = devstack.mint(who)
        return http(method, f"{self.api}{path}", token=self.tokens[who], body=body)

    def wait_for(self, item_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        item: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                item = self.connector("GET", f"/items/{item_id}", "viewer")
            except DemoFailed:
                item = {}
            if item.get("status") in statuses:
                return item
            time.sleep(0.2)
        raise DemoFailed(f"{item_id} did not reach {'/'.join(statuses)} within {timeout:.0f} s "
                         f"(now {item.get('status')}: {item.get('status_reason') or ''})")

    def step(self, text: str) -> None:
        print(f"  - {text}", file=self.out, flush=True)

    # ---- the story ---------------------------------------------------------------------
    def run(self) -> None:
        company = self.company
        project = next(p for p in self.procore_call(
            "GET", f"/rest/v1.0/projects?company_id={company}")
            if p.get("project_number") == "2024-001")
        pid = project["id"]
        vendors = {v["name"]: v["id"] for v in self.procore_call(
            "GET", f"/rest/v1.0/vendors?company_id={company}")}
        codes = {c["full_code"]: c["id"] for c in self.procore_call(
            "GET", f"/rest/v1.0/cost_codes?project_id={pid}")}
        types = {t["code"]: t["id"] for t in self.procore_call(
            "GET", f"/rest/v1.0/line_item_types?company_id={company}")}
        suffix = f"{int(time.time()) % 100000:05d}"

        self.step(f"PM creates subcontract SC-{suffix} and purchase order PO-{suffix} in "
                  f"Procore project {project['name']}")
        sub = self.procore_call("POST", "/rest/v1.0/work_order_contracts", {
            "project_id": pid, "work_order_contract": {
                "number": f"SC-{suffix}", "title": "Foundations", "status": "Draft",
                "vendor_id": vendors["Granite Bay Concrete"], "retainage_percent": "10"}})
        for description, amount, code, cost_type in (
                ("Footings", "48000", "03-300", "S"), ("Slab on grade", "36250.75", "03-300",
                                                       "S")):
            self.procore_call("POST", f"/rest/v1.0/work_order_contracts/{sub['id']}/line_items",
                              {"project_id": pid, "line_item": {
                                  "description": description, "amount": amount,
                                  "cost_code_id": codes[code],
                                  "line_item_type_id": types[cost_type]}})
        po = self.procore_call("POST", "/rest/v1.0/purchase_order_contracts", {
            "project_id": pid, "purchase_order_contract": {
                "number": f"PO-{suffix}", "title": "Rebar", "status": "Draft",
                "vendor_id": vendors["Summit Steel Supply"]}})
        po_line = self.procore_call(
            "POST", f"/rest/v1.0/purchase_order_contracts/{po['id']}/line_items",
            {"project_id": pid, "line_item": {
                "description": "#5 rebar", "amount": "12500", "quantity": 25,
                "unit_cost": "500", "cost_code_id": codes["09-900"],
                "line_item_type_id": types["M"]}})
        self.step("PM approves both; Procore sends webhooks to the connector")
        for path, key, record in (("work_order_contracts", "work_order_contract", sub),
                                  ("purchase_order_contracts", "purchase_order_contract", po)):
            self.procore_call("PATCH", f"/rest/v1.0/{path}/{record['id']}", {
                "project_id": pid, key: {"status": "Approved"}})
        sub_id, po_id = f"commitment-{sub['id']}", f"commitment-{po['id']}"
        self.wait_for(sub_id, "ready_to_export")
        self.wait_for(po_id, "ready_to_export")
        self.step("both are in the accounting inbox, ready to export")

        started = time.monotonic()
        self.connector("POST", f"/items/{sub_id}/accept", "approver")
        self.step(f"approver accepts {sub_id}")
        self.connector("POST", f"/items/{po_id}/reject", "approver", {
            "reason": "Rebar belongs on 05-120 Structural Steel, not 09-900 Painting"})
        self.step(f"approver rejects {po_id}: wrong cost code")
        synced_sub = self.wait_for(sub_id, "synced", "failed")
        sub_seconds = time.monotonic() - started

        self.procore_call(
            "PATCH", f"/rest/v1.0/purchase_order_contracts/{po['id']}/line_items/"
            f"{po_line['id']}", {"project_id": pid, "line_item": {
                "cost_code_id": codes["05-120"]}})
        self._wait_snapshot(po_id, "05-120")
        self.connector("POST", f"/items/{po_id}/resend", "pm")
        self.step("PM fixes the cost code in Procore and resends the purchase order")
        started = time.monotonic()
        self.connector("POST", f"/items/{po_id}/accept", "approver")
        self.step(f"approver accepts {po_id}")
        synced_po = self.wait_for(po_id, "synced", "failed")
        po_seconds = time.monotonic() - started

        self._check(synced_sub, "work_order_contracts", sub["id"], pid, sub_seconds)
        self._check(synced_po, "purchase_order_contracts", po["id"], pid, po_seconds)
        exported_project, job = self.setup_story(suffix)

        from devstack.demo_budget import budget_story

        budget_lines = budget_story(self, exported_project, job)

        from devstack.demo_cco import cco_story

        cco_story(self, pid, sub["id"], po["id"], synced_sub)

        from devstack.demo_invoice import invoice_story

        invoice_story(self, pid, sub["id"], synced_sub, suffix)

        from devstack.demo_waiting import waiting_story

        self.waiting = waiting_story(self, pid, exported_project, budget_lines, suffix)

    # ---- setup both ways -----------------------------------------------------------------
    def refresh(self, list_name: str) -> None:
        state = self.connector("POST", f"/erp/lists/{list_name}/refresh", "admin")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pulls = self.connector("GET", "/erp/lists", "viewer")["pulls"][list_name]
            if pulls.get("run_id") == state["run_id"] and pulls.get("status") == "complete":
                return
            if pulls.get("status") == "failed":
                raise DemoFailed(f"pulling {list_name} failed: {pulls.get('error')}")
            time.sleep(0.2)
        raise DemoFailed(f"the {list_name} list never arrived from Sage")

    def setup_story(self, suffix: str) -> tuple[int, int]:
        """Step 6; returns the Procore project exported as a new job, and the job."""
        from relay.sage.embedded import EmbeddedSage

        sage = EmbeddedSage(self.env["SAGE_DB"])
        job = 25000 + int(suffix) % 1000
        sage.seed_job(job, f"Harbor Fire Station {suffix}", skip_existing=True)
        self.step(f"accountant adds job {job} in Sage; admin refreshes the jobs list")
        self.refresh("jobs")
        added = self.connector("POST", f"/erp/jobs/{job}/add-to-procore", "admin")
        self.step(f"admin adds Sage job {job} to Procore: project {added['project']['id']}")
        self.rows.append([f"project-{added['project']['id']}", str(job), "linked",
                          f"actrec {job}", str(added["project"]["origin_id"]), "-"])

        project = self.procore_call("POST", "/rest/v1.0/projects", {
            "company_id": self.company, "project": {
                "name": f"Elm Street Library {suffix}", "project_number": f"26-{suffix}",
                "city": "Fresno", "state_code": "CA"}})
        item = self.connector("POST", "/items/send", "admin",
                              {"kind": "project", "procore_id": project["id"]})
        self.step(f"PM's project {project['name']} is sent to Sage (proposed job "
                  f"{item['snapshot']['proposed_job_number']})")
        started = time.monotonic()
        self.connector("POST", f"/items/{item['id']}/accept", "approver")
        synced = self.wait_for(item["id"], "synced", "failed")
        number = synced["accepted_with"]["sage_job_number"]
        found = sage.find_job(number)
        origin = self.procore_call("GET", f"/rest/v1.0/projects/{project['id']}"
                                          f"?company_id={self.company}")
        self.rows.append([item["id"], str(number), synced["status"],
                          f"actrec {found['actrec']}" if found else "missing",
                          str(origin.get("origin_id")), f"{time.monotonic() - started:.1f} s"])
        if synced["status"] != "synced" or not found:
            raise DemoFailed(f"{item['id']} did not land: {synced.get('status_reason')}")

        self.refresh("vendors")
        suggestions = self.connector("GET", "/erp/vendors/suggestions", "admin")["suggestions"]
        if not suggestions:
            raise DemoFailed("no vendor suggestions to link from")
        best = suggestions[0]
        self.connector("POST", "/links/vendors", "admin",
                       {"procore_id": best["procore_company"], "sage_key": best["sage_vendor"]})
        self.step(f"admin links Sage vendor {best['sage_vendor']} '{best['sage_name']}' to "
                  f"'{best['procore_name']}' ({', '.join(best['reasons'])})")
        linked = self.procore_call("GET", f"/rest/v1.0/vendors/{best['procore_company']}"
                                          f"?company_id={self.company}")
        self.rows.append([f"vendor-{best['procore_company']}", str(best["sage_vendor"]),
                          "linked", f"actpay {best['sage_vendor']}",
                          str(linked.get("origin_id")), "-"])
        if str(linked.get("origin_id")) != str(best["sage_vendor"]):
            raise DemoFailed("the vendor link did not reach Procore")

        companies = self.procore_call("GET", f"/rest/v1.0/vendors?company_id={self.company}")
        plumbing = next(c for c in companies if c["name"].startswith("Valley Plumbing"))
        item = self.connector("POST", "/items/send", "admin",
                              {"kind": "vendor", "procore_id": plumbing["id"]})
        self.step(f"'{plumbing['name']}' is sent to Sage as a new vendor")
        started = time.monotonic()
        self.connector("POST", f"/items/{item['id']}/accept", "approver")
        synced = self.wait_for(item["id"], "synced", "failed")
        key = (synced.get("sage_keys") or {}).get("actpay")
        origin = self.procore_call("GET", f"/rest/v1.0/vendors/{plumbing['id']}"
                                          f"?company_id={self.company}")
        self.rows.append([item["id"], str(key), synced["status"],
                          f"actpay {key}" if key else "missing", str(origin.get("origin_id")),
                          f"{time.monotonic() - started:.1f} s"])
        if synced["status"] != "synced" or sage.find_vendor(int(key), "") is None:
            raise DemoFailed(f"{item['id']} did not land: {synced.get('status_reason')}")
        return int(project["id"]), int(number)

    def _wait_snapshot(self, item_id: str, code: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            item = self.connector("GET", f"/items/{item_id}", "viewer")
            if any((line.get("cost_code") or {}).get("full_code") == code
                   for line in item["snapshot"]["lines"]):
                return
            time.sleep(0.2)
        raise DemoFailed(f"{item_id}: the fix never arrived from Procore")

    def _check(self, item: dict[str, Any], path: str, procore_id: int, pid: int,
               seconds: float) -> None:
        from relay.sage.embedded import EmbeddedSage

        sage = EmbeddedSage(self.env["SAGE_DB"])
        number = item["snapshot"]["number"]
        if path == "work_order_contracts":
            keys = sage.find_subcontract(24001, number)
            record = f"subcon {keys['subcon']}" if keys else "missing"
        else:
            keys = sage.find_purchase_order(number)
            record = f"pchord {keys['pchord']}" if keys else "missing"
        origin = self.procore_call("GET", f"/rest/v1.0/{path}/{procore_id}?project_id={pid}")
        self.rows.append([item["id"], number, item["status"], record,
                          str(origin.get("origin_id")), f"{seconds:.1f} s"])
        if item["status"] != "synced" or keys is None or not origin.get("origin_id"):
            raise DemoFailed(f"{item['id']} did not land: {item.get('status_reason')}")

    def table(self) -> str:
        head = ["item", "number", "status", "Sage record", "Procore origin_id",
                "accept -> synced"]
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(len(head))]
        lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                 for row in [head, ["-" * w for w in widths], *self.rows]]
        return "\n".join(lines)


def running_environment() -> dict[str, str] | None:
    path = devstack.STATE_DIR / "stack.json"
    if not path.exists():
        return None
    env = {k: str(v) for k, v in json.loads(path.read_text()).items()}
    try:
        http("GET", f"{env['CONNECTOR_URL']}/health")
    except (DemoFailed, OSError):
        return None
    return env


def main(stay: bool | None = None) -> int:
    """The story against the running stack, or one started for it (kept up afterwards, for
    the inbox, when ``stay``: by default when stdin is a terminal)."""
    terminal = sys.stdout  # a stack started here sends sys.stdout to its log files
    env = running_environment()
    started = None
    if env is None:
        print("no local stack is running: starting one for the demo (its logs: "
              f"{devstack.STATE_DIR / 'logs'})", flush=True)
        started = devstack.Stack(log_dir=devstack.STATE_DIR / "logs")
        started.start()
        env = running_environment()
        assert env is not None
    print(f"demo against {env['CONNECTOR_URL']} (Procore sandbox {env['SANDBOX_URL']})",
          file=terminal)
    story = Story(env, out=terminal)
    try:
        story.run()
        print("\n" + story.table() + "\n\nall landed", file=terminal, flush=True)
        from devstack.demo_waiting import stay_up, summary

        print("\n" + summary(f"{env['CONNECTOR_URL']}/inbox", story.waiting), file=terminal,
              flush=True)
        if started is not None:
            stay_up(stay if stay is not None else sys.stdin.isatty(), terminal)
        return 0
    except DemoFailed as exc:
        if story.rows:
            print("\n" + story.table(), file=terminal)
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if started is not None:
            started.stop()
            (devstack.STATE_DIR / "stack.json").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
