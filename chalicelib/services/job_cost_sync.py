"""Job cost transactions from Sage into Procore Direct Costs, per enabled project
("Sync Job Cost Transactions from an Integrated ERP into Procore").

A *run* walks the linked job's jobcst rows changed since the project's cursor, one page
(up to 1,000 rows) per relay command:

    start: Procore edits found, rows to retry sent again, page 1 asked for (until=None)
    each page's Result: rows -> Procore (job_cost_pages) -> cursor advanced (conditional
        write) -> the next page asked for, with the run's cap (``until``) the agent set
    the last page: the run ends; the next run starts from the cursor

The cursor advances only after Procore accepted the page: a crash before the write
leaves the old cursor and the Result on the queue (SQS retries it; the page's calls are
syncs by origin id, so sending it twice changes nothing twice). A Result that is not the
page the run waits for (a repeat, or of an older run) is ignored. A run whose page never
came (the agent was off, a send was lost) is asked again by the schedule after
STALE_MINUTES; a Sage error ends the run as failed with Sage's words, and the next
scheduled run starts again from the cursor.

Procore edits: at a run's start the project's direct costs updated after the newest
write the connector made (its watermark, Procore's own clock) and carrying a jobcst
origin id are recorded as edited in Procore: they are what the next change in Sage will
overwrite, listed in the project's job cost view; an overwrite is recorded with both
values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.adapters.store_job_costs import bucket_of
from chalicelib.domain import job_costs
from chalicelib.domain.budgets import money
from chalicelib.domain.job_costs import CodeMap
from chalicelib.domain.models import parse_utc, seconds_between, utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.errors import Conflict, ServiceUnavailable
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Command, CommandType, JobCostPullPayload, Result
from chalicelib.services import sage_codes
from chalicelib.services.job_cost_pages import PageOutcome, sync_page

STATE_ATTEMPTS = 5
STALE_MINUTES = 15  # a page asked for longer ago than this is asked for again
DEFAULT_SCHEDULE_MINUTES = 30  # Procore's connector reads hh2 every 30 minutes
RETRY_PER_RUN = 1000  # rows waiting for a mapping tried again at each run's start
# Rows kept for retrying (the state record must stay far under DynamoDB's 400 KB); rows
# beyond wait in the unsyncable report, and the project's view says how many.
RETRY_KEPT_MAX = 20_000
KEPT_OVERWRITES = 200  # the newest overwrites the project's view lists
PAGE_SIZE = 1000


class JobCostSync:
    def __init__(self, store: ItemStore, commands: FifoQueue,
                 procore_for: Callable[[int], ProcoreClient], cost_types: Mapping[str, int],
                 clock: Callable[[], str] = utc_now, *, page_size: int = PAGE_SIZE) -> None:
        self.store = store
        self.commands = commands
        self.procore_for = procore_for
        self.cost_types = cost_types
        self.clock = clock
        self.page_size = page_size

    # ---- people ------------------------------------------------------------------------
    def set_enabled(self, user: User, project_id: int, enabled: bool) -> dict[str, Any]:
        require(user, Permission.SYNC_JOB_COSTS)
        company_id = user.company_id
        link = self.store.get_link(company_id, "project", project_id)
        if enabled and link is None:
            raise Conflict(f"project {project_id} is not linked to a Sage job; link it (or "
                           "add it to Sage) before syncing its job costs")

        def change(state: dict[str, Any]) -> dict[str, Any]:
            now = self.clock()
            state.update(enabled=enabled, changed_by=user.subject, changed_at=now)
            if link is not None:
                if state.get("job") not in (None, link.sage_key):
                    state.update(cursor=None, run=None)  # linked to another job: start over
                state["job"] = link.sage_key
            if not enabled:
                state["run"] = None
            return state

        state = self._change(company_id, project_id, change)
        logger.info("job cost sync set", project_id=project_id, enabled=enabled,
                    by=user.subject)
        return self.view_of(state)

    def view(self, user: User, project_id: int) -> dict[str, Any]:
        require(user, Permission.SYNC_JOB_COSTS)
        return self.view_of(self.store.get_job_cost_sync(user.company_id, project_id))

    def request(self, user: User, project_id: int | None) -> dict[str, Any]:
        """On demand: one project, or every enabled one; what was queued and why not."""
        require(user, Permission.SYNC_JOB_COSTS)
        company_id = user.company_id
        if project_id is not None:
            state = self.store.get_job_cost_sync(company_id, project_id)
            if not state.get("enabled"):
                raise Conflict(f"job cost sync is not enabled for project {project_id}; "
                               "enable it first (PUT /projects/{P}/job-cost-sync)")
            projects = [project_id]
        else:
            projects = [int(s["project_id"]) for s in
                        self.store.list_job_cost_syncs(company_id) if s.get("enabled")]
        answers = {p: self.start(company_id, p, user.subject) for p in projects}
        return {"queued": [p for p, a in answers.items() if a in ("queued", "resumed")],
                "running": [p for p, a in answers.items() if a == "running"],
                "projects": {str(p): a for p, a in answers.items()}}

    @staticmethod
    def view_of(state: Mapping[str, Any]) -> dict[str, Any]:
        run = state.get("run") or None
        return {"project_id": state.get("project_id"), "job": state.get("job"),
                "enabled": bool(state.get("enabled")),
                "changed_by": state.get("changed_by"), "changed_at": state.get("changed_at"),
                "running": run is not None,
                "run": None if run is None else {
                    k: run.get(k) for k in ("id", "started_at", "started_by", "page",
                                            "asked_at", "rows", "synced", "unsyncable")},
                "last_run": state.get("last_run"),
                "waiting_for_mapping": len(state.get("retry") or []),
                "not_retried": state.get("retry_dropped", 0),
                "edited_in_procore": sorted((state.get("procore_edits") or {}).values(),
                                            key=lambda e: str(e.get("updated_at"))),
                "overwritten": list(state.get("overwritten") or [])}

    # ---- the schedule --------------------------------------------------------------------
    def run_due(self, company_id: int, schedule_minutes: int | None = None) -> list[int]:
        """Start the enabled projects whose last run is a schedule interval old; ask again
        for a page that never came. 0 minutes turns the schedule off (on demand still
        works)."""
        minutes = DEFAULT_SCHEDULE_MINUTES if schedule_minutes is None else schedule_minutes
        started = []
        now = parse_utc(self.clock())
        for state in self.store.list_job_cost_syncs(company_id):
            if not state.get("enabled"):
                continue
            run = state.get("run")
            last = (state.get("last_run") or {}).get("started_at")
            due = run is not None or (minutes > 0 and (
                last is None or now - parse_utc(last) >= timedelta(minutes=minutes)))
            if due and self.start(company_id, int(state["project_id"]), "schedule") in (
                    "queued", "resumed"):
                started.append(int(state["project_id"]))
        return started

    # ---- a run -------------------------------------------------------------------------
    def start(self, company_id: int, project_id: int, actor: str) -> str:
        """queued (a new run), resumed (a stale page asked again), running, disabled."""
        state = self.store.get_job_cost_sync(company_id, project_id)
        if not state.get("enabled") or not state.get("job"):
            return "disabled"
        run = state.get("run")
        if run is not None:
            if seconds_between(run["asked_at"], self.clock()) < STALE_MINUTES * 60:
                return "running"
            self._ask(company_id, project_id, state, run)  # the same command, asked again
            self._change(company_id, project_id, lambda s: _touch(s, run["id"], self.clock()))
            logger.warning("job cost page asked again", project_id=project_id,
                           run=run["id"], page=run["page"])
            return "resumed"
        procore = self.procore_for(company_id)
        codes = self._codes(procore, company_id, project_id)
        edits = self._procore_edits(procore, company_id, project_id, state)
        retried = self._retry(procore, company_id, project_id, state, codes, edits)
        now = self.clock()
        run_id = now.replace("-", "").replace(":", "").replace(".", "")
        new_run = {"id": run_id, "started_at": now, "started_by": actor, "page": 1,
                   "asked_at": now, "until": None, "after": state.get("cursor"),
                   "codes": _codes_doc(codes), **retried.as_dict(), "retried": retried.rows}

        def begin(current: dict[str, Any]) -> dict[str, Any]:
            if current.get("run") is not None:
                raise Conflict("a job cost run started meanwhile")
            _apply(current, retried)
            current["procore_edits"] = {**(current.get("procore_edits") or {}), **edits}
            current["run"] = new_run
            return current

        try:
            state = self._change(company_id, project_id, begin)
        except Conflict:
            return "running"
        self._ask(company_id, project_id, state, new_run)
        count("JobCostRunsStarted")
        logger.info("job cost run started", project_id=project_id, run=run_id, by=actor,
                    retried=retried.rows, edited_in_procore=len(edits))
        return "queued"

    def handle_page(self, result: Result) -> str:
        project_id = int(result.item_id.split(":", 1)[1])
        company_id = result.company_id
        state = self.store.get_job_cost_sync(company_id, project_id)
        run = state.get("run")
        if run is None or result.command_id != _command_id(company_id, project_id, run):
            count("JobCostPagesIgnored")
            logger.info("job cost page not awaited (a repeat or an older run)",
                        command_id=result.command_id)
            return "ignored"
        if not result.ok:
            error = result.error
            words = f"Sage refused the job cost read: {error.code} {error.message}" \
                if error else "the relay agent reported a failure"
            self._finish(company_id, project_id, run, "failed", error=words)
            count("JobCostRunsFailed")
            return "failed"
        codes = _codes_of(run["codes"], self.store, company_id)
        outcome = sync_page(self.store, self.procore_for(company_id), company_id, project_id,
                            result.rows(), codes, state.get("procore_edits") or {})
        cursor = result.sage_keys.get("cursor") or run.get("after")
        until = result.sage_keys.get("until") or run.get("until")
        more = bool(result.more)

        def advance(current: dict[str, Any]) -> dict[str, Any]:
            live = current.get("run")
            if live is None or live["id"] != run["id"] or live["page"] != run["page"]:
                raise Conflict("page already recorded")
            _apply(current, outcome)
            current["cursor"] = cursor
            for key, value in outcome.as_dict().items():
                if key != "procore_calls":
                    live[key] = live.get(key, 0) + value
            live["procore_calls"] = live.get("procore_calls", 0) + outcome.procore_calls
            if more:
                live.update(page=live["page"] + 1, after=cursor, until=until,
                            asked_at=self.clock())
            else:
                current["run"] = None
                current["last_run"] = _summary(live, "ok", self.clock(), until=until)
            return current

        try:
            state = self._change(company_id, project_id, advance)
        except Conflict:
            return "ignored"
        count("JobCostRowsSynced", outcome.synced)
        if more:
            self._ask(company_id, project_id, state, state["run"])
            return "page"
        logger.info("job cost run finished", project_id=project_id,
                    **(state.get("last_run") or {}))
        return "finished"

    # ---- parts ---------------------------------------------------------------------------
    def _ask(self, company_id: int, project_id: int, state: Mapping[str, Any],
             run: Mapping[str, Any]) -> None:
        payload = JobCostPullPayload(job=int(state["job"]), after=run.get("after"),
                                     until=run.get("until"), page_size=self.page_size)
        command = Command(command_id=_command_id(company_id, project_id, run),
                          company_id=company_id, type=CommandType.PULL_JOB_COSTS,
                          item_id=f"jobcost:{project_id}", export_version=0,
                          payload=payload.model_dump(mode="json"), issued_at=self.clock())
        self.commands.send(command.model_dump(mode="json"),
                           deduplication_id=command.command_id,
                           group_id=f"{company_id}:jobcost:{project_id}")

    def _finish(self, company_id: int, project_id: int, run: Mapping[str, Any], status: str,
                *, error: str | None = None) -> None:
        def end(current: dict[str, Any]) -> dict[str, Any]:
            live = current.get("run")
            if live is None or live["id"] != run["id"]:
                raise Conflict("run already ended")
            current["run"] = None
            current["last_run"] = _summary(live, status, self.clock(), error=error)
            return current

        try:
            self._change(company_id, project_id, end)
        except Conflict:
            return
        logger.error("job cost run failed", project_id=project_id, error=error)

    def _codes(self, procore: ProcoreClient, company_id: int, project_id: int) -> CodeMap:
        return CodeMap(
            cost_codes=sage_codes.cost_code_ids(self.store, procore, company_id, project_id),
            cost_types=sage_codes.cost_type_ids(self.store, procore, company_id,
                                                self.cost_types),
            vendors=sage_codes.vendor_ids(self.store, company_id))

    def _procore_edits(self, procore: ProcoreClient, company_id: int, project_id: int,
                       state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Direct costs of ours that Procore shows changed since our newest write and
        that no longer hold what we wrote (Procore's clock is to the second, so our own
        writes of that second come too: their values tell them apart)."""
        watermark = state.get("watermark")
        if not watermark:
            return {}
        changed = procore.list_updated(f"/rest/v1.0/projects/{int(project_id)}/direct_costs",
                                       project_id, parse_utc(watermark), parse_utc(self.clock()))
        ours = {record: cost for cost in changed
                if (record := job_costs.record_of(cost.get("origin_id"))) is not None}
        kept: dict[str, dict[str, Any]] = {}
        for bucket in sorted({bucket_of(r) for r in ours}):
            kept.update(self.store.get_job_cost_bucket(company_id, project_id, bucket)[0])
        edits = {}
        for record, cost in ours.items():
            entry = kept.get(str(record))
            if entry is None or not entry.get("direct_cost_id"):
                continue
            amount, description = job_costs.written(entry)
            shown = money(cost.get("grand_total") or cost.get("amount"))
            if shown == amount and (cost.get("description") or "") == description:
                continue
            edits[str(cost["id"])] = {
                "direct_cost_id": int(cost["id"]), "record": record,
                "updated_at": cost.get("updated_at"),
                "procore_amount": cost.get("grand_total") or cost.get("amount"),
                "procore_description": cost.get("description"),
                "written_amount": str(amount), "written_description": description}
        return edits

    def _retry(self, procore: ProcoreClient, company_id: int, project_id: int,
               state: Mapping[str, Any], codes: CodeMap,
               edits: Mapping[str, Mapping[str, Any]]) -> PageOutcome:
        """Rows that waited for a mapping (or that Procore refused), sent again."""
        waiting = sorted(int(r) for r in state.get("retry") or [])[:RETRY_PER_RUN]
        if not waiting:
            return PageOutcome()
        rows: list[dict[str, Any]] = []
        for bucket in sorted({bucket_of(r) for r in waiting}):
            held, _ = self.store.get_job_cost_bucket(company_id, project_id, bucket)
            rows += [held[str(r)] for r in waiting if str(r) in held]
        return sync_page(self.store, procore, company_id, project_id, rows, codes,
                         {**(state.get("procore_edits") or {}), **edits})

    def _change(self, company_id: int, project_id: int,
                change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        for _ in range(STATE_ATTEMPTS):
            state = self.store.get_job_cost_sync(company_id, project_id)
            version = state.get("version", 0)
            new = change({**state, "project_id": project_id})
            try:
                new["version"] = self.store.put_job_cost_sync(company_id, project_id, new,
                                                              expected_version=version)
                return new
            except StaleItem:
                continue
        raise ServiceUnavailable(f"project {project_id}'s job cost sync kept changing; "
                                 "try again")


def _command_id(company_id: int, project_id: int, run: Mapping[str, Any]) -> str:
    return f"{company_id}:jobcost:{project_id}:{run['id']}:p{run['page']}"


def _apply(state: dict[str, Any], outcome: PageOutcome) -> None:
    """A page's news in the project's state: rows to retry, edits overwritten."""
    retry = sorted((set(state.get("retry") or []) - outcome.settled) | outcome.retry)
    if len(retry) > RETRY_KEPT_MAX:
        state["retry_dropped"] = state.get("retry_dropped", 0) + len(retry) - RETRY_KEPT_MAX
    state["retry"] = retry[:RETRY_KEPT_MAX]
    edits = dict(state.get("procore_edits") or {})
    for overwrite in outcome.overwritten:
        edits.pop(str(overwrite["direct_cost_id"]), None)
    state["procore_edits"] = edits
    kept = [*(state.get("overwritten") or []), *outcome.overwritten]
    state["overwritten"] = kept[-KEPT_OVERWRITES:]
    if outcome.watermark and outcome.watermark > str(state.get("watermark") or ""):
        state["watermark"] = outcome.watermark


def _touch(state: dict[str, Any], run_id: str, now: str) -> dict[str, Any]:
    run = state.get("run")
    if run is not None and run["id"] == run_id:
        run["asked_at"] = now
    return state


def _summary(run: Mapping[str, Any], status: str, now: str, **extra: Any) -> dict[str, Any]:
    return {"id": run["id"], "status": status, "started_at": run["started_at"],
            "started_by": run.get("started_by"), "finished_at": now,
            "pages": run["page"], "rows": run.get("rows", 0),
            "synced": run.get("synced", 0), "voided": run.get("voided", 0),
            "unsyncable": run.get("unsyncable", 0),
            "procore_calls": run.get("procore_calls", 0), **extra}


def _codes_doc(codes: CodeMap) -> dict[str, Any]:
    """The code map kept with the run, so each page costs no Procore reads."""
    return {"cost_codes": [[code, phase, cid] for (code, phase), cid in
                           codes.cost_codes.items()],
            "cost_types": {str(k): v for k, v in codes.cost_types.items()}}


def _codes_of(doc: Mapping[str, Any], store: ItemStore, company_id: int) -> CodeMap:
    return CodeMap(cost_codes={(c, p): int(i) for c, p, i in doc.get("cost_codes") or []},
                   cost_types={int(k): int(v) for k, v in (doc.get("cost_types") or {}).items()},
                   vendors=sage_codes.vendor_ids(store, company_id))

