"""The first sync of a large job, watched from a shell (``admin_cli backfill-job-costs``).

A backfill is a job cost run like any other (``JobCostSync``): enabling the project if
asked, starting a run (or asking again for a page that never came), then following the
project's sync state until the run ends, with a progress bar of rows and pages. Nothing
is kept on the admin's machine: interrupted (Ctrl-C, a lost connection), the run goes on
in AWS, and the next backfill of the project follows it, or starts the next run from the
cursor, which advances only with pages Procore accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.permissions import User
from chalicelib.services.job_cost_sync import JobCostSync


class Progress(Protocol):
    def update(self, n: int) -> Any: ...

    def set_postfix_str(self, text: str) -> Any: ...

    def close(self) -> Any: ...


class BackfillTimeout(Exception):
    """The run did not end in the time given (it goes on; watch it again)."""


def backfill(sync: JobCostSync, store: ItemStore, user: User, project_id: int, *,
             enable: bool, progress: Progress, timeout_seconds: float = 6 * 3600,
             poll_seconds: float = 2.0, sleep: Callable[[float], None] = time.sleep,
             between_polls: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Run (or follow) the project's job cost run to its end; its summary."""
    company_id = user.company_id
    if enable:
        sync.set_enabled(user, project_id, True)
    answer = sync.request(user, project_id)
    state = store.get_job_cost_sync(company_id, project_id)
    run_id = (state.get("run") or {}).get("id")
    if answer["projects"].get(str(project_id)) not in ("queued", "resumed", "running") or \
            run_id is None:
        return {"status": "not started", "answer": answer}
    shown = 0
    waited = 0.0
    try:
        while True:
            between_polls()
            state = store.get_job_cost_sync(company_id, project_id)
            run = state.get("run")
            last = state.get("last_run") or {}
            done = run is None or run.get("id") != run_id
            ours = (last if last.get("id") == run_id else {}) if done else run
            rows = int(ours.get("rows", shown))
            if rows > shown:
                progress.update(rows - shown)
                shown = rows
            if not done:
                progress.set_postfix_str(f"page {run.get('page')}, synced "
                                         f"{run.get('synced', 0)}, unsyncable "
                                         f"{run.get('unsyncable', 0)}")
                if waited >= timeout_seconds:
                    raise BackfillTimeout(f"run {run_id} still going after {waited:.0f} s")
                sleep(poll_seconds)
                waited += poll_seconds
                continue
            return last if last.get("id") == run_id else {"status": "superseded",
                                                          "run": run_id}
    finally:
        progress.close()
