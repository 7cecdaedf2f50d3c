"""Intake: turn a webhook event (or a tool admin's "send") into an item version.

For commitments: read the commitment and its lines from Procore, build the snapshot,
apply the readiness rules, and record ready_to_export or not_ready with every reason.
Idempotent per event (a processed-event marker) and per content (the snapshot hash), so
the same delivery five times, or an unchanged commitment seen again, adds no version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.procore import ProcoreAuthError, ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import commitments, cost_codes, matching, setup
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.observations import Observation
from chalicelib.domain.state_machine import Status
from chalicelib.domain.webhooks import (
    WebhookEvent,
    budget_target,
    cco_target,
    commitment_target,
    invoice_target,
)
from chalicelib.errors import Conflict, FatalUpstreamError, NotFound, UpstreamNotFound
from chalicelib.observability import count, logger
from chalicelib.services.budget_intake import BudgetIntake
from chalicelib.services.cco_intake import CcoIntake
from chalicelib.services.invoice_intake import InvoiceIntake
from chalicelib.services.items import ItemService
from chalicelib.services.owner_invoice_intake import OwnerInvoiceIntake, owner_invoice_target
from chalicelib.services.pcco_intake import PccoIntake
from chalicelib.services.setup_export_intake import SetupExportIntake, setup_export_target
from chalicelib.settings import tax_id_key as deployment_tax_id_key

COMMITMENT = "commitment"
PATH = {"work_order_contract": "work_order_contracts",
        "purchase_order_contract": "purchase_order_contracts"}


def refusal_reason(exc: FatalUpstreamError, kind: str, commitment_id: int) -> str:
    """Procore's refusal, worded for the person who can fix it."""
    status = exc.details.get("status")
    noun = f"{kind.replace('_', ' ')} {commitment_id}"
    hint = ("Give the connector's Procore service account access to the project's "
            "Commitments tool, then send it again." if status == 403 else
            "Check the record in Procore, then send it again.")
    code = f" (HTTP {status})" if status else ""
    return f"Procore refused to show {noun}{code}: {exc.message[:300]}. {hint}"


class IntakeService:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient], limits: commitments.Limits,
                 cost_types: Mapping[str, int] | None = None,
                 tax_id_key: Callable[[], str] = deployment_tax_id_key) -> None:
        self.store = store
        self.tax_id_key = tax_id_key  # vendors' tax id fingerprints (domain.tax_ids)
        # Budgets: one item per project, read whole (services.budget_intake).
        self.budgets = BudgetIntake(store, items, procore_for, cost_types or {},
                                    direct_export=self._direct_export)
        self.ccos = CcoIntake(store, items, procore_for, cost_types or {},
                              direct_export=self._direct_export)
        # PCCOs share the "Change Order Packages" webhook with CCOs (PccoIntake.owns).
        self.pccos = PccoIntake(store, items, procore_for, cost_types or {},
                                direct_export=self._direct_export)
        self.invoices = InvoiceIntake(store, items, procore_for,
                                      direct_export=self._direct_export)
        # Cost codes and sub jobs a person sends to be added to Sage.
        self.setup_exports = SetupExportIntake(store, items, procore_for,
                                               direct_export=self._direct_export)
        self.owner_invoices = OwnerInvoiceIntake(store, items, procore_for,
                                                 direct_export=self._direct_export)
        self.items = items
        self.procore_for = procore_for
        self.limits = limits

    def handle_event(self, event: WebhookEvent) -> str:
        """Process one webhook event; returns the outcome recorded for it."""
        if self.store.event_seen(event.company_id, event.event_id):
            count("DuplicateEvents")
            logger.info("event already processed", event_id=event.event_id)
            return "duplicate"
        target = commitment_target(event)
        budget_project = budget_target(event)
        cco = cco_target(event)
        invoice = invoice_target(event)
        if target is not None:
            outcome = self._handle_commitment_event(event, target)
        elif invoice is not None:
            outcome = self.invoices.handle_event(event.company_id, *invoice,
                                                 action=event.action,
                                                 correlation_id=event.event_id)
        elif cco is not None:
            packages = self.pccos if self.pccos.owns(event.company_id, *cco) else self.ccos
            outcome = packages.handle_event(event.company_id, *cco, action=event.action,
                                            correlation_id=event.event_id)
        elif budget_project is not None:
            outcome = self.budgets.handle_event(event.company_id, budget_project,
                                                correlation_id=event.event_id)
        elif (owner_invoice := owner_invoice_target(event)) is not None:
            outcome = self.owner_invoices.handle_event(event.company_id, *owner_invoice,
                                                       action=event.action,
                                                       correlation_id=event.event_id)
        elif (setup := setup_export_target(event)) is not None:
            outcome = self.setup_exports.handle_event(event.company_id, *setup,
                                                      action=event.action,
                                                      correlation_id=event.event_id)
        else:
            outcome = "ignored"
        # Marked only after the item write is durable: a crash before this line makes
        # SQS redeliver, and the snapshot hash keeps the redelivery from adding a version.
        self.store.mark_event_seen(event.company_id, event.event_id, outcome)
        count("EventsProcessed")
        return outcome

    def _handle_commitment_event(self, event: WebhookEvent, target: Any) -> str:
        company_id = event.company_id
        commitment_id = target.commitment_id
        if commitment_id is None:
            try:
                commitment_id = self._find_parent(company_id, target.kind, target.project_id,
                                                  target.line_item_id)
            except ProcoreAuthError:
                raise  # our credentials: every event fails alike; the queue retries
            except FatalUpstreamError as exc:
                logger.error("Procore refused the line item's lookup", event_id=event.event_id,
                             line_item_id=target.line_item_id, error=exc.message)
                count("EventsRefused")
                return "unresolved"
            if commitment_id is None:
                logger.warning("line item's commitment not found", event_id=event.event_id,
                               line_item_id=target.line_item_id)
                return "unresolved"
        is_commitment_delete = event.action == "delete" and target.line_item_id is None
        if is_commitment_delete:
            self.items.observe_deleted(company_id=company_id, kind=COMMITMENT,
                                       procore_id=commitment_id, actor=SYSTEM_INTAKE,
                                       correlation_id=event.event_id)
            return "deleted"
        try:
            item = self.evaluate_commitment(company_id, target.kind, commitment_id,
                                            target.project_id, actor=SYSTEM_INTAKE,
                                            correlation_id=event.event_id)
        except ProcoreAuthError:
            raise  # our credentials: every event fails alike; the queue retries
        except FatalUpstreamError as exc:
            # 403/422 and the like: retrying cannot help, and a retry would hold every
            # later event of the project's queue group. The item shows why at once.
            self.items.observe_refused(
                company_id=company_id, kind=COMMITMENT, procore_id=commitment_id,
                project_id=target.project_id, subtype=commitments.SUBTYPE[target.kind],
                reason=refusal_reason(exc, target.kind, commitment_id), actor=SYSTEM_INTAKE,
                correlation_id=event.event_id)
            count("EventsRefused")
            return "refused"
        return "changed" if item is not None else "unchanged"

    def evaluate_commitment(self, company_id: int, kind: commitments.CommitmentKind,
                            commitment_id: int, project_id: int | None, *, actor: str,
                            correlation_id: str | None = None) -> Item | None:
        """Read the commitment now and record what it is. None when nothing changed."""
        held = self.store.get_item(company_id, COMMITMENT, commitment_id)
        synced = held is not None and held.synced_snapshot is not None
        try:
            obs = self._read_commitment(company_id, kind, commitment_id, project_id, synced)
        except UpstreamNotFound:
            return self.items.observe_deleted(company_id=company_id, kind=COMMITMENT,
                                              procore_id=commitment_id, actor=actor,
                                              correlation_id=correlation_id)

        def reread() -> Observation:  # a tie on Procore's updated_at: read again, now
            return self._read_commitment(company_id, kind, commitment_id, project_id, synced)

        self._index_lines(company_id, commitment_id, obs.snapshot, held)

        return self._direct_export(self.items.observe(
            company_id=company_id, kind=COMMITMENT, procore_id=commitment_id,
            project_id=obs.snapshot.get("project_id") or project_id,
            subtype=commitments.SUBTYPE[kind], snapshot=obs.snapshot, reasons=obs.reasons,
            actor=actor, correlation_id=correlation_id,
            source_updated_at=obs.source_updated_at, reread=reread,
            sent=actor != SYSTEM_INTAKE))

    def _read_commitment(self, company_id: int, kind: commitments.CommitmentKind,
                         commitment_id: int, project_id: int | None,
                         synced: bool) -> Observation:
        """The commitment as Procore has it now, with its readiness reasons."""
        procore = self.procore_for(company_id)
        record = procore.get_commitment(kind, project_id, commitment_id)
        lines = procore.list_commitment_line_items(kind, project_id, commitment_id)
        snapshot = commitments.build_snapshot(kind, record, lines)
        project = snapshot.get("project_id") or project_id
        vendor = snapshot.get("vendor")
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        limits = commitments.Limits(
            number_max=int(advanced.get("commitment_number_max", self.limits.number_max)),
            title_max=int(advanced.get("commitment_title_max", self.limits.title_max)))
        # A synced commitment's lines are not mapped again, so it needs no list.
        rows = [] if synced else self.store.list_erp_rows(company_id, "cost_codes")
        known = cost_codes.active_codes(rows)
        reasons = commitments.readiness_reasons(
            snapshot,
            project_link=self.store.get_link(company_id, "project", project) if project else None,
            vendor_link=(self.store.get_link(company_id, "vendor", vendor["id"])
                         if vendor else None),
            limits=limits, synced=synced,
            cost_code_rule=str(advanced.get("cost_code_rule") or cost_codes.DEFAULT_RULE),
            known_cost_codes=known)
        return Observation(snapshot=snapshot, reasons=reasons,
                           source_updated_at=commitments.source_updated_at(record, lines))

    def evaluate_project(self, company_id: int, project_id: int, *,
                         actor: str) -> Item | None:
        """A Procore project sent to become a Sage job (created in Procore, added to Sage)."""
        link = self.store.get_link(company_id, "project", project_id)
        if link is not None:
            raise Conflict(f"project {project_id} is already linked to Sage job "
                           f"{link.sage_key}; a job is created in one system and then added "
                           "to the other, once", sage_job=link.sage_key)
        record = self._read(lambda p: p.get_project(project_id), company_id,
                            f"project {project_id}")
        snapshot = setup.project_snapshot(record)
        return self._direct_export(self.items.observe(
            company_id=company_id, kind="project", procore_id=project_id,
            project_id=project_id, subtype=None, snapshot=snapshot,
            reasons=setup.project_reasons(snapshot, linked_job=None), actor=actor,
            sent=True))

    def evaluate_vendor(self, company_id: int, vendor_id: int, *, actor: str) -> Item | None:
        """A Procore company sent to become a Sage vendor."""
        link = self.store.get_link(company_id, "vendor", vendor_id)
        if link is not None:
            raise Conflict(f"company {vendor_id} is already linked to Sage vendor "
                           f"{link.sage_key}", sage_vendor=link.sage_key)
        record = self._read(lambda p: p.get_vendor(vendor_id), company_id,
                            f"company {vendor_id}")
        snapshot = setup.vendor_snapshot(record, self.tax_id_key())
        wanted = matching.normalize_name(snapshot.get("name") or "")
        twin = next((r for r in self.store.list_erp_rows(company_id, "vendors")
                     if matching.normalize_name(r.get("name") or "") == wanted), None)
        if twin is not None:
            raise Conflict(f"Sage already has vendor {twin['vendor']} '{twin['name']}'; link "
                           "the company to it instead of exporting it again",
                           sage_vendor=twin["vendor"])
        settings = self.store.get_company_settings(company_id).get("advanced", {})
        reasons = setup.vendor_reasons(snapshot, linked_vendor=None,
                                       name_max=int(settings.get("vendor_name_max", 30)))
        return self._direct_export(self.items.observe(
            company_id=company_id, kind="vendor", procore_id=vendor_id, project_id=None,
            subtype=None, snapshot=snapshot, reasons=reasons, actor=actor, sent=True))

    def _read(self, call: Callable[[ProcoreClient], dict[str, Any]], company_id: int,
              noun: str) -> dict[str, Any]:
        try:
            return call(self.procore_for(company_id))
        except UpstreamNotFound as exc:
            raise NotFound(f"Procore has no {noun} (or it is not visible to the "
                           "connector's service account)") from exc

    def _direct_export(self, item: Item | None) -> Item | None:
        """With direct exports on, what becomes ready is accepted at once (audited)."""
        if item is None or item.status is not Status.READY_TO_EXPORT:
            return item
        if not self.store.get_company_settings(item.company_id).get("direct_exports"):
            return item
        return self.items.accept_direct(item)

    def _index_lines(self, company_id: int, commitment_id: int, snapshot: dict[str, Any],
                     held: Item | None) -> None:
        """Record the parent of lines not seen before (before the item write: a retry of
        the event finds them recorded or records them again)."""
        known = {line.get("id") for snap in (held.snapshot, held.pending_snapshot or {},
                                             held.synced_snapshot or {})
                 for line in snap.get("lines", [])} if held is not None else set()
        new = {int(line["id"]): commitment_id for line in snapshot.get("lines", [])
               if line.get("id") is not None and line["id"] not in known}
        if new:
            self.store.put_line_parents(company_id, new)

    def _find_parent(self, company_id: int, kind: commitments.CommitmentKind,
                     project_id: int | None, line_item_id: int | None) -> int | None:
        """The commitment holding a line item when the event did not say (payload v2.0).

        First the connector's line index (one read; also works for a deleted line), then
        the project's commitments in Procore.
        """
        if line_item_id is None or project_id is None:
            return None
        parent = self.store.get_line_parent(company_id, line_item_id)
        if parent is not None:
            return parent
        procore = self.procore_for(company_id)
        for record in procore.get_all(f"/rest/v1.0/{PATH[kind]}", {"project_id": project_id}):
            try:
                lines = procore.list_commitment_line_items(kind, project_id, record["id"])
            except ProcoreAuthError:
                raise
            except FatalUpstreamError:  # one unreadable commitment must not hide the rest
                continue
            if any(line.get("id") == line_item_id for line in lines):
                return int(record["id"])
        return None
