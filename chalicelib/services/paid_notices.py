"""Paid invoice notifications: payments Sage records on exported subcontractor invoices
reach Procore as contract payments, once per payment ("Sync Paid Invoice Notifications").

The agent's ``payments`` pull lists acppmt rows; when a run completes (and on the pulls
schedule), each payment of an invoice the connector exported (link
``subcontractor_invoice`` <-> ``acpinv:{recnum}``) is written to Procore as a contract
payment of the invoice's commitment, with origin id ``acppmt:{payment}``. Once per
payment: a processed marker saves the calls, and Procore's list of the contract's
payments (by origin id) is checked before any POST, so a crash between the POST and the
marker never doubles a payment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain.budgets import money
from chalicelib.errors import FatalUpstreamError
from chalicelib.observability import count, logger


@dataclass
class PaidReport:
    reported: int = 0
    already: int = 0
    not_ours: int = 0
    refused: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class PaidInvoiceNotices:
    def __init__(self, store: ItemStore, procore_for: Callable[[int], ProcoreClient]) -> None:
        self.store = store
        self.procore_for = procore_for

    def report(self, company_id: int) -> PaidReport:
        report = PaidReport()
        for row in self.store.list_erp_rows(company_id, "payments"):
            marker = f"paid:{row['payment']}"
            if self.store.event_seen(company_id, marker):
                report.already += 1
                continue
            link = self.store.get_link_by_sage(company_id, "subcontractor_invoice",
                                               f"acpinv:{row['invoice']}")
            item = (self.store.get_item(company_id, "subcontractor_invoice", link.procore_id)
                    if link is not None else None)
            if item is None:
                report.not_ours += 1  # an invoice entered in Sage, not exported by us
                self.store.mark_event_seen(company_id, marker, "not_ours")
                continue
            try:
                outcome = self._report(company_id, item.project_id or 0,
                                       int(item.snapshot.get("commitment_id") or 0),
                                       item.procore_id, row)
            except FatalUpstreamError as exc:  # shown in the log; the next run tries again
                logger.error("paid notice refused by Procore", payment=row["payment"],
                             requisition=item.procore_id, error=exc.message)
                report.refused += 1
                continue
            self.store.mark_event_seen(company_id, marker, outcome)
            setattr(report, outcome, getattr(report, outcome) + 1)
        count("PaidNoticesSent", report.reported)
        logger.info("paid invoice notifications", **report.as_dict())
        return report

    def _report(self, company_id: int, project_id: int, contract_id: int, requisition_id: int,
                row: dict[str, Any]) -> str:
        procore = self.procore_for(company_id)
        origin = f"acppmt:{row['payment']}"
        held = procore.get_all("/rest/v1.0/contract_payments",
                               {"project_id": project_id, "contract_id": contract_id})
        if any(p.get("origin_id") == origin for p in held):
            return "already"
        procore.post("/rest/v1.0/contract_payments", {
            "project_id": project_id, "contract_id": contract_id, "contract_payment": {
                "date": row["date"], "amount": money(row["amount"]),
                "check_number": row.get("check_number") or None, "payment_method": "check",
                "requisition_id": requisition_id, "origin_id": origin}})
        return "reported"
