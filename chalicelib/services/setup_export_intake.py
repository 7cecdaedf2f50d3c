"""Cost codes and sub jobs sent from Procore to be added to Sage: items ``cost_code-{id}``
and ``sub_job-{id}``.

A tool admin's "send" reads the record now and records ready_to_export or not_ready with
every reason (``domain.cost_code_export``, ``domain.sub_job_export``). The readiness
context comes from the connector's own records: the company's cost code rule, Sage's
pulled cost code and phase lists, and the links.

Webhooks (``Cost Codes``, ``Sub Jobs``) never create an item: Procore's connector exports
both only when a person sends them, so an event for a record never sent is acknowledged,
logged and counted (``SetupExportEventsIgnored``), nothing more. An event for one that was
sent reads it again (a rename or a new code shows in the inbox); a delete, or a read that
no longer finds it, withdraws the item (``observe_deleted``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.procore import ProcoreAuthError, ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import cost_code_export, cost_codes, sub_job_export
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.webhooks import WebhookEvent
from chalicelib.errors import FatalUpstreamError, NotFound, UpstreamNotFound
from chalicelib.observability import count, logger
from chalicelib.services.items import ItemService

#: the webhook resources of the item kinds a person sends (procore-spec
#: docs/webhook_resources.json: both fire create, update and delete)
SETUP_EXPORT_RESOURCES = {"Cost Codes": "cost_code", "Sub Jobs": "sub_job"}


def setup_export_target(event: WebhookEvent) -> tuple[str, int, int] | None:
    """(kind, project, Procore id) of a cost code or sub job event; None otherwise."""
    kind = SETUP_EXPORT_RESOURCES.get(event.resource_name)
    if kind is None or event.project_id is None:
        return None
    return kind, event.project_id, event.resource_id


class SetupExportIntake:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient],
                 direct_export: Callable[[Item | None], Item | None] = lambda item: item,
                 ) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.direct_export = direct_export

    def evaluate(self, company_id: int, kind: str, project_id: int, procore_id: int, *,
                 actor: str, correlation_id: str | None = None) -> Item | None:
        """Read the cost code or sub job now and record what it is (None: unchanged)."""
        read = self._cost_code if kind == "cost_code" else self._sub_job
        snapshot, reasons = read(company_id, project_id, procore_id)
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=kind, procore_id=procore_id, project_id=project_id,
            subtype=None, snapshot=snapshot, reasons=reasons, actor=actor,
            correlation_id=correlation_id, sent=actor != SYSTEM_INTAKE))

    def handle_event(self, company_id: int, kind: str, project_id: int, procore_id: int, *,
                     action: str, correlation_id: str) -> str:
        """A ``Cost Codes`` or ``Sub Jobs`` webhook: re-evaluate an item that was sent;
        ignore one never sent (no item is made from a webhook)."""
        item = self.store.get_item(company_id, kind, procore_id)
        if item is None:
            count("SetupExportEventsIgnored")
            logger.info("ignored: never sent for export", kind=kind, procore_id=procore_id)
            return "ignored"
        if action == "delete":
            self.items.observe_deleted(company_id=company_id, kind=kind, procore_id=procore_id,
                                       actor=SYSTEM_INTAKE, correlation_id=correlation_id)
            return "deleted"
        try:
            changed = self.evaluate(company_id, kind, item.project_id or project_id,
                                    procore_id, actor=SYSTEM_INTAKE,
                                    correlation_id=correlation_id)
        except NotFound:  # gone before this event was read: as its delete would
            self.items.observe_deleted(company_id=company_id, kind=kind, procore_id=procore_id,
                                       actor=SYSTEM_INTAKE, correlation_id=correlation_id)
            return "deleted"
        except ProcoreAuthError:
            raise  # our credentials: every event fails alike; the queue retries
        except FatalUpstreamError as exc:
            status = exc.details.get("status")
            reason = (f"Procore refused to show {kind.replace('_', ' ')} {procore_id}"
                      f"{f' (HTTP {status})' if status else ''}: {exc.message[:300]}. Check "
                      "the record in Procore, then send it again.")
            self.items.observe_refused(company_id=company_id, kind=kind, procore_id=procore_id,
                                       project_id=item.project_id or project_id, subtype=None,
                                       reason=reason, actor=SYSTEM_INTAKE,
                                       correlation_id=correlation_id)
            count("EventsRefused")
            return "refused"
        return "changed" if changed is not None else "unchanged"

    # ---- cost codes ----------------------------------------------------------------------
    def _cost_code(self, company_id: int, project_id: int,
                   code_id: int) -> tuple[dict[str, Any], list[str]]:
        # The project's list holds the code and its parents (its division) in one read.
        codes = self._procore(company_id, lambda p: p.list_cost_codes(project_id),
                              f"project {project_id}")
        record = next((c for c in codes if int(c.get("id") or 0) == code_id), None)
        if record is None:
            raise NotFound(f"Procore has no cost code {code_id} on project {project_id} (or "
                           "it is not visible to the connector's service account)")
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        rule = str(advanced.get("cost_code_rule") or cost_codes.DEFAULT_RULE)
        snapshot = cost_code_export.build_snapshot(record, codes, project_id=project_id,
                                                   rule=rule)
        link = self.store.get_link(company_id, "cost_code", code_id)
        sage = snapshot.get("sage_code")
        twin = (self.store.get_link_by_sage(company_id, "cost_code", sage)
                if sage and link is None else None)
        ctx = cost_code_export.ReadinessContext(
            rule=rule,
            sage_codes=cost_code_export.sage_names(
                self.store.list_erp_rows(company_id, "cost_codes")),
            exported_as={sage: twin.procore_id} if twin is not None and sage else None,
            linked_to=link.sage_key if link is not None else None)
        return snapshot, cost_code_export.readiness_reasons(snapshot, ctx)

    # ---- sub jobs ------------------------------------------------------------------------
    def _sub_job(self, company_id: int, project_id: int,
                 sub_job_id: int) -> tuple[dict[str, Any], list[str]]:
        record = self._procore(company_id, lambda p: p.get(
            f"/rest/v1.0/sub_jobs/{int(sub_job_id)}", {"project_id": int(project_id)}),
            f"sub job {sub_job_id} on project {project_id}")
        snapshot = sub_job_export.build_snapshot(record, project_id=project_id)
        project_link = self.store.get_link(company_id, "project", project_id)
        job = int(project_link.sage_key) if project_link is not None else None
        phase = sub_job_export.phase_number(snapshot["code"])
        link = self.store.get_link(company_id, "sub_job", sub_job_id)
        linked = None
        if job is not None and phase is not None and link is None:
            twin = self.store.get_link_by_sage(company_id, "sub_job",
                                               sub_job_export.sage_key(job, phase))
            linked = {phase: twin.procore_id} if twin is not None else None
        rows = (self.store.list_erp_rows(company_id, "phases", key_prefix=f"{job}#")
                if job is not None else [])
        ctx = sub_job_export.ReadinessContext(
            job=job, sage_phases=sub_job_export.sage_phases(rows, job) if job else None,
            linked_phases=linked, linked_to=link.sage_key if link is not None else None)
        return snapshot, sub_job_export.readiness_reasons(snapshot, ctx)

    def _procore(self, company_id: int, call: Callable[[ProcoreClient], Any],
                 noun: str) -> Any:
        try:
            return call(self.procore_for(company_id))
        except UpstreamNotFound as exc:
            raise NotFound(f"Procore has no {noun} (or it is not visible to the "
                           "connector's service account)") from exc
