"""Procore vs Sage on the owner side, for the reconciliation report (job_cost_reports).

Sage's figures come from the ``receivables`` pull (relay/sage/receivable_reads.py), one row
per job (``actrec:{job}``: contract amount, approved prime change total) and per
receivable invoice (``acrinv:{recnum}``: invoiced, retention, received); its time is
answered beside. Nothing is compared before that pull has completed once: Sage's side is
then unknown, not zero.

* Prime contract (scope "prime contract"): the project's Procore prime contract linked to
  the job (link kind ``prime_contract``, made by the import from Sage), read live:
  original (``grand_total``) vs Sage's contract (actrec.cntrct), approved changes
  (``approved_change_orders``) vs the approved prime change orders (pmcgln of Approved
  prmchg), revised (``revised_contract_amount``) vs their sum. A project without a linked
  prime contract does not use the owner side: its contract is not compared.
* Owner invoices (scope "owner invoice"): each owner invoice of the project exported to
  Sage, mapped ONLY through its link (``owner_invoice`` <-> ``acrinv:{recnum}``, the key
  the export wrote): Procore's amount and retention as the item last read them, and the
  receipts recorded on the item (``erp_keys.receipts``; Procore is not written), vs Sage's
  invttl, retain and receipts. A Void Sage invoice counts as 0 (key "... (void in
  Sage)"); one missing from the pull too ("... (not in Sage)"). Receivable invoices of the
  job that no owner invoice maps to are listed "(in Sage only)", Void ones left out, and
  those linked to an owner invoice of another project are that project's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.procore_prime_contracts import list_prime_contracts
from chalicelib.adapters.store import ItemStore
from chalicelib.domain.budgets import money
from chalicelib.domain.models import Item

ZERO = Decimal("0.00")
LIST = "receivables"
CONTRACT, INVOICE = "prime contract", "owner invoice"  # the report's scopes
VOID_INVOICE = 5  # acrinv.status 5 Void

Measure = Callable[..., dict[str, Any]]


def owner_measures(store: ItemStore, procore: ProcoreClient, company_id: int,
                   project_id: int, job: str | None, measure: Measure) -> list[dict[str, Any]]:
    if job is None or not (store.get_pull_state(company_id, LIST) or {}).get("completed_at"):
        return []
    sage = {row["sage_key"]: row
            for row in store.list_erp_rows(company_id, LIST, key_prefix=f"{job}#")
            if str(row.get("job")) == str(job)}
    compared = _contract(store, procore, company_id, project_id, job, sage, measure)
    return compared + _invoices(store, company_id, project_id, job, sage, measure)


# ---- prime contract -----------------------------------------------------------------------
def _contract(store: ItemStore, procore: ProcoreClient, company_id: int, project_id: int,
              job: str, sage: Mapping[str, Mapping[str, Any]],
              measure: Measure) -> list[dict[str, Any]]:
    linked = {link.procore_id for link in store.list_links(company_id, "prime_contract")
              if link.sage_key == str(job)}
    if not linked:
        return []
    row = sage.get(f"actrec:{job}") or {}
    contract, changes = _money(row.get("contract")), _money(row.get("changes"))
    compared: list[dict[str, Any]] = []
    for record in list_prime_contracts(procore, project_id):
        if int(record["id"]) not in linked:
            continue
        original = _money(record.get("grand_total"))
        approved = _money(record.get("approved_change_orders"))
        revised = money(record.get("revised_contract_amount"))
        key = str(record.get("number") or record.get("title") or record["id"])
        if not row:
            key += " (not in Sage)"
        for name, procore_value, sage_value in (
                ("original", original, contract), ("approved changes", approved, changes),
                ("revised", original + approved if revised is None else revised,
                 contract + changes)):
            compared.append(measure(project_id, job, CONTRACT, key, name, procore_value,
                                    sage_value))
    return compared


# ---- owner invoices -----------------------------------------------------------------------
def _invoices(store: ItemStore, company_id: int, project_id: int, job: str,
              sage: Mapping[str, Mapping[str, Any]],
              measure: Measure) -> list[dict[str, Any]]:
    compared: list[dict[str, Any]] = []
    elsewhere: set[str] = set()
    seen: set[str] = set()
    for link in store.list_links(company_id, "owner_invoice"):
        item = store.get_item(company_id, "owner_invoice", link.procore_id)
        if item is None or item.project_id != project_id:
            elsewhere.add(link.sage_key)
            continue
        seen.add(link.sage_key)
        compared += _compare_invoice(project_id, job, item, sage.get(link.sage_key), measure)
    for sage_key, row in sorted(sage.items(), key=lambda kv: _recnum(kv[0])):
        if (row.get("kind") != "invoice" or sage_key in seen or sage_key in elsewhere
                or int(row.get("status") or 0) == VOID_INVOICE):
            continue
        key = f"{row.get('number') or sage_key} (in Sage only)"
        compared += [measure(project_id, job, INVOICE, key, name, ZERO, _money(row.get(field)))
                     for name, field in (("invoiced", "invoiced"), ("retention", "retention"),
                                         ("received", "received"))]
    return compared


def _compare_invoice(project_id: int, job: str, item: Item, row: Mapping[str, Any] | None,
                     measure: Measure) -> list[dict[str, Any]]:
    snap = item.snapshot
    key = str(snap.get("invoice_number") or (row or {}).get("number") or item.procore_id)
    procore = {"invoiced": _money(snap.get("amount")),
               "retention": _money(snap.get("retention")),
               "received": _total(r.get("amount") for r in item.erp_keys.get("receipts") or [])}
    if item.deleted_in_procore:
        key += " (deleted in Procore)"
        procore = dict.fromkeys(procore, ZERO)
    if row is None:
        key += " (not in Sage)"
    elif int(row.get("status") or 0) == VOID_INVOICE:
        key += " (void in Sage)"
    counted = row is not None and int(row.get("status") or 0) != VOID_INVOICE
    return [measure(project_id, job, INVOICE, key, name, procore[name],
                    _money(row.get(name)) if counted and row is not None else ZERO)
            for name in ("invoiced", "retention", "received")]


def _money(value: Any) -> Decimal:
    return money(value) or ZERO


def _total(amounts: Iterable[Any]) -> Decimal:
    return sum((_money(a) for a in amounts), ZERO)


def _recnum(sage_key: str) -> tuple[str, int]:
    table, _, number = sage_key.partition(":")
    return table, int(number) if number.isdigit() else 0
