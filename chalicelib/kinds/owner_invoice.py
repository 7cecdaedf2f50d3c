"""The owner invoice kind: item ``owner_invoice-{payment application id}``.

An approved Procore payment application (owner invoice) on a linked prime contract
becomes a Sage receivable invoice: acrinv + one arivln (domain/owner_invoices.py says why
one), posted to the period of the billing date, with the retention Procore withheld this
period. The origin id written back to the payment application is ``acrinv:{recnum}``; the
origin code is the Sage invoice number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from pydantic import ValidationError

from chalicelib.domain.budgets import money
from chalicelib.domain.models import Item
from chalicelib.domain.observations import not_modifiable
from chalicelib.domain.sage_mapping import MappingError, first_error, packed_command
from chalicelib.kinds import ExportContext
from chalicelib.relay_protocol import (
    Command,
    CommandType,
    ReceivableInvoiceLine,
    ReceivableInvoicePayload,
)

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient

PAY_APP_PATH = "/rest/v1.0/prime_contracts/{contract}/payment_applications/{id}"


def description(snap: Mapping[str, object]) -> str:
    """acrinv.dscrpt: the prime contract's title and the pay app number, within 50."""
    tail = f" pay app {snap.get('number')}"
    head = str(snap.get("prime_contract_title") or "Owner invoice")
    return (head[:50 - len(tail)] + tail).strip()


class OwnerInvoiceKind:
    name = "owner_invoice"
    link_kind = "owner_invoice"
    after_sync = staticmethod(not_modifiable("owner invoice"))

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        snap = item.snapshot
        if ctx.project_link is None:
            raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
        store = ctx.store
        contract = int(snap.get("prime_contract_id") or 0)
        if store is not None and store.get_link(item.company_id, "prime_contract",
                                                contract) is None:
            raise MappingError(f"prime contract {contract} is no longer linked to Sage")
        if not snap.get("cost_code"):
            raise MappingError("the owner invoice has no Sage cost code")
        try:
            payload = ReceivableInvoicePayload(
                job=int(ctx.project_link.sage_key),
                invoice_number=str(snap.get("invoice_number") or "").strip(),
                description=description(snap),
                invoice_date=date.fromisoformat(str(snap.get("billing_date"))[:10]),
                lines=[ReceivableInvoiceLine(
                    line_number=1, description=f"Billed this period{_period(snap)}"[:50],
                    cost_code=str(snap["cost_code"]), amount=money(snap.get("amount")),
                    retention=money(snap.get("retention")))])
        except ValidationError as exc:
            raise first_error(exc) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise MappingError(f"the owner invoice cannot be mapped ({exc})") from exc
        return packed_command(item.command_id or "", item,
                              CommandType.ADD_RECEIVABLE_INVOICE, version, payload, issued_at)

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        return f"acrinv:{keys.get('acrinv')}", str(keys.get("invnum") or item.number)

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        origin_id, _ = self.sage_identity(item, keys)
        self._patch(procore, item, origin_id)
        return None

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        self._patch(procore, item, None)
        return None

    @staticmethod
    def _patch(procore: ProcoreClient, item: Item, origin_id: str | None) -> None:
        # Once exported the payment application takes only origin fields (the sandbox's
        # and Procore's rule), so nothing else is sent.
        path = PAY_APP_PATH.format(contract=int(item.snapshot.get("prime_contract_id") or 0),
                                   id=item.procore_id)
        procore.patch(path, {"project_id": int(item.project_id or 0),
                             "payment_application": {"origin_id": origin_id}})


def _period(snap: Mapping[str, object]) -> str:
    start, end = snap.get("period_start"), snap.get("period_end")
    return f" {start} - {end}" if start and end else ""


KIND = OwnerInvoiceKind()
