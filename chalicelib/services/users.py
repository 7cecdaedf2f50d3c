"""Company admins manage who may do what (the levels live in the connector's store)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import utc_now
from chalicelib.domain.permissions import Level, Permission, User, require
from chalicelib.errors import Conflict, Forbidden
from chalicelib.requests import UserBody


def user_from_body(company_id: int, subject: str, body: UserBody) -> User:
    return User(subject=subject, company_id=company_id, name=body.name,
                erp_level=Level.parse(body.erp_level),
                can_push_to_accounting=body.can_push_to_accounting,
                tool_levels={k: Level.parse(v) for k, v in body.tool_levels.items()},
                privileges=frozenset(body.privileges), email=body.email, notify=body.notify)


def public(user: User) -> dict[str, Any]:
    return {"subject": user.subject, "name": user.name, "erp_level": user.erp_level.label,
            "can_push_to_accounting": user.can_push_to_accounting,
            "accounting_approver": user.is_accounting_approver,
            "tool_levels": {k: Level(v).label for k, v in user.tool_levels.items()},
            "privileges": sorted(user.privileges), "email": user.email,
            "notify": user.notify}


def put_user(store: ItemStore, admin: User, subject: str, body: UserBody, *,
             four_eyes: bool = False) -> User:
    """Set a user's levels; every change is kept (who, when, before and after)."""
    require(admin, Permission.MANAGE_USERS)
    user = user_from_body(admin.company_id, subject, body)
    if four_eyes and subject == admin.subject:
        raise Forbidden(f"{Permission.MANAGE_USERS.value}: the four-eyes rule is on; another "
                        "ERP admin must change your own levels", action="manage_users",
                        required="an ERP admin other than the user changed")
    if subject == admin.subject and user.erp_level < Level.ADMIN:
        raise Conflict("you cannot remove your own admin level; ask another ERP admin",
                       status="admin")
    before = store.get_user(admin.company_id, subject)
    now = utc_now()
    store.put_user(user, updated_by=admin.subject, updated_at=now)
    if before is None or public(before) != public(user):
        store.add_user_change(admin.company_id, {
            "at": now, "by": admin.subject, "subject": subject,
            "before": None if before is None else public(before), "after": public(user)})
    return user


def user_changes(store: ItemStore, admin: User) -> list[dict[str, Any]]:
    """Every change of a user's levels in the company, newest first."""
    require(admin, Permission.MANAGE_USERS)
    return store.list_user_changes(admin.company_id)


def list_users(store: ItemStore, admin: User) -> list[User]:
    require(admin, Permission.MANAGE_USERS)
    return store.list_users(admin.company_id)
