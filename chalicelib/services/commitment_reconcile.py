"""Procore vs Sage per commitment, for the reconciliation report.

A Procore commitment and a Sage subcontract or purchase order are the same one only
through their link (the export wrote it); a Sage commitment of the job with no link is
listed as in Sage only (entered there, or its link removed). Procore's figures are read
live (the commitment lists' amounts); Sage's come from the ``commitments`` pull (subcon /
pchord totals and the payable invoices naming them), whose time is answered beside.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain.budgets import money

ZERO = Decimal("0.00")
KINDS = {"work_order_contract": "subcontract", "purchase_order_contract": "purchase_order"}
# measure -> (Procore's key, the Sage pull's key); a purchase order has no Sage
# original/changes columns (pchord keeps one total), so those are not compared for it.
MEASURES = (("original", "grand_total", "original"),
            ("changes", "approved_change_orders", "changes"),
            ("total", "revised_contract", "total"),
            ("invoiced", "total_requisitions_amount", "invoiced"),
            ("paid", "total_payments", "paid"))

Measure = Callable[..., dict[str, Any]]


def commitment_measures(store: ItemStore, procore: ProcoreClient, company_id: int,
                        project_id: int, job: str | None,
                        measure: Measure) -> list[dict[str, Any]]:
    sage = {row["sage_key"]: row
            for row in store.list_erp_rows(company_id, "commitments", key_prefix=f"{job}#")
            if str(row.get("job")) == str(job)}
    links = {link.procore_id: link.sage_key for link in store.list_links(company_id,
                                                                         "commitment")}
    compared: list[dict[str, Any]] = []
    seen: set[str] = set()
    for kind in KINDS:
        for record in procore.list_commitments(kind, project_id):
            sage_key = links.get(int(record["id"]))
            if sage_key is None:
                continue  # never exported: nothing in Sage to compare with
            seen.add(sage_key)
            row = sage.get(sage_key)
            number = str(record.get("number") or record["id"])
            compared += _compare(project_id, job, number, record, row, measure)
    for sage_key, row in sorted(sage.items()):
        if sage_key not in seen and not _linked_elsewhere(sage_key, links, seen):
            compared += _compare(project_id, job, f"{row['number']} (in Sage only)", {},
                                 row, measure)
    return compared


def _linked_elsewhere(sage_key: str, links: Mapping[int, str], seen: set[str]) -> bool:
    """Linked to a Procore commitment of another project: not this project's business."""
    return sage_key in links.values() and sage_key not in seen


def _compare(project_id: int, job: str | None, number: str, procore: Mapping[str, Any],
             sage: Mapping[str, Any] | None, measure: Measure) -> list[dict[str, Any]]:
    rows = []
    for name, procore_key, sage_key in MEASURES:
        if sage is not None and sage.get(sage_key) is None:
            continue  # a purchase order's original / changes
        rows.append(measure(project_id, job, "commitment", number, name,
                            money(procore.get(procore_key)) or ZERO,
                            money((sage or {}).get(sage_key)) or ZERO))
    return rows
