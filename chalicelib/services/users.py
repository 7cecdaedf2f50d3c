"""Company admins manage who may do what (the levels live in the connector's store)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import utc_now
from chalicelib.domain.permissions import Level, Permission, User, require
from chalicelib.errors import Conflict
from chalicelib.requests import UserBody


def user_from_body(company_id: int, subject: str, body: UserBody) -> User:
    return User(subject=subject, company_id=company_id, name=body.name,
                erp_level=Level.parse(body.erp_level),
                can_push_to_accounting=body.can_push_to_accounting,
                tool_levels={k: Level.parse(v) for k, v in body.tool_levels.items()},
                privileges=frozenset(body.privileges))


def public(user: User) -> dict[str, Any]:
    return {"subject": user.subject, "name": user.name, "erp_level": user.erp_level.label,
            "can_push_to_accounting": user.can_push_to_accounting,
            "accounting_approver": user.is_accounting_approver,
            "tool_levels": {k: Level(v).label for k, v in user.tool_levels.items()},
            "privileges": sorted(user.privileges)}


def put_user(store: ItemStore, admin: User, subject: str, body: UserBody) -> User:
    require(admin, Permission.MANAGE_USERS)
    user = user_from_body(admin.company_id, subject, body)
    if subject == admin.subject and user.erp_level < Level.ADMIN:
        raise Conflict("you cannot remove your own admin level; ask another ERP admin",
                       status="admin")
    store.put_user(user, updated_by=admin.subject, updated_at=utc_now())
    return user


def list_users(store: ItemStore, admin: User) -> list[User]:
    require(admin, Permission.MANAGE_USERS)
    return store.list_users(admin.company_id)
