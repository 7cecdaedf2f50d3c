"""The item lifecycle of DESIGN.md as pure code.

One table, ``TRANSITIONS``, says which action moves an item from which status to which.
Everything else (the store's conditional writes, the API's 409s, the audit trail) reads
it; nothing else decides whether a transition is allowed.

Observations (``observe_*``) are what the intake consumer reports after reading the item
from Procore (a webhook, or a tool admin's "send" which runs the same evaluation); the
other actions are people's (accept, reject, ...) or the exporter's.
Self-transitions are real transitions: they bump the item version and leave an audit
event, so "the audit trail equals the transitions" holds for every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"  # pseudo-status: the item is not stored yet
    NOT_READY = "not_ready"
    READY_TO_EXPORT = "ready_to_export"
    RETRIEVED = "retrieved"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPORTING = "exporting"
    SYNCED = "synced"
    FAILED = "failed"
    UNLINKED = "unlinked"
    WITHDRAWN = "withdrawn"  # deleted in Procore before it was accepted


class Action(StrEnum):
    OBSERVE_READY = "observe_ready"  # read from Procore, passes every readiness rule
    OBSERVE_NOT_READY = "observe_not_ready"  # read from Procore, fails one or more rules
    OBSERVE_DELETED = "observe_deleted"  # deleted in Procore
    # read from Procore, and it is again exactly what Sage holds: nothing to export
    OBSERVE_IN_SYNC = "observe_in_sync"
    RETRIEVE = "retrieve"
    ACCEPT = "accept"
    REJECT = "reject"
    RESEND = "resend"
    BEGIN_EXPORT = "begin_export"
    EXPORT_SUCCEEDED = "export_succeeded"
    EXPORT_FAILED = "export_failed"
    UNLINK = "unlink"


S, A = Status, Action

# Statuses in which Procore-side changes are still the item's content (not yet accepted).
_OPEN = (S.NEW, S.NOT_READY, S.READY_TO_EXPORT)
# Statuses waiting for the sender: a change in Procore is recorded, status stays.
_WITH_SENDER = (S.RETRIEVED, S.REJECTED, S.FAILED)
# Statuses past acceptance: the accepted snapshot exports; a change waits for a new one.
_COMMITTED = (S.ACCEPTED, S.EXPORTING)

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    **{(s, A.OBSERVE_READY): S.READY_TO_EXPORT for s in _OPEN},
    **{(s, A.OBSERVE_NOT_READY): S.NOT_READY for s in _OPEN},
    **{(s, A.OBSERVE_DELETED): S.WITHDRAWN for s in (*_OPEN[1:], *_WITH_SENDER)},
    **{(s, a): s for s in (*_WITH_SENDER, *_COMMITTED)
       for a in (A.OBSERVE_READY, A.OBSERVE_NOT_READY)},
    **{(s, A.OBSERVE_DELETED): s for s in (*_COMMITTED, S.SYNCED)},
    # A synced item changed in Procore in a way Sage takes in place (a header change):
    # it needs a new acceptance, which exports a modify command.
    (S.SYNCED, A.OBSERVE_READY): S.READY_TO_EXPORT,
    # A synced item changed in a way that cannot be exported as it is (line amounts: a
    # change order's job): it stays synced, with the reason and the drift recorded.
    (S.SYNCED, A.OBSERVE_NOT_READY): S.SYNCED,
    # A synced item whose change was undone in Procore is back in sync.
    **{(s, A.OBSERVE_IN_SYNC): S.SYNCED
       for s in (S.SYNCED, S.NOT_READY, S.READY_TO_EXPORT, *_WITH_SENDER)},
    (S.READY_TO_EXPORT, A.RETRIEVE): S.RETRIEVED,
    (S.READY_TO_EXPORT, A.ACCEPT): S.ACCEPTED,
    (S.READY_TO_EXPORT, A.REJECT): S.REJECTED,
    **{(s, A.RESEND): S.READY_TO_EXPORT for s in _WITH_SENDER},
    (S.ACCEPTED, A.BEGIN_EXPORT): S.EXPORTING,
    # The exporter refuses before handing off (the snapshot does not fit Sage's limits).
    (S.ACCEPTED, A.EXPORT_FAILED): S.FAILED,
    (S.EXPORTING, A.EXPORT_SUCCEEDED): S.SYNCED,
    # The agent's result overtook the exporter's "exporting" write (the command id was
    # on the item from acceptance, so the result still belongs to this export).
    (S.ACCEPTED, A.EXPORT_SUCCEEDED): S.SYNCED,
    (S.EXPORTING, A.EXPORT_FAILED): S.FAILED,
    (S.SYNCED, A.UNLINK): S.UNLINKED,
    # An unlinked record a person sends again (observations.plan lets only a send in).
    (S.UNLINKED, A.OBSERVE_READY): S.READY_TO_EXPORT,
    (S.UNLINKED, A.OBSERVE_NOT_READY): S.NOT_READY,
}

# Actions that must carry a reason (shown to the sender and kept in the audit trail).
REASON_REQUIRED = frozenset({A.REJECT, A.EXPORT_FAILED})


class TransitionNotAllowed(Exception):
    """``action`` is not allowed from ``status``; the message names the current status."""

    def __init__(self, status: Status, action: Action) -> None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == status)
        super().__init__(
            f"cannot {action.value.replace('_', ' ')} an item that is {status.value}"
            + (f"; allowed now: {', '.join(allowed)}" if allowed else "")
        )
        self.status = status
        self.action = action


@dataclass(frozen=True)
class Transition:
    from_status: Status
    action: Action
    to_status: Status


def next_status(status: Status, action: Action) -> Status:
    """The status ``action`` leads to from ``status``, or TransitionNotAllowed."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise TransitionNotAllowed(status, action) from None


def transition(status: Status, action: Action, reason: str | None = None) -> Transition:
    if action in REASON_REQUIRED and not (reason and reason.strip()):
        raise ValueError(f"{action.value} needs a reason")
    return Transition(status, action, next_status(status, action))


def allowed_actions(status: Status) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == status]
