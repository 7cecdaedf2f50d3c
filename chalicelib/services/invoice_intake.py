"""Subcontractor invoice intake: read a Procore requisition and record item
``subcontractor_invoice-{id}``.

Procore documents no webhook for requisitions, so the reconciliation poll lists the
requisitions updated in its window and queues a "Requisitions" event for each (in the
project's commitments group, as the invoice is read against its commitment's item); the
invoice administrator's "send" reads one at once.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import invoices
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.observations import Observation
from chalicelib.errors import UpstreamNotFound
from chalicelib.services.items import ItemService
from chalicelib.services.record_events import handle_record_event

KIND = "subcontractor_invoice"


class InvoiceIntake:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient],
                 direct_export: Callable[[Item | None], Item | None] = lambda item: item,
                 ) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.direct_export = direct_export

    def handle_event(self, company_id: int, project_id: int, requisition_id: int, *, action: str,
                     correlation_id: str) -> str:
        return handle_record_event(
            self.items, company_id=company_id, kind=KIND, procore_id=requisition_id,
            project_id=project_id, action=action, correlation_id=correlation_id,
            evaluate=lambda: self.evaluate(company_id, project_id, requisition_id,
                                           actor=SYSTEM_INTAKE, correlation_id=correlation_id),
            noun="subcontractor invoice", tools="Invoicing tool")

    def evaluate(self, company_id: int, project_id: int, requisition_id: int, *, actor: str,
                 correlation_id: str | None = None) -> Item | None:
        try:
            obs = self.read(company_id, project_id, requisition_id)
        except UpstreamNotFound:
            return self.items.observe_deleted(company_id=company_id, kind=KIND,
                                              procore_id=requisition_id, actor=actor,
                                              correlation_id=correlation_id)
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=KIND, procore_id=requisition_id,
            project_id=project_id, subtype=None, snapshot=obs.snapshot, reasons=obs.reasons,
            actor=actor, correlation_id=correlation_id,
            source_updated_at=obs.source_updated_at, sent=actor != SYSTEM_INTAKE))

    def read(self, company_id: int, project_id: int, requisition_id: int) -> Observation:
        procore = self.procore_for(company_id)
        record = procore.get_requisition(project_id, requisition_id)
        items = procore.list_requisition_items(project_id, requisition_id)
        contract = record.get("commitment_id")
        commitment = (self.store.get_item(company_id, "commitment", int(contract))
                      if contract is not None else None)
        snapshot = invoices.build_snapshot(record, items, project_id=project_id,
                                           commitment=commitment)
        vendor = ((commitment.synced_snapshot or commitment.snapshot).get("vendor") or {}
                  if commitment is not None else {})
        ctx = invoices.ReadinessContext(
            commitment=commitment,
            project_link=self.store.get_link(company_id, "project", project_id),
            vendor_link=(self.store.get_link(company_id, "vendor", int(vendor["id"]))
                         if vendor.get("id") is not None else None))
        return Observation(snapshot=snapshot,
                           reasons=invoices.readiness_reasons(snapshot, ctx),
                           source_updated_at=record.get("updated_at"))
