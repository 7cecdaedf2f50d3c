"""The real connector for a browser: the local stack (devstack.Stack) in a tmp dir on free
127.0.0.1 ports, plus what a browser test needs beside the page: Procore records made as a
user would (through the sandbox, firing webhooks), the connector's view over HTTP, the
embedded Sage, the relay agent process, tokens."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.stack import COMPANY_ID, HOST, Ports, Stack

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
WOC, POC = "work_order_contract", "purchase_order_contract"
SAGE_JOB = 24001  # the Sage job the demo project is linked to
USERS = ("admin", "approver", "pm", "viewer")  # devstack.stack.demo_users()
# The agent-silence rule's threshold (Settings.export_stale_seconds): low, so stopping the
# agent process shows the banner within seconds; the agent beats every second.
AGENT_SILENT_SECONDS = 5


class BrowserStack:
    """What the browser tests drive: ``api_url``, ``inbox_url``, ``sandbox``, ``sage``,
    ``stop_agent()``/``start_agent()``, ``mint(subject)``, ``call``, ``wait_for``,
    ``ready_commitment``."""

    def __init__(self, state_dir: Path) -> None:
        self.stack = Stack(ports=Ports.free(), state_dir=state_dir,
                           extra_environment={"EXPORT_STALE_SECONDS": str(AGENT_SILENT_SECONDS)},
                           agent_heartbeat_seconds=1)
        self._numbers = itertools.count(1)
        self.sage: Any = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> BrowserStack:
        from relay.sage.embedded import EmbeddedSage

        self.stack.start()
        self.sage = EmbeddedSage(self.stack.sage_db)
        return self

    def stop(self) -> None:
        self.stack.stop()

    # ---- where things are --------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.stack.ports.api}"

    @property
    def inbox_url(self) -> str:
        return f"{self.api_url}/inbox"

    @property
    def sandbox(self) -> Any:
        return self.stack.sandbox

    @property
    def demo(self) -> dict[str, Any]:
        return self.stack.demo

    @property
    def project(self) -> int:
        return int(self.demo["project_ids"]["main"])

    @property
    def agent_log(self) -> str:
        path = self.stack.state_dir / "agent.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    # ---- the relay agent process -------------------------------------------------------
    def stop_agent(self) -> int | None:
        return self.stack.stop_agent()

    def start_agent(self) -> None:
        self.stack.start_agent()

    # ---- the connector over HTTP -------------------------------------------------------
    def mint(self, subject: str) -> str:
        """A bearer token (the bare JWT) for a seeded user."""
        return self.stack.mint(subject)

    def call(self, method: str, path: str, who: str | None = "viewer",
             body: Any = None) -> tuple[int, Any]:
        """(status, JSON answer) of one API call as ``who`` (no token when None)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if who:
            headers["Authorization"] = f"Bearer {self.mint(who)}"
        request = urllib.request.Request(f"{self.api_url}{path}", data=data, headers=headers,
                                         method=method)
        try:
            with OPENER.open(request, timeout=15) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def item(self, item_id: str, who: str = "viewer") -> dict[str, Any] | None:
        status, body = self.call("GET", f"/items/{item_id}", who)
        return body if status == 200 else None

    def wait_for(self, item_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        """The item once the connector shows it in one of ``statuses``."""
        found: dict[str, Any] = {}

        def reached() -> Any:
            nonlocal found
            found = self.item(item_id) or {}
            return found if found.get("status") in statuses else None

        return until(reached, timeout, lambda: (
            f"{item_id} never reached {'/'.join(statuses)} (now {found.get('status')}: "
            f"{found.get('status_reason')}); agent log:\n{self.agent_log}"))

    def accept(self, item_id: str, who: str = "approver") -> dict[str, Any]:
        status, body = self.call("POST", f"/items/{item_id}/accept", who, {})
        assert status == 200, (status, body)
        return body

    # ---- Procore records (as a user in Procore's web app: webhooks fire) ---------------
    def number(self, prefix: str = "SC") -> str:
        """A number no other commitment has (the stack seeds SC-001 and PO-001)."""
        return f"B{prefix}-{next(self._numbers):03d}"  # <= 12 characters (Sage's limit)

    def cost_code(self, code: str, name: str) -> int:
        """A cost code in the demo project (made when missing); its Procore id."""
        codes = self.demo["cost_code_ids"]["main"]
        if code not in codes:
            codes[code] = self.sandbox.add_cost_code(self.project, code, name)["id"]
        return int(codes[code])

    def commitment(self, kind: str = WOC, *, number: str | None = None,
                   title: str = "Browser test work", vendor: str = "concrete",
                   lines: list[tuple[str, str, str, str]] | None = None) -> dict[str, Any]:
        """A commitment made as a draft, given its lines, then approved (as demo.py does)."""
        codes = self.demo["cost_code_ids"]["main"]
        types = self.demo["line_item_type_ids"]
        record = self.sandbox.create_commitment(
            kind, self.project, number=number or self.number("SC" if kind == WOC else "PO"),
            title=title, status="Draft", vendor_id=self.demo["vendor_ids"][vendor],
            retainage_percent="10")
        for description, amount, code, cost_type in lines or [
                ("Footings", "48000", "03-300", "S"), ("Slab", "12500.50", "03-300", "L")]:
            self.sandbox.add_line_item(kind, record["id"], description=description,
                                       amount=amount, cost_code_id=codes[code],
                                       line_item_type_id=types[cost_type])
        self.sandbox.update_commitment(kind, record["id"], status="Approved")
        return record

    def ready_commitment(self, kind: str = WOC, **fields: Any) -> tuple[str, dict[str, Any]]:
        """A commitment approved in Procore and shown ready to export by the connector:
        (item id, the item as the API shows it)."""
        record = self.commitment(kind, **fields)
        item_id = f"commitment-{record['id']}"
        return item_id, self.wait_for(item_id, "ready_to_export")

    def subcontract_in_sage(self, number: str) -> dict[str, str] | None:
        return self.sage.find_subcontract(SAGE_JOB, number)


def until(condition: Callable[[], Any], timeout: float = 30,
          describe: Callable[[], str] | None = None, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(describe() if describe else
                                 f"condition not met within {timeout:.0f} s")
        time.sleep(every)


__all__ = ["COMPANY_ID", "POC", "USERS", "WOC", "BrowserStack", "until"]
