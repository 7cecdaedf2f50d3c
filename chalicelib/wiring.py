"""Builds the adapters and services once per process, on first use.

Handlers call these getters; tests call ``reset()`` after pointing the environment at a
fresh emulator. Nothing here runs at import time.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib import aws
from chalicelib.settings import get_settings, read_secret

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient, ProcoreTokenProvider
    from chalicelib.adapters.queues import FifoQueue
    from chalicelib.adapters.store import ItemStore
    from chalicelib.auth import TokenVerifier
    from chalicelib.domain.models import Item
    from chalicelib.services.budget_import import BudgetImportService
    from chalicelib.services.budget_reconcile import BudgetReconcile
    from chalicelib.services.company_settings import CompanySettingsService
    from chalicelib.services.erp_lists import ErpLists
    from chalicelib.services.exporter import ExporterService
    from chalicelib.services.inbox_status import InboxStatus
    from chalicelib.services.intake import IntakeService
    from chalicelib.services.items import ItemService
    from chalicelib.services.job_cost_reports import JobCostReports
    from chalicelib.services.job_cost_sync import JobCostSync
    from chalicelib.services.link_views import LinkViews
    from chalicelib.services.notifications import ApproverNotifications
    from chalicelib.services.owner_receipts import OwnerReceipts
    from chalicelib.services.paid_notices import PaidInvoiceNotices
    from chalicelib.services.preview import ExportPreview
    from chalicelib.services.prime_contract_import import PrimeContractImportService
    from chalicelib.services.quarantine import QuarantineService
    from chalicelib.services.reports import Reports
    from chalicelib.services.results import ResultsService
    from chalicelib.services.setup import SetupService
    from chalicelib.services.sweeper import SweeperService
    from chalicelib.services.unlink import UnlinkService

_procore_lock = threading.Lock()
_procore_clients: dict[int, ProcoreClient] = {}


@lru_cache(maxsize=1)
def get_store() -> ItemStore:
    from chalicelib.adapters.store import ItemStore

    return ItemStore(get_settings().table_name, aws.client("dynamodb"))


@lru_cache(maxsize=1)
def get_inbound_queue() -> FifoQueue:
    from chalicelib.adapters.queues import FifoQueue

    return FifoQueue(get_settings().inbound_queue_url, aws.client("sqs"), name="inbound events")


@lru_cache(maxsize=1)
def get_export_queue() -> FifoQueue:
    from chalicelib.adapters.queues import FifoQueue

    return FifoQueue(get_settings().export_queue_url, aws.client("sqs"), name="exports")


@lru_cache(maxsize=1)
def get_relay_commands_queue() -> FifoQueue:
    from chalicelib.adapters.queues import FifoQueue

    return FifoQueue(get_settings().relay_commands_queue_url, aws.client("sqs"),
                     name="relay commands")


@lru_cache(maxsize=1)
def get_exporter() -> ExporterService:
    from chalicelib.services.exporter import ExporterService

    return ExporterService(get_store(), get_item_service(), get_relay_commands_queue(),
                           get_settings().cost_type_map, procore_for=get_procore)


@lru_cache(maxsize=1)
def get_sweeper() -> SweeperService:
    from chalicelib.services.sweeper import SweeperService

    settings = get_settings()
    return SweeperService(get_store(), get_item_service(),
                          stuck_after_seconds=settings.stuck_after_seconds,
                          max_redrives=settings.max_redrives,
                          agent_silent_seconds=settings.export_stale_seconds)


@lru_cache(maxsize=1)
def get_results() -> ResultsService:
    from chalicelib.services.results import ResultsService

    results = ResultsService(get_store(), get_item_service(), get_procore, get_erp_lists(),
                             context_for=get_exporter().export_context,
                             job_costs=get_job_cost_sync)
    # The prime contract import's read of the job's contract comes back as a Result.
    results.reads["import:prime_contract:"] = (
        lambda result: get_prime_contract_import().handle_result(result))
    # An imported vendor's tax id: Sage's vendor list read again, set in Procore.
    from chalicelib.services.vendor_tax_ids import TAX_ID_READ, VendorTaxIdRead

    results.reads[TAX_ID_READ] = VendorTaxIdRead(get_store(), get_procore).handle
    return results


@lru_cache(maxsize=1)
def get_inbox_status() -> InboxStatus:
    from chalicelib.services.inbox_status import InboxStatus

    settings = get_settings()
    return InboxStatus(get_store(), agent_silent_seconds=settings.export_stale_seconds,
                       stuck_after_seconds=settings.stuck_after_seconds)


@lru_cache(maxsize=1)
def get_job_cost_reports() -> JobCostReports:
    from chalicelib.services.job_cost_reports import JobCostReports

    return JobCostReports(get_store(), get_procore, get_settings().cost_type_map)


@lru_cache(maxsize=1)
def get_job_cost_sync() -> JobCostSync:
    from chalicelib.services.job_cost_sync import JobCostSync

    return JobCostSync(get_store(), get_relay_commands_queue(), get_procore,
                       get_settings().cost_type_map)


@lru_cache(maxsize=1)
def get_erp_lists() -> ErpLists:
    from chalicelib.services.erp_lists import ErpLists

    lists = ErpLists(get_store(), get_relay_commands_queue())
    # A budget import waits for Sage's budget lines: it runs when their pull completes.
    lists.on_complete["budgets"] = lambda company_id: get_budget_import().resume(company_id)
    # Payments Sage recorded on exported invoices go to Procore once the pull is whole.
    lists.on_complete["payments"] = lambda company_id: get_paid_notices().report(company_id)
    # Receipts of exported owner invoices are recorded on their items (owner_receipts).
    lists.on_complete["receipts"] = lambda company_id: get_owner_receipts().report(company_id)
    return lists


def get_owner_receipts() -> OwnerReceipts:
    from chalicelib.services.owner_receipts import OwnerReceipts

    return OwnerReceipts(get_store(), get_procore)


@lru_cache(maxsize=1)
def get_reports() -> Reports:
    from chalicelib.services.reports import Reports

    return Reports(get_store())


@lru_cache(maxsize=1)
def get_paid_notices() -> PaidInvoiceNotices:
    from chalicelib.services.paid_notices import PaidInvoiceNotices

    return PaidInvoiceNotices(get_store(), get_procore)


@lru_cache(maxsize=1)
def get_budget_reconcile() -> BudgetReconcile:
    from chalicelib.services.budget_reconcile import BudgetReconcile

    return BudgetReconcile(get_store(), get_inbound_queue())


@lru_cache(maxsize=1)
def get_export_preview() -> ExportPreview:
    from chalicelib.services.preview import ExportPreview

    return ExportPreview(get_store(), get_item_service(), get_exporter())


@lru_cache(maxsize=1)
def get_budget_import() -> BudgetImportService:
    from chalicelib.services.budget_import import BudgetImportService

    return BudgetImportService(get_store(), get_erp_lists(), get_procore,
                               get_settings().cost_type_map)


@lru_cache(maxsize=1)
def get_prime_contract_import() -> PrimeContractImportService:
    from chalicelib.adapters.store_prime_contracts import PrimeContractImports
    from chalicelib.services.prime_contract_import import PrimeContractImportService

    imports = PrimeContractImports(get_settings().table_name, aws.client("dynamodb"))
    return PrimeContractImportService(get_store(), imports, get_relay_commands_queue(),
                                      get_procore)


@lru_cache(maxsize=1)
def get_company_settings() -> CompanySettingsService:
    from chalicelib.services.company_settings import CompanySettingsService

    return CompanySettingsService(get_store(), get_erp_lists())


@lru_cache(maxsize=1)
def get_setup() -> SetupService:
    from chalicelib.services.setup import SetupService

    return SetupService(get_store(), get_erp_lists(), get_procore)


@lru_cache(maxsize=1)
def get_link_views() -> LinkViews:
    from chalicelib.services.link_views import LinkViews

    return LinkViews(get_store())


@lru_cache(maxsize=1)
def get_item_service() -> ItemService:
    from chalicelib.services.items import ItemService
    from chalicelib.settings import four_eyes_on

    return ItemService(get_store(), get_export_queue(),
                       stale_after_seconds=get_settings().export_stale_seconds,
                       four_eyes=four_eyes_on(get_settings()),
                       on_ready=_item_ready if get_settings().notify_from_email else None)


def _item_ready(item: Item) -> None:
    get_notifications().item_ready(item)


@lru_cache(maxsize=1)
def get_notifications() -> ApproverNotifications:
    from chalicelib.adapters.mailer import Mailer
    from chalicelib.adapters.store_notices import NoticeRecords
    from chalicelib.services.notifications import ApproverNotifications

    settings = get_settings()
    mailer = (Mailer(settings.notify_from_email, aws.client("sesv2"))
              if settings.notify_from_email else None)
    return ApproverNotifications(
        get_store(), NoticeRecords(settings.table_name, aws.client("dynamodb")), mailer,
        inbox_url=settings.inbox_url, digest_hour_utc=settings.notify_digest_hour_utc)


@lru_cache(maxsize=1)
def get_token_provider() -> ProcoreTokenProvider:
    from chalicelib.adapters.procore import ProcoreTokenProvider

    settings = get_settings()
    return ProcoreTokenProvider(
        auth_url=settings.procore_auth_url, client_id=settings.procore_client_id,
        client_secret=read_secret(settings, "procore_client_secret"))


def get_procore(company_id: int) -> ProcoreClient:
    """One client per company (its own Procore-Company-Id), sharing one OAuth token."""
    from chalicelib.adapters.procore import ProcoreClient

    with _procore_lock:
        if company_id not in _procore_clients:
            _procore_clients[company_id] = ProcoreClient(
                get_settings().procore_base_url, get_token_provider(), company_id)
        return _procore_clients[company_id]


@lru_cache(maxsize=1)
def get_intake() -> IntakeService:
    from chalicelib.domain.commitments import Limits
    from chalicelib.services.intake import IntakeService

    settings = get_settings()
    return IntakeService(get_store(), get_item_service(), get_procore,
                         Limits(number_max=settings.commitment_number_max,
                                title_max=settings.commitment_title_max),
                         cost_types=settings.cost_type_map)


@lru_cache(maxsize=1)
def get_verifier() -> TokenVerifier:
    from chalicelib.auth import TokenVerifier

    settings = get_settings()
    if settings.jwt_jwks_url:
        return TokenVerifier(issuer=settings.jwt_issuer, audience=settings.jwt_audience or None,
                             jwks_url=settings.jwt_jwks_url)
    return TokenVerifier(issuer=settings.jwt_issuer, audience=settings.jwt_audience or None,
                         public_key_pem=read_secret(settings, "jwt_public_key_pem"))


def reset() -> None:
    """Forget every built object (tests use a fresh emulator and environment each time)."""
    # Every cached getter of this module (new ones are covered without being listed).
    getters = [v for v in globals().values() if callable(getattr(v, "cache_clear", None))]
    for getter in (*getters, get_settings):
        getter.cache_clear()
    with _procore_lock:
        _procore_clients.clear()
    aws.reset_clients()


@lru_cache(maxsize=1)
def get_quarantine() -> QuarantineService:
    from chalicelib.adapters.quarantine import QuarantineStore
    from chalicelib.services.quarantine import QuarantineService

    settings = get_settings()
    return QuarantineService(QuarantineStore(settings.table_name, aws.client("dynamodb")),
                             settings, get_inbound_queue())


if TYPE_CHECKING:
    from chalicelib.services.reconcile import ReconcileService


def get_reconciler() -> ReconcileService:
    """Built on each call from the cached pieces (nothing to forget in ``reset``)."""
    from chalicelib.services.reconcile import ReconcileService

    settings = get_settings()
    return ReconcileService(get_store(), get_inbound_queue(), get_procore,
                            overlap_seconds=settings.reconcile_overlap_seconds,
                            lookback_minutes=settings.reconcile_lookback_minutes)


@lru_cache(maxsize=1)
def get_unlinker() -> UnlinkService:
    from chalicelib.services.unlink import UnlinkService

    return UnlinkService(get_store(), get_item_service(), get_procore)
