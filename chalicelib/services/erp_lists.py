"""Lists pulled from Sage (jobs, vendors, cost codes, cost types, phases, budget lines,
payments of payable invoices, commitments' totals, the owner side's receipts and
receivables).

A pull is one relay command (a *run*, its id a sortable timestamp) answered by pages of
rows, numbered 1..n, the last with ``more=False``. Rows are upserted page by page with
the run id; once every page 1..n of the run has arrived, in whatever order, rows the run
did not see are removed (deleted in Sage). Pulls are requested by people (refresh) or by
the schedule.

The list's pull state records which pages of its newest run arrived. Its life:

    requested -> receiving --(pages 1..last all here)--> sweeping -> complete
                     |                                      ^
                     | last here, some missing              | the missing arrive
                     +------------> incomplete -------------+
    failed: the agent reported an error (pages that still make the run whole sweep it)

A run whose pages never all arrive stays receiving/incomplete with ``missing_pages`` and
removes nothing; the next run supersedes it. A page or error of a run older than the
state's is dropped: it must not sweep, nor overwrite the newer run's rows or state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain import tax_ids
from chalicelib.domain.models import seconds_between, utc_now
from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Command, CommandType, PullPayload, Result
from chalicelib.settings import tax_id_key as deployment_tax_id_key

PULL_FOR_LIST: dict[str, CommandType] = {
    "jobs": CommandType.PULL_JOBS, "vendors": CommandType.PULL_VENDORS,
    "cost_codes": CommandType.PULL_COST_CODES, "cost_types": CommandType.PULL_COST_TYPES,
    "phases": CommandType.PULL_PHASES, "budgets": CommandType.PULL_BUDGETS,
    "payments": CommandType.PULL_PAYMENTS, "commitments": CommandType.PULL_COMMITMENTS,
    "receipts": CommandType.PULL_RECEIPTS,  # owner invoice receipts (acrpmt)
    # jobs' contracts and receivable invoices' totals (the reconciliation's owner side)
    "receivables": CommandType.PULL_RECEIVABLES,
}
# Minutes between scheduled pulls unless the company's sync schedule says otherwise
# (Procore's hh2 sync reads Sage about every 5 minutes; lists change rarely).
DEFAULT_SCHEDULE_MINUTES: dict[str, int] = {"jobs": 60, "vendors": 60, "cost_codes": 240,
                                            "cost_types": 1440, "phases": 60,
                                            "budgets": 60, "payments": 60,
                                            "commitments": 60, "receipts": 60,
                                            "receivables": 60}
# A pull state write lost to another consumer's is read and applied again this often.
PULL_STATE_ATTEMPTS = 5
# What describes one run's progress; a new run starts without them (the previous complete
# run's ``completed_at``, ``rows`` and ``removed`` stay until the new run completes).
RUN_FIELDS = ("pages", "last_page", "last_pages_differ", "unnumbered_pages",
              "unnumbered_rows", "unnumbered_last", "missing_pages", "rows_seen", "reason",
              "error", "failed_at", "page_run")
NOT_NUMBERED = ("the relay agent did not number its pages, so a missing one cannot be told; "
                "rows were kept and none removed (update the relay agent)")


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
        if last is None or seconds_between(last, now) / 60 >= minutes:
            due.append(name)
    return due


# ---- a pull's pages (pure: state in, state out; None when a newer run supersedes) --------
def for_run(state: Mapping[str, Any], run_id: str) -> dict[str, Any] | None:
    """The state to record news of ``run_id`` in.

    Same run: the state as it is. Newer run (its request's state write came late or was
    lost): a fresh start for it. Older run: None, the newer run owns the state.
    Run ids are ``ErpLists.request``'s timestamps, so their text order is their age.
    """
    current = state.get("run_id")
    if current is not None and run_id < current:
        return None
    if current == run_id:
        return dict(state)
    return {**{k: v for k, v in state.items() if k not in RUN_FIELDS},
            "run_id": run_id, "status": "requested"}


def record_request(state: Mapping[str, Any], run_id: str, now: str,
                   actor: str) -> dict[str, Any] | None:
    run = for_run(state, run_id)
    return None if run is None else {**run, "requested_at": now, "requested_by": actor}


def record_page(state: Mapping[str, Any], run_id: str, page: int | None, more: bool,
                rows: int) -> dict[str, Any] | None:
    """Record that page ``page`` (``rows`` rows) of ``run_id`` arrived.

    Pages are kept by number, so a redelivered page counts once. A page without a number
    (agents before page numbers) is a whole run only when it says no more and nothing
    else of the run arrived; otherwise nobody can tell whether a page is missing, and the
    run never sweeps.
    """
    run = for_run(state, run_id)
    if run is None:
        return None
    pages = dict(run.get("pages") or {})
    if page is None and not more and not pages and not run.get("unnumbered_pages"):
        page = 1
    if page is None:
        run["unnumbered_pages"] = run.get("unnumbered_pages", 0) + 1
        run["unnumbered_rows"] = run.get("unnumbered_rows", 0) + rows
        run["unnumbered_last"] = run.get("unnumbered_last", False) or not more
    else:
        pages[str(page)] = rows
        if not more:
            if run.get("last_page") not in (None, page):
                run["last_pages_differ"] = True
            run["last_page"] = run.get("last_page") or page
    run["pages"] = pages
    run.setdefault("last_page", None)
    return _progress(run)


def _progress(run: dict[str, Any]) -> dict[str, Any]:
    """Missing pages, rows seen and the status that follow from the pages recorded."""
    pages: dict[str, int] = run["pages"]
    last: int | None = run["last_page"]
    top = max([last or 0, *(int(n) for n in pages)])
    run["missing_pages"] = [n for n in range(1, top + 1) if str(n) not in pages]
    run["rows_seen"] = sum(pages.values()) + run.get("unnumbered_rows", 0)
    reason = None
    if run.get("unnumbered_pages"):
        reason = NOT_NUMBERED
    elif run.get("last_pages_differ"):
        reason = "two pages each said they were the last; rows were kept and none removed"
    elif last is not None and top > last:
        reason = f"pages after the last ({last}) arrived; rows were kept and none removed"
    run.pop("reason", None)
    if reason:
        run["reason"] = reason
    if last is not None and not run["missing_pages"] and reason is None:
        # Every page 1..last is here: sweep, unless this run already did.
        run["status"] = "complete" if run.get("status") == "complete" else "sweeping"
    elif run.get("status") != "failed":
        run["status"] = ("incomplete" if last is not None or run.get("unnumbered_last")
                         else "receiving")
    return run


def record_failure(state: Mapping[str, Any], run_id: str, error: str,
                   now: str) -> dict[str, Any] | None:
    run = for_run(state, run_id)
    if run is None:
        return None
    if run.get("status") not in ("complete", "sweeping"):  # whole already: keep that
        run.update(status="failed", failed_at=now, error=error)
    return run


def record_sweep(state: Mapping[str, Any], run_id: str, removed: int,
                 now: str) -> dict[str, Any] | None:
    """The run's sweep is done; None when there is nothing to record (another consumer
    recorded it, or a newer run took over meanwhile)."""
    run = for_run(state, run_id)
    if run is None or run.get("status") != "sweeping":
        return None
    return {**run, "status": "complete", "completed_at": now, "removed": removed,
            "rows": run.get("rows_seen", 0)}


class ErpLists:
    def __init__(self, store: ItemStore, commands: FifoQueue,
                 clock: Callable[[], str] = utc_now,
                 tax_id_key: Callable[[], str] = deployment_tax_id_key) -> None:
        self.store = store
        self.commands = commands
        self.clock = clock
        self.tax_id_key = tax_id_key
        # What runs when a list's run completes (e.g. budget imports waiting for Sage's
        # budget lines); a failure there is logged and left to the hook's own retry.
        self.on_complete: dict[str, Callable[[int], object]] = {}

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
        # After the send: a failed send leaves no run that never comes. Pages that beat
        # this write have started the run already; it only adds who asked and when.
        state = self._change_state(company_id, list_name,
                                   lambda s: record_request(s, run_id, now, actor))
        count("PullsRequested")
        return state if state is not None else self.states(company_id)[list_name]

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
        company_id = result.company_id
        if for_run(self.store.get_pull_state(company_id, list_name), run_id) is None:
            return self._superseded(list_name, run_id)
        if not result.ok:
            error = result.error
            message = f"{error.code} {error.message}" if error else "failed"
            now = self.clock()
            if self._change_state(company_id, list_name,
                                  lambda s: record_failure(s, run_id, message, now)) is None:
                return self._superseded(list_name, run_id)
            logger.error("pull failed", list=list_name, run_id=run_id, error=message)
            return "pull_failed"
        rows = self._kept(list_name, result.data or [])
        # Rows first, then the page in the state: a page recorded is a page stored, so
        # the sweep never removes a row of this run.
        self.store.put_erp_rows(company_id, list_name, rows, run_id)
        state = self._change_state(company_id, list_name, lambda s: record_page(
            s, run_id, result.page, result.more, len(rows)))
        if state is None:
            return self._superseded(list_name, run_id)
        if state["status"] == "sweeping":
            # Also reached again when a sweep was cut short (the page is redelivered):
            # removing what the run did not see twice removes nothing more.
            removed = self.store.sweep_erp_rows(company_id, list_name, run_id)
            now = self.clock()
            if self._change_state(company_id, list_name,
                                  lambda s: record_sweep(s, run_id, removed, now)) is not None:
                count("PullsCompleted")
                self._completed(company_id, list_name)
        elif state["status"] == "incomplete":
            logger.warning("pull incomplete; nothing removed", list=list_name, run_id=run_id,
                           missing_pages=state["missing_pages"], reason=state.get("reason"))
        return "pull_page"

    def _kept(self, list_name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows as the cache keeps them: a vendor's tax id never in clear (its last four,
        keyed fingerprint and length instead; tax_ids)."""
        if list_name != "vendors" or not any(r.get("tax_id") for r in rows):
            return rows
        key = self.tax_id_key()
        return [tax_ids.protect_row(r, key) for r in rows]

    def request_vendor_row(self, company_id: int, item_id: str) -> str:
        """Read Sage's vendor list again for one vendor's clear tax id, answered to
        ``item_id`` (a results read handler; the rows travel in SQS only, never cached)."""
        now = self.clock()
        run_id = now.replace("-", "").replace(":", "").replace(".", "")
        command = Command(command_id=f"{company_id}:{item_id}:{run_id}",
                          company_id=company_id, type=CommandType.PULL_VENDORS,
                          item_id=item_id, export_version=0,
                          payload=PullPayload().model_dump(mode="json"), issued_at=now)
        self.commands.send(command.model_dump(mode="json"),
                           deduplication_id=command.command_id,
                           group_id=f"{company_id}:pulls")
        return command.command_id

    def _completed(self, company_id: int, list_name: str) -> None:
        hook = self.on_complete.get(list_name)
        if hook is None:
            return
        try:
            hook(company_id)
        except Exception:  # noqa: BLE001 - the hook keeps its state; the schedule retries
            logger.exception("after-pull step failed; it runs again on the schedule",
                             list=list_name)
            count("PullHooksFailed")

    def _superseded(self, list_name: str, run_id: str) -> str:
        logger.info("pull result of a superseded run dropped", list=list_name, run_id=run_id)
        count("PullPagesSuperseded")
        return "pull_superseded"

    def _change_state(self, company_id: int, list_name: str,
                      change: Callable[[dict[str, Any]], dict[str, Any] | None],
                      ) -> dict[str, Any] | None:
        """Read the pull state, apply ``change``, write it over the version read.

        Results come from one FIFO group, so two consumers rarely record pages of a list
        at once; when they do, the write that lost is read and applied again (bounded,
        then SQS redelivers the message). None when ``change`` had nothing to write.
        """
        for _ in range(PULL_STATE_ATTEMPTS):
            state = self.store.get_pull_state(company_id, list_name)
            version = state.pop("version", 0)
            new = change(state)
            if new is None:
                return None
            try:
                self.store.put_pull_state(company_id, list_name, new,
                                          expected_version=version)
            except StaleItem:
                continue
            return new
        raise ServiceUnavailable(f"the {list_name} pull state kept changing; the result "
                                 "will be retried")

    def rows(self, company_id: int, list_name: str) -> list[dict[str, Any]]:
        return self.store.list_erp_rows(company_id, list_name)

    def states(self, company_id: int) -> dict[str, dict[str, Any]]:
        """Each list's pull state (its record version is the store's business)."""
        return {name: _without_version(self.store.get_pull_state(company_id, name))
                for name in PULL_FOR_LIST}


def _without_version(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "version"}
