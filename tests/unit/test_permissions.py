"""The permission matrix, action by action, level by level."""

from __future__ import annotations

import pytest

from chalicelib.domain.permissions import (
    MATRIX,
    TOOL_FOR_KIND,
    Level,
    Permission,
    Tool,
    User,
    can,
    require,
)
from chalicelib.errors import Forbidden

P = Permission
ERP_STANDARD_OR_ADMIN = {P.ADD_PROJECT_TO_ERP, P.ADD_ERP_COMPANY_TO_DIRECTORY,
                         P.ARCHIVE_ERP_COMPANY, P.ASSIGN_DEFAULT_COST_TYPES, P.IMPORT_BUDGET,
                         P.IMPORT_PRIME_CONTRACT, P.IMPORT_SUB_JOB, P.UNLINK,
                         P.VIEW_ARCHIVED_COMPANIES}
ERP_ADMIN_ONLY = {P.ADD_ERP_JOB_TO_PROCORE, P.CONFIGURE_ADVANCED_SETTINGS,
                  P.CONFIGURE_SYNC_SCHEDULE, P.TOGGLE_DIRECT_EXPORTS, P.LINK_COMPANIES,
                  P.REFRESH_COMPANIES, P.REFRESH_COST_CODES, P.SYNC_JOB_COSTS,
                  P.SYNC_PAID_INVOICES, P.VIEW_ACCOUNTANT_REPORT,
                  P.VIEW_JOB_COSTS_REPORT_COMPANY, P.MANAGE_USERS, P.MANAGE_QUARANTINE}


def user(level: Level, push: bool = False, **tools: Level) -> User:
    return User(subject="u", company_id=1, erp_level=level, can_push_to_accounting=push,
                tool_levels={k: v for k, v in tools.items()})


def test_every_permission_has_a_rule() -> None:
    assert set(MATRIX) == set(Permission)


@pytest.mark.parametrize("permission", sorted(ERP_STANDARD_OR_ADMIN | ERP_ADMIN_ONLY))
@pytest.mark.parametrize("level", list(Level))
def test_erp_level_rules(permission: Permission, level: Level) -> None:
    minimum = Level.STANDARD if permission in ERP_STANDARD_OR_ADMIN else Level.ADMIN
    assert can(user(level), permission) is (level >= minimum)


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("push", [False, True])
def test_accounting_approver_is_standard_or_admin_with_push(level: Level, push: bool) -> None:
    expected = push and level >= Level.STANDARD
    assert can(user(level, push), P.ACCEPT_OR_REJECT, "commitment") is expected


@pytest.mark.parametrize("level", list(Level))
def test_read_inbox_needs_read_only(level: Level) -> None:
    assert can(user(level), P.READ_INBOX) is (level >= Level.READ_ONLY)


@pytest.mark.parametrize("kind", sorted(TOOL_FOR_KIND))
@pytest.mark.parametrize("tool_level", list(Level))
def test_send_needs_admin_on_the_items_tool_not_erp(kind: str, tool_level: Level) -> None:
    tool = TOOL_FOR_KIND[kind].value
    someone = user(Level.NONE, **{tool: tool_level})
    assert can(someone, P.SEND_RETRIEVE_RESEND, kind) is (tool_level is Level.ADMIN)
    # ERP admin alone does not make a sender.
    assert not can(user(Level.ADMIN, True), P.SEND_RETRIEVE_RESEND, kind)


def test_synced_sub_jobs_needs_directory_admin_or_standard_with_create_project() -> None:
    base = {Tool.DIRECTORY.value: Level.ADMIN}
    assert can(User("u", 1, Level.STANDARD, tool_levels=base), P.VIEW_SYNCED_SUB_JOBS)
    std = {Tool.DIRECTORY.value: Level.STANDARD}
    assert not can(User("u", 1, Level.STANDARD, tool_levels=std), P.VIEW_SYNCED_SUB_JOBS)
    assert can(User("u", 1, Level.ADMIN, tool_levels=std,
                    privileges=frozenset({"create_new_project"})), P.VIEW_SYNCED_SUB_JOBS)
    assert not can(User("u", 1, Level.READ_ONLY, tool_levels=base), P.VIEW_SYNCED_SUB_JOBS)


@pytest.mark.parametrize("permission", [P.VIEW_JOB_COSTS_REPORT_PROJECT,
                                        P.VIEW_UNSYNCABLE_DIRECT_COSTS])
def test_project_reports(permission: Permission) -> None:
    assert can(user(Level.NONE, reports=Level.READ_ONLY, budget=Level.ADMIN), permission)
    assert can(user(Level.NONE, reports=Level.READ_ONLY, prime_contract=Level.ADMIN),
               permission)
    assert not can(user(Level.ADMIN, reports=Level.READ_ONLY, budget=Level.STANDARD),
                   permission)
    assert not can(user(Level.ADMIN, budget=Level.ADMIN), permission)


def test_forbidden_names_action_and_needed_level() -> None:
    with pytest.raises(Forbidden) as caught:
        require(user(Level.STANDARD), P.ACCEPT_OR_REJECT, "commitment")
    assert "accept or reject" in caught.value.message
    assert "Can Push to Accounting" in caught.value.message
    with pytest.raises(Forbidden) as caught:
        require(user(Level.ADMIN), P.SEND_RETRIEVE_RESEND, "commitment")
    assert "admin on the Procore commitments tool" in caught.value.message
    with pytest.raises(Forbidden) as caught:
        require(user(Level.STANDARD), P.LINK_COMPANIES)
    assert caught.value.details["required"] == "ERP Integrations admin"


def test_level_parse() -> None:
    assert Level.parse("Read_Only") is Level.READ_ONLY
    assert Level.parse(3) is Level.ADMIN
    with pytest.raises(KeyError):
        Level.parse("owner")
