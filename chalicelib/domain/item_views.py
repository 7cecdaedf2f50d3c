"""What the API answers about an item: a designed view for a person or the inbox page,
not the stored record (its hashes, flags and command ids stay the connector's business).

Every view says, for the caller, which actions are possible now and why not otherwise
(``actions``): the same permission matrix and transition table the action routes use,
so the page hides or disables exactly what the API would refuse.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import tax_ids
from chalicelib.domain.models import Item
from chalicelib.domain.permissions import Level, Permission, User, require
from chalicelib.domain.state_machine import Action, Status, allowed_actions
from chalicelib.errors import Forbidden

# The caller-facing actions: (the route's name, its transition, the permission it needs).
ACTIONS: tuple[tuple[str, Action, Permission], ...] = (
    ("accept", Action.ACCEPT, Permission.ACCEPT_OR_REJECT),
    ("reject", Action.REJECT, Permission.ACCEPT_OR_REJECT),
    ("retrieve", Action.RETRIEVE, Permission.SEND_RETRIEVE_RESEND),
    ("resend", Action.RESEND, Permission.SEND_RETRIEVE_RESEND),
)
STATUS_LABELS = {
    Status.NOT_READY: "Not ready", Status.READY_TO_EXPORT: "Ready to export",
    Status.RETRIEVED: "Retrieved by the sender", Status.ACCEPTED: "Accepted",
    Status.REJECTED: "Rejected", Status.EXPORTING: "Exporting to Sage",
    Status.SYNCED: "In Sage", Status.FAILED: "Failed in Sage", Status.UNLINKED: "Unlinked",
    Status.WITHDRAWN: "Deleted in Procore",
}


def four_eyes_refusal(item: Item, user: User) -> str | None:
    """Why the four-eyes rule stops ``user`` accepting ``item`` (they sent it), or None."""
    if item.sent_by != user.subject:
        return None
    return (f"{Permission.ACCEPT_OR_REJECT.value}: the four-eyes rule is on and you sent "
            f"{item.item_id}; another accounting approver must accept it")


def item_view(item: Item, user: User, *, four_eyes: bool = False) -> dict[str, Any]:
    """The item as a list shows it: who, what, where it stands, what the caller may do."""
    failure = item.last_error
    return {
        "id": item.item_id, "kind": item.kind, "procore_id": item.procore_id,
        "project_id": item.project_id, "subtype": item.subtype, "number": item.number,
        "title": item.title, "status": item.status.value,
        "status_label": STATUS_LABELS.get(item.status, item.status.value),
        "status_reason": item.status_reason, "status_by": item.status_by,
        "sent_by": item.sent_by, "sent_at": item.sent_at,
        "created_at": item.created_at, "updated_at": item.updated_at,
        "version": item.version, "reasons": list(item.reasons),
        "failure": None if not failure else {
            key: failure.get(key) for key in ("code", "message", "retryable", "attempts")},
        "sage_keys": dict(item.erp_keys), "accepted_with": dict(item.accept_params),
        "export_queued": item.export_enqueued if item.status is Status.ACCEPTED else None,
        "exporting_since": item.exporting_since,
        # The acceptance being (or last) exported: a new Sage record or a change to one.
        "export": None if item.export is None else {
            "operation": item.export.operation, "accepted_by": item.export.accepted_by,
            "accepted_at": item.export.accepted_at, "version": item.export.version,
            "redrives": item.export.redrives},
        "change_waiting": item.pending_snapshot is not None,
        "deleted_in_procore": item.deleted_in_procore,
        "writeback_error": item.writeback_error,
        "actions": actions_for(item, user, four_eyes=four_eyes),
    }


def item_detail(item: Item, user: User, *, four_eyes: bool = False) -> dict[str, Any]:
    """The list's view plus what an approver reads before deciding: the snapshot, what
    Sage holds since the last export, a change that waits, the drift Sage will not take."""
    def shown(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
        # A company's tax id: masked (last four) for ERP standard and up, else not at all.
        if item.kind != "vendor" or snapshot is None:
            return snapshot
        return tax_ids.shown(snapshot, visible=user.erp_level >= Level.STANDARD)

    return {**item_view(item, user, four_eyes=four_eyes), "snapshot": shown(item.snapshot),
            "synced_snapshot": shown(item.synced_snapshot),
            "waiting_change": shown(item.pending_snapshot), "drift": item.drift}


def actions_for(item: Item, user: User, *, four_eyes: bool = False
                ) -> dict[str, dict[str, Any]]:
    possible = set(allowed_actions(item.status))
    label = STATUS_LABELS.get(item.status, item.status.value)
    answer = {}
    for name, action, permission in ACTIONS:
        if action not in possible:
            answer[name] = {"allowed": False, "possible": False,
                            "why": f"not possible while the item is {label.lower()}"}
            continue
        try:
            require(user, permission, item.kind)
        except Forbidden as refused:
            answer[name] = {"allowed": False, "possible": True, "why": refused.message}
            continue
        refusal = four_eyes_refusal(item, user) if four_eyes and name == "accept" else None
        answer[name] = {"allowed": refusal is None, "possible": True, "why": refusal}
    return answer
