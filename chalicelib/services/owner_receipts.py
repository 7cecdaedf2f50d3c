"""Owner invoice receipts: cash Sage received against exported owner invoices (acrpmt),
recorded once per receipt on the owner invoice's item ("reported back as paid").

The agent's ``receipts`` pull lists acrpmt rows with their invoice; when a run completes
(on the pulls schedule, and on demand with ``POST /sync/paid-invoices``), each receipt of
an invoice the connector exported (link ``owner_invoice`` <-> ``acrinv:{recnum}``) is
added to the item's ``erp_keys["receipts"]`` with the amount, date and check number, and
the item's ``erp_keys["paid"]`` turns true once Sage's balance is 0 (the retention
received too). Procore's reference documents no endpoint for an owner invoice's payments
(contract payments are a commitment's, by ``requisition_id``) and no "paid" status, so
the receipts reach Procore in the one documented field an exported payment application
still takes: ``origin_data`` ("third party data"), rewritten whole with Sage's invoice,
what was received, the balance and whether it is paid (docs/decisions.md, "Owner invoice
receipts are kept on the item and told to Procore in origin_data"). Writing the whole
state makes the write idempotent: a run that stopped after recording retries it.

Once per receipt: a processed marker (``receipt:{id}``) saves the work, and the item's
list is checked by receipt id before adding, so a crash between the item write and the
marker never records a receipt twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.adapters.store_base import StaleItem
from chalicelib.domain.models import Item, utc_now
from chalicelib.errors import FatalUpstreamError, ServiceUnavailable
from chalicelib.observability import count, logger

KIND = "owner_invoice"
PAID_STATUS = 4  # acrinv.status 4 Paid
ATTEMPTS = 5


@dataclass
class ReceiptReport:
    recorded: int = 0
    already: int = 0
    not_ours: int = 0
    told_procore: int = 0
    procore_refused: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def receipt_entry(row: dict[str, Any], at: str) -> dict[str, Any]:
    """What the item keeps of one receipt (amounts as Sage's decimal text)."""
    return {"receipt": row["receipt"], "check_number": row.get("check_number"),
            "date": row.get("date"), "amount": row.get("amount"),
            "invoice_balance": row.get("invoice_balance"), "recorded_at": at}


def origin_data(item: Item) -> str:
    """What Procore's payment application is told of Sage's receipts (JSON text)."""
    receipts = item.erp_keys.get("receipts") or []
    return json.dumps({"sage": {
        "invoice": item.erp_keys.get("acrinv"), "received": received_total(item),
        "balance": receipts[-1].get("invoice_balance") if receipts else None,
        "paid": bool(item.erp_keys.get("paid")),
        "receipts": [{k: r.get(k) for k in ("receipt", "date", "check_number", "amount")}
                     for r in receipts]}}, separators=(",", ":"))


class OwnerReceipts:
    def __init__(self, store: ItemStore,
                 procore_for: Callable[[int], Any] | None = None) -> None:
        self.store = store
        self.procore_for = procore_for

    def report(self, company_id: int) -> ReceiptReport:
        report = ReceiptReport()
        for row in self.store.list_erp_rows(company_id, "receipts"):
            marker = f"receipt:{row['receipt']}"
            if self.store.event_seen(company_id, marker):
                report.already += 1
                continue
            link = self.store.get_link_by_sage(company_id, KIND, f"acrinv:{row['invoice']}")
            if link is None:
                report.not_ours += 1  # an invoice entered in Sage, not exported by us
                self.store.mark_event_seen(company_id, marker, "not_ours")
                continue
            outcome = self._record(company_id, link.procore_id, row)
            if outcome != "not_ours":
                self._tell_procore(company_id, link.procore_id, report)
            self.store.mark_event_seen(company_id, marker, outcome)
            setattr(report, outcome, getattr(report, outcome) + 1)
        count("OwnerReceiptsRecorded", report.recorded)
        logger.info("owner invoice receipts", **report.as_dict())
        return report

    def _record(self, company_id: int, procore_id: int, row: dict[str, Any]) -> str:
        for _ in range(ATTEMPTS):
            item = self.store.get_item(company_id, KIND, procore_id)
            if item is None:
                return "not_ours"
            held = list(item.erp_keys.get("receipts") or [])
            if any(r.get("receipt") == row["receipt"] for r in held):
                return "already"
            new = item.model_copy(deep=True)
            paid = int(row.get("invoice_status") or 0) == PAID_STATUS
            new.erp_keys = {**item.erp_keys, "receipts": [*held, receipt_entry(row, utc_now())],
                            "paid": paid or bool(item.erp_keys.get("paid"))}
            try:
                self.store.save_fields(new)
            except StaleItem:
                continue
            logger.info("owner invoice receipt recorded", item_id=item.item_id,
                        receipt=row["receipt"], amount=row.get("amount"), paid=paid)
            return "recorded"
        raise ServiceUnavailable(f"owner invoice {procore_id} kept changing; will retry")


    def _tell_procore(self, company_id: int, procore_id: int, report: ReceiptReport) -> None:
        """Rewrite the payment application's origin_data with every receipt so far. A
        refusal is logged and counted (the receipt stays recorded); an outage raises, so
        the marker is not set and the next run writes again."""
        item = self.store.get_item(company_id, KIND, procore_id)
        if item is None or self.procore_for is None:
            return
        from chalicelib.kinds.owner_invoice import PAY_APP_PATH

        path = PAY_APP_PATH.format(contract=int(item.snapshot.get("prime_contract_id") or 0),
                                   id=item.procore_id)
        try:
            self.procore_for(company_id).patch(path, {
                "project_id": int(item.project_id or 0),
                "payment_application": {"origin_data": origin_data(item)}})
        except FatalUpstreamError as exc:
            report.procore_refused += 1
            count("OwnerReceiptsRefusedByProcore")
            logger.warning("Procore refused an owner invoice's receipts", item_id=item.item_id,
                           problem=exc.message)
            return
        report.told_procore += 1


def received_total(item: Item) -> str:
    """The receipts recorded on ``item``, summed (decimal text, for views)."""
    total = sum((Decimal(str(r.get("amount") or "0"))
                 for r in item.erp_keys.get("receipts") or []), Decimal("0.00"))
    return str(total.quantize(Decimal("0.01")))
