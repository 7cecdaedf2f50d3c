"""The ERP Integrations permission matrix (reference/permissions.md) as data plus ``can``.

Every route names one ``Permission``; ``require`` raises Forbidden naming the action and
what it needs. Levels are the connector's own records of each user (managed by company
admins), not Procore's, because Procore's ERP permission API is partner-gated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from chalicelib.errors import Forbidden


class Level(IntEnum):
    NONE = 0
    READ_ONLY = 1
    STANDARD = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str | int | Level) -> Level:
        if isinstance(value, int):
            return cls(value)
        return cls[value.strip().upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


class Tool(StrEnum):
    """Procore tools whose level some actions need besides (or instead of) ERP's."""

    ERP = "erp_integrations"
    COMMITMENTS = "commitments"
    CHANGE_ORDERS = "change_orders"
    BUDGET = "budget"
    PRIME_CONTRACT = "prime_contract"
    INVOICING = "invoicing"
    DIRECTORY = "directory"
    REPORTS = "reports"
    PROJECTS = "projects"


# The Procore tool that holds each item kind: its admins send, retrieve and resend.
TOOL_FOR_KIND: dict[str, Tool] = {
    "commitment": Tool.COMMITMENTS,
    "cco": Tool.CHANGE_ORDERS,
    "budget": Tool.BUDGET,
    "vendor": Tool.DIRECTORY,
    "project": Tool.PROJECTS,
    "subcontractor_invoice": Tool.INVOICING,
    "prime_contract": Tool.PRIME_CONTRACT,
    "pcco": Tool.CHANGE_ORDERS,
    "owner_invoice": Tool.INVOICING,
    "sub_job": Tool.PROJECTS,
    "cost_code": Tool.PROJECTS,
}


@dataclass(frozen=True)
class User:
    subject: str
    company_id: int
    erp_level: Level = Level.NONE
    can_push_to_accounting: bool = False
    tool_levels: dict[str, Level] = field(default_factory=dict)
    privileges: frozenset[str] = frozenset()  # granular, e.g. "create_new_project"
    name: str | None = None
    # Approver e-mails (services/notifications): where, and "immediate" | "daily" | "off".
    email: str | None = None
    notify: str = "off"

    def tool(self, tool: Tool) -> Level:
        if tool is Tool.ERP:
            return self.erp_level
        return self.tool_levels.get(tool.value, Level.NONE)

    @property
    def is_accounting_approver(self) -> bool:
        return self.erp_level >= Level.STANDARD and self.can_push_to_accounting


class Permission(StrEnum):
    READ_INBOX = "read the inbox"
    ACCEPT_OR_REJECT = "accept or reject items for export"
    SEND_RETRIEVE_RESEND = "send, retrieve or resend items for accounting acceptance"
    ADD_PROJECT_TO_ERP = "add a Procore project to the ERP"
    ADD_ERP_COMPANY_TO_DIRECTORY = "add an ERP company to the Procore company directory"
    ADD_ERP_JOB_TO_PROCORE = "add an ERP job to Procore"
    ARCHIVE_ERP_COMPANY = "archive an ERP company in Procore"
    ASSIGN_DEFAULT_COST_TYPES = "assign default cost types to ERP standard cost codes"
    CONFIGURE_ADVANCED_SETTINGS = "configure advanced settings"
    CONFIGURE_SYNC_SCHEDULE = "configure the sync schedule"
    TOGGLE_DIRECT_EXPORTS = "enable or disable ERP direct exports"
    IMPORT_BUDGET = "import a budget from the ERP"
    IMPORT_PRIME_CONTRACT = "import a prime contract from the ERP"
    IMPORT_SUB_JOB = "import an ERP sub job to a Procore project"
    LINK_COMPANIES = "link ERP companies to Procore companies"
    REFRESH_COMPANIES = "refresh the companies list"
    REFRESH_COST_CODES = "refresh the cost codes on an ERP-integrated project"
    SYNC_JOB_COSTS = "sync job cost transactions from the ERP"
    SYNC_PAID_INVOICES = "sync paid invoice notifications from the ERP"
    UNLINK = "unlink items synced with the ERP"
    VIEW_SYNCED_SUB_JOBS = "view the list of synced sub jobs"
    VIEW_ACCOUNTANT_REPORT = "view the accountant report"
    VIEW_JOB_COSTS_REPORT_COMPANY = "view the ERP job costs report (company level)"
    VIEW_JOB_COSTS_REPORT_PROJECT = "view the ERP job costs report (project level)"
    VIEW_UNSYNCABLE_DIRECT_COSTS = "view the ERP unsyncable direct costs report"
    VIEW_ARCHIVED_COMPANIES = "view the archived companies list"
    MANAGE_USERS = "manage connector users and their levels"
    MANAGE_QUARANTINE = "list and replay quarantined webhook deliveries"
    VIEW_RECONCILIATION_REPORT = "view the reconciliation report (Procore vs Sage)"


@dataclass(frozen=True)
class Rule:
    needs: str  # what the 403 says is required
    check: Callable[[User, str | None], bool]


def _erp(minimum: Level) -> Callable[[User, str | None], bool]:
    return lambda user, _kind: user.erp_level >= minimum


def _reports_and_budget_or_prime(user: User, _kind: str | None) -> bool:
    return user.tool(Tool.REPORTS) >= Level.READ_ONLY and (
        user.tool(Tool.BUDGET) >= Level.ADMIN or user.tool(Tool.PRIME_CONTRACT) >= Level.ADMIN
    )


def _admin_on_item_tool(user: User, kind: str | None) -> bool:
    tool = TOOL_FOR_KIND.get(kind or "")
    return tool is not None and user.tool(tool) >= Level.ADMIN


def _synced_sub_jobs(user: User, _kind: str | None) -> bool:
    directory = user.tool(Tool.DIRECTORY)
    return user.erp_level >= Level.STANDARD and (
        directory >= Level.ADMIN
        or (directory >= Level.STANDARD and "create_new_project" in user.privileges)
    )


_STD = "ERP Integrations standard or admin"
_ADMIN = "ERP Integrations admin"
_REPORTS = ("read_only or above on Reports and admin on Budget or on Prime Contract")

P = Permission
MATRIX: dict[Permission, Rule] = {
    P.READ_INBOX: Rule("ERP Integrations read_only or above", _erp(Level.READ_ONLY)),
    P.ACCEPT_OR_REJECT: Rule(
        f"{_STD} with the Can Push to Accounting privilege (accounting approver)",
        lambda user, _kind: user.is_accounting_approver,
    ),
    P.SEND_RETRIEVE_RESEND: Rule(
        "admin on the Procore tool that holds the item", _admin_on_item_tool
    ),
    P.ADD_PROJECT_TO_ERP: Rule(_STD, _erp(Level.STANDARD)),
    P.ADD_ERP_COMPANY_TO_DIRECTORY: Rule(_STD, _erp(Level.STANDARD)),
    P.ADD_ERP_JOB_TO_PROCORE: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.ARCHIVE_ERP_COMPANY: Rule(_STD, _erp(Level.STANDARD)),
    P.ASSIGN_DEFAULT_COST_TYPES: Rule(_STD, _erp(Level.STANDARD)),
    P.CONFIGURE_ADVANCED_SETTINGS: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.CONFIGURE_SYNC_SCHEDULE: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.TOGGLE_DIRECT_EXPORTS: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.IMPORT_BUDGET: Rule(_STD, _erp(Level.STANDARD)),
    P.IMPORT_PRIME_CONTRACT: Rule(_STD, _erp(Level.STANDARD)),
    P.IMPORT_SUB_JOB: Rule(_STD, _erp(Level.STANDARD)),
    P.LINK_COMPANIES: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.REFRESH_COMPANIES: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.REFRESH_COST_CODES: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.SYNC_JOB_COSTS: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.SYNC_PAID_INVOICES: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.UNLINK: Rule(_STD, _erp(Level.STANDARD)),
    P.VIEW_SYNCED_SUB_JOBS: Rule(
        f"{_STD}, plus admin on the company Directory (or standard there with the "
        "Create New Project privilege)",
        _synced_sub_jobs,
    ),
    P.VIEW_ACCOUNTANT_REPORT: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.VIEW_JOB_COSTS_REPORT_COMPANY: Rule(_ADMIN, _erp(Level.ADMIN)),
    P.VIEW_JOB_COSTS_REPORT_PROJECT: Rule(_REPORTS, _reports_and_budget_or_prime),
    P.VIEW_UNSYNCABLE_DIRECT_COSTS: Rule(_REPORTS, _reports_and_budget_or_prime),
    P.VIEW_ARCHIVED_COMPANIES: Rule(_STD, _erp(Level.STANDARD)),
    P.MANAGE_USERS: Rule(_ADMIN, _erp(Level.ADMIN)),
    # Not in Procore's matrix (its connector has no quarantine): the operator's tool.
    P.MANAGE_QUARANTINE: Rule(_ADMIN, _erp(Level.ADMIN)),
    # Not in Procore's matrix either (its connector has no reconciliation): like the ERP
    # job costs report at company level, it shows every job's money.
    P.VIEW_RECONCILIATION_REPORT: Rule(_ADMIN, _erp(Level.ADMIN)),
}


def can(user: User, permission: Permission, kind: str | None = None) -> bool:
    return MATRIX[permission].check(user, kind)


def require(user: User, permission: Permission, kind: str | None = None) -> None:
    """Raise Forbidden naming the action and the level it needs, unless ``can``."""
    if can(user, permission, kind):
        return
    needs = MATRIX[permission].needs
    if permission is P.SEND_RETRIEVE_RESEND and kind in TOOL_FOR_KIND:
        needs = f"admin on the Procore {TOOL_FOR_KIND[kind].value.replace('_', ' ')} tool"
    raise Forbidden(
        f"{permission.value} requires {needs}",
        action=permission.name.lower(),
        required=needs,
    )
