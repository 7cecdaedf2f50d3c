"""Owner invoice intake: read a Procore payment application (owner invoice) and its prime
contract, and record item ``owner_invoice-{id}``.

Procore fires ``Payment Applications`` webhooks (resource id = the payment application);
the invoicing administrator's "send" reads one at once. The payment application is read
through the project's endpoint (the webhook does not name its contract), its prime
contract through ``GET /rest/v1.0/prime_contract/{id}`` (with its schedule of values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import owner_invoices
from chalicelib.domain.owner_invoices import owner_invoice_target

__all__ = ["KIND", "OwnerInvoiceIntake", "owner_invoice_target"]
from chalicelib.domain.cost_codes import DEFAULT_RULE, active_codes
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.observations import Observation
from chalicelib.errors import UpstreamNotFound
from chalicelib.services.items import ItemService
from chalicelib.services.record_events import handle_record_event

KIND = "owner_invoice"


class OwnerInvoiceIntake:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient],
                 direct_export: Callable[[Item | None], Item | None] = lambda item: item,
                 ) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.direct_export = direct_export

    def handle_event(self, company_id: int, project_id: int, app_id: int, *, action: str,
                     correlation_id: str) -> str:
        return handle_record_event(
            self.items, company_id=company_id, kind=KIND, procore_id=app_id,
            project_id=project_id, action=action, correlation_id=correlation_id,
            evaluate=lambda: self.evaluate(company_id, project_id, app_id, actor=SYSTEM_INTAKE,
                                           correlation_id=correlation_id),
            noun="owner invoice", tools="Prime Contract and Invoicing tools")

    def evaluate(self, company_id: int, project_id: int, app_id: int, *, actor: str,
                 correlation_id: str | None = None) -> Item | None:
        try:
            obs = self.read(company_id, project_id, app_id)
        except UpstreamNotFound:
            return self.items.observe_deleted(company_id=company_id, kind=KIND,
                                              procore_id=app_id, actor=actor,
                                              correlation_id=correlation_id)
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=KIND, procore_id=app_id, project_id=project_id,
            subtype=None, snapshot=obs.snapshot, reasons=obs.reasons, actor=actor,
            correlation_id=correlation_id, source_updated_at=obs.source_updated_at,
            sent=actor != SYSTEM_INTAKE))

    def read(self, company_id: int, project_id: int, app_id: int) -> Observation:
        procore = self.procore_for(company_id)
        app = procore.get(f"/rest/v1.0/payment_applications/{app_id}",
                          {"project_id": project_id})
        contract_id = int((app.get("contract") or {}).get("id") or 0)
        contract: dict[str, Any] | None = None
        if contract_id:
            try:
                contract = procore.get(f"/rest/v1.0/prime_contract/{contract_id}",
                                       {"project_id": project_id})
            except UpstreamNotFound:
                contract = None
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        snapshot = owner_invoices.build_snapshot(
            app, contract, project_id=project_id,
            rule=str(advanced.get("cost_code_rule") or DEFAULT_RULE),
            billing_code=advanced.get("owner_invoice_cost_code"),
            known=active_codes(self.store.list_erp_rows(company_id, "cost_codes")))
        ctx = owner_invoices.ReadinessContext(
            project_link=self.store.get_link(company_id, "project", project_id),
            contract_link=(self.store.get_link(company_id, "prime_contract", contract_id)
                           if contract_id else None),
            contract_found=contract is not None)
        return Observation(snapshot=snapshot,
                           reasons=owner_invoices.readiness_reasons(snapshot, ctx),
                           source_updated_at=app.get("updated_at"))
