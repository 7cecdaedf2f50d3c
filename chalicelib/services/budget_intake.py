"""Budget intake: read a project's budget from Procore and record item ``budget-{P}``.

A webhook on any budget line item, modification or budget change of the project, and a
budget admin's "send", come here; both read the whole budget now (Procore has no list of
line items, only the budget view's detail rows), so however many events arrive, the item
holds the budget as it is. The readiness rules are ``domain.budgets``'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.procore import ProcoreAuthError, ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import budgets, cost_codes
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.observations import Observation
from chalicelib.domain.sage_mapping import cost_type_map
from chalicelib.domain.state_machine import Status
from chalicelib.errors import FatalUpstreamError, UpstreamNotFound
from chalicelib.observability import count
from chalicelib.services.items import ItemService

KIND = "budget"


def refusal_reason(exc: FatalUpstreamError, project_id: int) -> str:
    status = exc.details.get("status")
    code = f" (HTTP {status})" if status else ""
    return (f"Procore refused to show the budget of project {project_id}{code}: "
            f"{exc.message[:300]}. Give the connector's Procore service account access to "
            "the project's Budget tool, then send the budget again.")


def sage_budget_lines(store: ItemStore, company_id: int,
                      job: str | None) -> list[dict[str, Any]]:
    """The pulled bdglin rows of one Sage job (keys are ``{job}#{phase}#{code}``)."""
    if job is None:
        return []
    rows = store.list_erp_rows(company_id, "budgets", key_prefix=f"{job}#")
    return [r for r in rows if str(r.get("job")) == str(job)]


class BudgetIntake:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient], cost_types: Mapping[str, int],
                 direct_export: Callable[[Item | None], Item | None] = lambda item: item,
                 ) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.cost_types = cost_types
        self.direct_export = direct_export

    def handle_event(self, company_id: int, project_id: int, *,
                     correlation_id: str) -> str:
        try:
            item = self.evaluate(company_id, project_id, actor=SYSTEM_INTAKE,
                                 correlation_id=correlation_id)
        except ProcoreAuthError:
            raise  # our credentials: every event fails alike; the queue retries
        except FatalUpstreamError as exc:
            self.items.observe_refused(
                company_id=company_id, kind=KIND, procore_id=project_id,
                project_id=project_id, subtype=None, reason=refusal_reason(exc, project_id),
                actor=SYSTEM_INTAKE, correlation_id=correlation_id)
            count("EventsRefused")
            return "refused"
        return "changed" if item is not None else "unchanged"

    def evaluate(self, company_id: int, project_id: int, *, actor: str,
                 correlation_id: str | None = None) -> Item | None:
        """Read the budget now and record what it is. None when nothing changed."""
        try:
            obs = self.read(company_id, project_id)
        except UpstreamNotFound:
            return self.items.observe_deleted(company_id=company_id, kind=KIND,
                                              procore_id=project_id, actor=actor,
                                              correlation_id=correlation_id)
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=KIND, procore_id=project_id, project_id=project_id,
            subtype=None, snapshot=obs.snapshot, reasons=obs.reasons, actor=actor,
            correlation_id=correlation_id, sent=actor != SYSTEM_INTAKE))

    def read(self, company_id: int, project_id: int) -> Observation:
        procore = self.procore_for(company_id)
        locked = procore.budget_locked(project_id)
        rows = procore.list_budget_rows(project_id)
        codes = {int(c["id"]): c for c in procore.list_cost_codes(project_id)}
        types = {int(t["id"]): t for t in procore.list_line_item_types()}
        snapshot = budgets.build_snapshot(project_id, locked=locked, rows=rows,
                                          cost_codes_by_id=codes, types_by_id=types)
        return Observation(snapshot=snapshot,
                           reasons=self.reasons(company_id, project_id, snapshot))

    def reasons(self, company_id: int, project_id: int, snapshot: dict[str, Any]) -> list[str]:
        held = self.store.get_item(company_id, KIND, project_id)
        exported = held is not None and (held.synced_snapshot is not None
                                         or held.status in (Status.ACCEPTED, Status.EXPORTING))
        return budgets.readiness_reasons(snapshot, self.context(company_id, project_id,
                                                                exported=exported))

    def context(self, company_id: int, project_id: int, *,
                exported: bool) -> budgets.ReadinessContext:
        project_link = self.store.get_link(company_id, "project", project_id)
        budget_link = self.store.get_link(company_id, "budget", project_id)
        job = project_link.sage_key if project_link else None
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        code_rows = self.store.list_erp_rows(company_id, "cost_codes")
        known = cost_codes.active_codes(code_rows)
        pulled = self.store.get_pull_state(company_id, "budgets").get("completed_at")
        sage_lines = sage_budget_lines(self.store, company_id, job) if pulled else None
        phases = [r for r in self.store.list_erp_rows(
            company_id, "phases", key_prefix=f"{job}#") if str(r.get("job")) == str(job)
        ] if job is not None else []
        return budgets.ReadinessContext(
            project_link=project_link,
            managed_in_sage=budget_link if budget_link and budget_link.origin == "sage"
            else None,
            exported=exported or (budget_link is not None and budget_link.origin == "procore"),
            sage_lines=sage_lines, job_has_phases=bool(phases),
            cost_code_rule=str(advanced.get("cost_code_rule") or cost_codes.DEFAULT_RULE),
            known_cost_codes=known,
            cost_types=cost_type_map(self.cost_types, advanced))
