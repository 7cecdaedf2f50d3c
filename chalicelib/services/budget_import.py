"""Import a Sage job's budget into Procore ("Import a Budget from ERP").

Timeline (each step can be repeated without doubling anything):

    request: checks, record {status waiting_for_sage, requested_at}, pull of Sage's budgets
    the pull completes (ErpLists hook) or the schedule finds the record waiting:
        map every bdglin cell to a Procore cost code and cost type (all or nothing)
        existing Procore line items updated (sync, by id), missing ones created (POST)
        origin ids written (external data), link budget <-> job with origin "sage"
        record {status imported, counts}; a refusal: {status failed, reason}

A re-run after a crash reads Procore's detail rows again, so a line item created before
the crash is updated, not created twice. Procore's ``original_budget_amount`` gets Sage's
current budget column (matbdg, labbdg, ...): Procore has one amount per line item, and
the current budget is what the job is managed against (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from chalicelib import deadline
from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain import budgets
from chalicelib.domain.models import Link, utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.domain.state_machine import Status
from chalicelib.errors import Conflict, FatalUpstreamError, ServiceUnavailable
from chalicelib.kinds.budget import ITEM_TYPE
from chalicelib.observability import count, logger
from chalicelib.services import sage_codes
from chalicelib.services.budget_intake import sage_budget_lines
from chalicelib.services.erp_lists import ErpLists

WAITING, IMPORTED, FAILED = "waiting_for_sage", "imported", "failed"
WRITE_ATTEMPTS = 3
MAX_ATTEMPTS = 5  # runs of one import that Procore or AWS cut short before it fails
# Seconds kept in hand when an import runs inside a Lambda invocation: one POST (with its
# retries) and the record's write must still fit. Creates are one call per line item.
RESERVE_SECONDS = 10


class ImportRefused(Exception):
    """The Sage budget cannot be imported as it is; the message says why."""


class ImportPaused(Exception):
    """The invocation is nearly over: what was written stays, the next run goes on."""

    def __init__(self, created: int) -> None:
        super().__init__(f"paused after creating {created} line items")
        self.created = created


class BudgetImportService:
    def __init__(self, store: ItemStore, lists: ErpLists,
                 procore_for: Callable[[int], ProcoreClient], cost_types: Mapping[str, int],
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.lists = lists
        self.procore_for = procore_for
        self.cost_types = cost_types
        self.clock = clock

    # ---- people ----------------------------------------------------------------------------
    def request(self, user: User, project_id: int) -> dict[str, Any]:
        require(user, Permission.IMPORT_BUDGET)
        company = user.company_id
        job = self._job(company, project_id)
        budget_link = self.store.get_link(company, "budget", project_id)
        if budget_link is not None and budget_link.origin == "procore":
            raise Conflict(f"the budget of project {project_id} was exported from Procore to "
                           f"Sage job {budget_link.sage_key}; it is managed in Procore and "
                           "cannot be imported from Sage", sage_job=budget_link.sage_key)
        item = self.store.get_item(company, "budget", project_id)
        if item is not None and item.status in (Status.ACCEPTED, Status.EXPORTING):
            raise Conflict(f"the budget of project {project_id} is being exported to Sage "
                           f"({item.status.value}); it cannot be imported meanwhile",
                           status=item.status.value)
        now = self.clock()
        before = self.store.get_budget_import(company, project_id)
        doc = {"project_id": project_id, "job": job, "status": WAITING, "requested_at": now,
               "requested_by": user.subject,
               # line items an earlier, unfinished import of this job made are its own
               "started": bool(before.get("started")) and before.get("job") == job}
        self._write(company, project_id, lambda _: doc)
        self.lists.request(company, "budgets", user.subject)
        count("BudgetImportsRequested")
        return self.status(user, project_id)

    def status(self, user: User, project_id: int) -> dict[str, Any]:
        require(user, Permission.IMPORT_BUDGET)
        doc = self.store.get_budget_import(user.company_id, project_id)
        doc.pop("version", None)
        return doc or {"project_id": project_id, "status": "never_imported"}

    # ---- after Sage's budget lines arrived ---------------------------------------------------
    def resume(self, company_id: int) -> list[dict[str, Any]]:
        """Run every import waiting for a pull that has now completed after its request."""
        completed = self.store.get_pull_state(company_id, "budgets").get("completed_at")
        done = []
        for doc in self.store.list_budget_imports(company_id):
            if doc.get("status") == WAITING and completed and completed >= doc["requested_at"]:
                try:
                    done.append(self.run(company_id, int(doc["project_id"])))
                except Exception:  # noqa: BLE001 - counted on the record; the next run retries
                    logger.exception("budget import cut short; it runs again",
                                     project_id=doc["project_id"])
        return done

    def run(self, company_id: int, project_id: int) -> dict[str, Any]:
        doc = self.store.get_budget_import(company_id, project_id)
        job = str(doc.get("job"))

        def started() -> None:  # a later run then takes the line items made as its own
            if not doc.get("started"):
                self._write(company_id, project_id, lambda d: {**d, "started": True})

        try:
            counts = self._import(company_id, project_id, job,
                                  resuming=bool(doc.get("started")), started=started)
        except ImportRefused as exc:
            return self._fail(company_id, project_id, str(exc))
        except ImportPaused as exc:
            # Not a failure: the next run reads Procore again and creates only the rest.
            logger.info("budget import paused; it goes on at the next run",
                        project_id=project_id, line_items_created=exc.created)
            progress = (f"{exc.created} more line items created; the import goes on at the "
                        "next scheduled run")
            return self._write(company_id, project_id, lambda d: {**d, "progress": progress})
        except FatalUpstreamError as exc:  # Procore refused a write: retrying cannot help
            return self._fail(company_id, project_id, f"Procore refused the import: "
                              f"{exc.message[:300]}")
        except Exception:
            # Procore or AWS away: the record stays waiting and the schedule runs it again,
            # a bounded number of times.
            tries = int(doc.get("attempts", 0)) + 1
            if tries >= MAX_ATTEMPTS:
                return self._fail(company_id, project_id, f"the import failed {tries} times "
                                  "(Procore or AWS unavailable); request it again")
            self._write(company_id, project_id, lambda d: {**d, "attempts": tries})
            raise
        try:
            self.store.put_link(Link(company_id=company_id, kind="budget",
                                     procore_id=project_id, sage_key=job, origin="sage",
                                     created_at=self.clock(), created_by="system:import"))
        except Conflict:
            pass  # imported before: the link stands
        count("BudgetImportsDone")
        return self._write(company_id, project_id, lambda d: {
            **d, "status": IMPORTED, "reason": None, "finished_at": self.clock(), **counts})

    def _fail(self, company_id: int, project_id: int, reason: str) -> dict[str, Any]:
        logger.warning("budget import refused", project_id=project_id, reason=reason)
        count("BudgetImportsRefused")
        return self._write(company_id, project_id, lambda d: {
            **d, "status": FAILED, "reason": reason, "finished_at": self.clock()})

    def _import(self, company_id: int, project_id: int, job: str, *, resuming: bool,
                started: Callable[[], None]) -> dict[str, int]:
        sage_rows = sage_budget_lines(self.store, company_id, job)
        if not sage_rows:
            raise ImportRefused(f"Sage job {job} has no budget lines to import")
        procore = self.procore_for(company_id)
        if procore.budget_locked(project_id):
            raise ImportRefused("the Procore budget is locked; Procore takes original "
                                "amounts only on an unlocked budget: unlock it in the "
                                "Budget tool and import again")
        existing = {(r.get("cost_code_id"), r.get("category_id")): r
                    for r in procore.list_budget_rows(project_id) if r.get("id") is not None}
        imported_before = self.store.get_link(company_id, "budget", project_id) is not None
        if existing and not imported_before and not resuming:
            raise ImportRefused(
                f"project {project_id} already has a budget in Procore ({len(existing)} line "
                "items). A budget is set up in one system and then exported or imported, "
                "never created in both: delete the Procore line items or export the Procore "
                "budget instead")
        cells = self._map(company_id, procore, project_id, job, sage_rows)
        started()
        updates, creates, origins = [], [], []
        for (code_id, type_id), (amount, origin) in cells.items():
            row = existing.get((code_id, type_id))
            if row is not None:
                updates.append({"id": row["id"], "wbs_code_id": row.get("wbs_code_id"),
                                "original_budget_amount": amount})
                origins.append({"item_type": ITEM_TYPE, "item_id": row["id"],
                                "origin_id": origin})
            else:
                creates.append((code_id, type_id, amount, origin))
        if updates:
            procore.sync_budget_line_items(project_id, updates)
        for done, (code_id, type_id, amount, origin) in enumerate(creates):
            left = deadline.remaining()
            if left is not None and left < RESERVE_SECONDS:
                procore.sync_external_data(origins)  # the origins of what exists so far
                raise ImportPaused(done)
            made = procore.create_budget_line_item(project_id, {
                "cost_code_id": code_id, "line_item_type_id": type_id,
                "original_budget_amount": amount})
            origins.append({"item_type": ITEM_TYPE, "item_id": made["id"], "origin_id": origin})
        if origins:
            procore.sync_external_data(origins)
        return {"created": len(creates), "updated": len(updates), "sage_lines": len(sage_rows)}

    def _map(self, company_id: int, procore: ProcoreClient, project_id: int, job: str,
             sage_rows: list[dict[str, Any]]) -> dict[tuple[int, int], tuple[Decimal, str]]:
        """(Procore cost code id, line item type id) -> (amount, origin id), or every reason
        a cell has no Procore counterpart (nothing is written then)."""
        codes = sage_codes.cost_code_ids(self.store, procore, company_id, project_id)
        types = sage_codes.cost_type_ids(self.store, procore, company_id, self.cost_types)
        cells: dict[tuple[int, int], tuple[Decimal, str]] = {}
        problems = []
        for row in sage_rows:
            phase = row.get("phase")
            code_id = codes.get((str(row["cost_code"]), phase))
            where = f"cost code {row['cost_code']}" + (f" (phase {phase})" if phase else "")
            if code_id is None:
                problems.append(f"Sage {where} has no Procore cost code in project "
                                f"{project_id}; sync the job's cost codes from Sage first")
                continue
            for cost_type, amount in (row.get("amounts") or {}).items():
                type_id = types.get(int(cost_type))
                if type_id is None:
                    problems.append(f"Sage cost type {cost_type} ({where}) has no Procore "
                                    "cost type; sync the cost types from Sage first")
                    continue
                cells[(code_id, type_id)] = (
                    budgets.money(amount) or Decimal("0.00"),
                    f"bdglin:{job}:{phase or 0}:{row['cost_code']}:{cost_type}")
        if problems:
            raise ImportRefused("; ".join(dict.fromkeys(problems)))
        return cells

    def _job(self, company_id: int, project_id: int) -> str:
        link = self.store.get_link(company_id, "project", project_id)
        if link is None:
            raise Conflict(f"project {project_id} is not linked to a Sage job; link it to its "
                           "job (or add it to Sage) before importing the job's budget")
        return link.sage_key

    def _write(self, company_id: int, project_id: int,
               change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        for _ in range(WRITE_ATTEMPTS):
            doc = self.store.get_budget_import(company_id, project_id)
            version = doc.pop("version", 0)
            new = change(doc)
            try:
                self.store.put_budget_import(company_id, project_id, new,
                                             expected_version=version)
            except StaleItem:
                continue
            return new
        raise ServiceUnavailable(f"the budget import of project {project_id} kept changing")
