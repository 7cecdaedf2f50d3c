"""The subcontractor invoice kind: item ``subcontractor_invoice-{requisition id}``.

An approved Procore requisition on a synced subcontract becomes a Sage payable invoice:
acpinv + one apivln per billed line + its job cost distribution (jobcst), posted to the
period of the billing date. The origin written back to the requisition is
``acpinv:{recnum}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from pydantic import ValidationError

from chalicelib.domain import invoices
from chalicelib.domain.cost_codes import DEFAULT_RULE
from chalicelib.domain.models import Item
from chalicelib.domain.observations import not_modifiable
from chalicelib.domain.sage_mapping import (
    MappingError,
    first_error,
    packed_command,
    sage_cost_code,
    sage_cost_type,
)
from chalicelib.kinds import ExportContext
from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PayableInvoiceLine,
    PayableInvoicePayload,
)

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient


class SubcontractorInvoiceKind:
    name = "subcontractor_invoice"
    link_kind = "subcontractor_invoice"
    after_sync = staticmethod(not_modifiable("subcontractor invoice"))

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        snap = item.snapshot
        store = ctx.store
        commitment = (store.get_item(item.company_id, "commitment",
                                     int(snap.get("commitment_id") or 0)) if store else None)
        if commitment is None or commitment.synced_snapshot is None:
            raise MappingError("the subcontract is not in Sage; export it first")
        if ctx.project_link is None:
            raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
        vendor = (commitment.synced_snapshot.get("vendor") or {}).get("id")
        vendor_link = store.get_link(item.company_id, "vendor", int(vendor or 0)) \
            if store else None
        if vendor_link is None:
            raise MappingError("the subcontract's company is no longer linked to a Sage vendor")
        rule = str(ctx.advanced.get("cost_code_rule") or DEFAULT_RULE)
        try:
            payload = PayableInvoicePayload(
                job=int(ctx.project_link.sage_key), vendor=int(vendor_link.sage_key),
                subcontract=int(commitment.erp_keys["subcon"]),
                subcontract_number=str(commitment.erp_keys.get("ctcnum") or commitment.number),
                invoice_number=str(snap.get("invoice_number") or ""),
                description=f"{commitment.number} pay app {snap.get('number')}"[:50],
                invoice_date=date.fromisoformat(str(snap.get("billing_date"))[:10]),
                lines=[PayableInvoiceLine(
                    line_number=n, subcontract_line=int(line["sage_line"]),
                    description=str(line.get("description") or "")[:50],
                    cost_code=sage_cost_code(line.get("cost_code"), rule),
                    cost_type=sage_cost_type(line.get("line_item_type"), ctx.cost_types),
                    amount=invoices.money(line.get("amount")),
                    retention=invoices.money(line.get("retention")))
                    for n, line in enumerate(snap.get("lines") or [], 1)])
        except MappingError:
            raise
        except ValidationError as exc:
            raise first_error(exc) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise MappingError(f"the invoice cannot be mapped ({exc})") from exc
        return packed_command(item.command_id or "", item, CommandType.ADD_PAYABLE_INVOICE,
                              version, payload, issued_at)

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        return f"acpinv:{keys.get('acpinv')}", str(keys.get("invnum") or item.number)

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        origin_id, _ = self.sage_identity(item, keys)
        procore.update_requisition(int(item.project_id or 0),
                                   int(item.snapshot.get("commitment_id") or 0),
                                   item.procore_id, {"origin_id": origin_id})
        return None

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        procore.update_requisition(int(item.project_id or 0),
                                   int(item.snapshot.get("commitment_id") or 0),
                                   item.procore_id, {"origin_id": None})
        return None


KIND = SubcontractorInvoiceKind()

