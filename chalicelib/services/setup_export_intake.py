"""Cost codes and sub jobs sent from Procore to be added to Sage: items ``cost_code-{id}``
and ``sub_job-{id}``.

A tool admin's "send" reads the record now and records ready_to_export or not_ready with
every reason (``domain.cost_code_export``, ``domain.sub_job_export``); no webhook brings
them (Procore's connector exports both only when a person sends them). The readiness
context comes from the connector's own records: the company's cost code rule, Sage's
pulled cost code and phase lists, and the links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import cost_code_export, cost_codes, sub_job_export
from chalicelib.domain.models import Item
from chalicelib.errors import NotFound, UpstreamNotFound
from chalicelib.services.items import ItemService


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
                 actor: str) -> Item | None:
        """Read the cost code or sub job now and record what it is (None: unchanged)."""
        read = self._cost_code if kind == "cost_code" else self._sub_job
        snapshot, reasons = read(company_id, project_id, procore_id)
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=kind, procore_id=procore_id, project_id=project_id,
            subtype=None, snapshot=snapshot, reasons=reasons, actor=actor, sent=True))

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
