"""Lists pulled from Sage (jobs, vendors, cost codes, cost types, phases).

A pull is one relay command answered by pages of rows. Rows are upserted page by page
with the pull's run id; when the last page arrives, rows the run did not see are removed
(deleted in Sage). Pulls are requested by people (refresh) or by the schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import utc_now
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Command, CommandType, PullPayload, Result

PULL_FOR_LIST: dict[str, CommandType] = {
    "jobs": CommandType.PULL_JOBS, "vendors": CommandType.PULL_VENDORS,
    "cost_codes": CommandType.PULL_COST_CODES, "cost_types": CommandType.PULL_COST_TYPES,
    "phases": CommandType.PULL_PHASES,
}
# Minutes between scheduled pulls unless the company's sync schedule says otherwise
# (Procore's hh2 sync reads Sage about every 5 minutes; lists change rarely).
DEFAULT_SCHEDULE_MINUTES: dict[str, int] = {"jobs": 60, "vendors": 60, "cost_codes": 240,
                                            "cost_types": 1440, "phases": 60}


def due_lists(schedule: Mapping[str, int], states: Mapping[str, Mapping[str, Any]],
              now: str) -> list[str]:
    """Lists whose scheduled pull is due: never pulled, or last requested an interval ago.

    A schedule of 0 minutes turns a list's scheduled pull off (refresh still works).
    """
    due = []
    for name in PULL_FOR_LIST:
        minutes = int(schedule.get(name, DEFAULT_SCHEDULE_MINUTES[name]))
        if minutes <= 0:
            continue
        last = (states.get(name) or {}).get("requested_at")
        if last is None or _minutes_between(last, now) >= minutes:
            due.append(name)
    return due


def _minutes_between(start: str, end: str) -> float:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return (parse(end) - parse(start)).total_seconds() / 60


class ErpLists:
    def __init__(self, store: ItemStore, commands: FifoQueue,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.commands = commands
        self.clock = clock

    def request(self, company_id: int, list_name: str, actor: str) -> dict[str, Any]:
        now = self.clock()
        run_id = now.replace("-", "").replace(":", "").replace(".", "")
        command = Command(command_id=f"{company_id}:pull:{list_name}:{run_id}",
                          company_id=company_id, type=PULL_FOR_LIST[list_name],
                          item_id=f"pull:{list_name}", export_version=0,
                          payload=PullPayload().model_dump(mode="json"), issued_at=now)
        self.commands.send(command.model_dump(mode="json"),
                           deduplication_id=command.command_id,
                           group_id=f"{company_id}:pulls")
        state = {**self.store.get_pull_state(company_id, list_name), "requested_at": now,
                 "requested_by": actor, "run_id": run_id, "status": "requested"}
        self.store.put_pull_state(company_id, list_name, state)
        count("PullsRequested")
        return state

    def request_due(self, company_id: int) -> list[str]:
        settings = self.store.get_company_settings(company_id)
        states = {name: self.store.get_pull_state(company_id, name) for name in PULL_FOR_LIST}
        due = due_lists(settings.get("sync_schedule", {}), states, self.clock())
        for name in due:
            self.request(company_id, name, "system:schedule")
        return due

    def handle_page(self, result: Result) -> str:
        list_name = result.item_id.removeprefix("pull:")
        run_id = result.command_id.rsplit(":", 1)[-1]
        state = self.store.get_pull_state(result.company_id, list_name)
        if not result.ok:
            error = result.error
            state.update(status="failed", failed_at=self.clock(),
                         error=f"{error.code} {error.message}" if error else "failed")
            self.store.put_pull_state(result.company_id, list_name, state)
            logger.error("pull failed", list=list_name, error=state["error"])
            return "pull_failed"
        rows = result.data or []
        self.store.put_erp_rows(result.company_id, list_name, rows, run_id)
        state["rows_seen"] = (state.get("rows_seen", 0) if state.get("page_run") == run_id
                              else 0) + len(rows)
        state["page_run"] = run_id
        if result.more:
            state["status"] = "receiving"
        else:
            removed = self.store.sweep_erp_rows(result.company_id, list_name, run_id)
            state.update(status="complete", completed_at=self.clock(), removed=removed,
                         rows=state["rows_seen"])
            count("PullsCompleted")
        self.store.put_pull_state(result.company_id, list_name, state)
        return "pull_page"

    def rows(self, company_id: int, list_name: str) -> list[dict[str, Any]]:
        return self.store.list_erp_rows(company_id, list_name)

    def states(self, company_id: int) -> dict[str, dict[str, Any]]:
        return {name: self.store.get_pull_state(company_id, name) for name in PULL_FOR_LIST}
