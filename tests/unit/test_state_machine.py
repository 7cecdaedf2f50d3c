"""The item lifecycle: table facts and properties over arbitrary action sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.state_machine import (
    REASON_REQUIRED,
    TRANSITIONS,
    Action,
    Status,
    TransitionNotAllowed,
    allowed_actions,
    next_status,
    transition,
)

S, A = Status, Action


@pytest.mark.parametrize(("start", "action", "end"), [
    (S.NEW, A.OBSERVE_READY, S.READY_TO_EXPORT),
    (S.NEW, A.OBSERVE_NOT_READY, S.NOT_READY),
    (S.NOT_READY, A.OBSERVE_READY, S.READY_TO_EXPORT),
    (S.READY_TO_EXPORT, A.RETRIEVE, S.RETRIEVED),
    (S.READY_TO_EXPORT, A.ACCEPT, S.ACCEPTED),
    (S.READY_TO_EXPORT, A.REJECT, S.REJECTED),
    (S.REJECTED, A.RESEND, S.READY_TO_EXPORT),
    (S.RETRIEVED, A.RESEND, S.READY_TO_EXPORT),
    (S.FAILED, A.RESEND, S.READY_TO_EXPORT),
    (S.ACCEPTED, A.BEGIN_EXPORT, S.EXPORTING),
    (S.EXPORTING, A.EXPORT_SUCCEEDED, S.SYNCED),
    (S.EXPORTING, A.EXPORT_FAILED, S.FAILED),
    (S.SYNCED, A.OBSERVE_READY, S.READY_TO_EXPORT),
    (S.SYNCED, A.UNLINK, S.UNLINKED),
    (S.READY_TO_EXPORT, A.OBSERVE_DELETED, S.WITHDRAWN),
    (S.ACCEPTED, A.OBSERVE_READY, S.ACCEPTED),  # accepted snapshot still exports
])
def test_design_table_rows(start: Status, action: Action, end: Status) -> None:
    assert next_status(start, action) is end


@pytest.mark.parametrize(("start", "action"), [
    (S.ACCEPTED, A.ACCEPT), (S.REJECTED, A.ACCEPT), (S.NOT_READY, A.ACCEPT),
    (S.SYNCED, A.REJECT), (S.READY_TO_EXPORT, A.RESEND), (S.ACCEPTED, A.UNLINK),
    (S.NEW, A.ACCEPT), (S.WITHDRAWN, A.OBSERVE_READY), (S.UNLINKED, A.RESEND),
    (S.ACCEPTED, A.RETRIEVE),
])
def test_forbidden_transitions_name_the_current_status(start: Status, action: Action) -> None:
    with pytest.raises(TransitionNotAllowed) as caught:
        next_status(start, action)
    assert start.value in str(caught.value)
    assert caught.value.status is start


def test_reasons_required() -> None:
    for action in REASON_REQUIRED:
        start = next(s for (s, a) in TRANSITIONS if a is action)
        with pytest.raises(ValueError, match="needs a reason"):
            transition(start, action, "  ")
        assert transition(start, action, "wrong cost code").to_status is TRANSITIONS[
            (start, action)]


def test_every_status_but_new_and_the_ends_is_reachable_and_leavable() -> None:
    reachable = {S.NEW}
    frontier = [S.NEW]
    while frontier:
        status = frontier.pop()
        for action in allowed_actions(status):
            nxt = next_status(status, action)
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(Status)
    terminal = {s for s in Status if not allowed_actions(s)}
    # Unlinked is left only by a person's send (observations.plan); withdrawn never.
    assert terminal == {S.WITHDRAWN}


class Machine:
    """A tiny model of a stored item: status plus its audit trail."""

    def __init__(self) -> None:
        self.status = S.NEW
        self.version = 0
        self.trail: list[tuple[int, Status, Action, Status]] = []

    def apply(self, action: Action) -> bool:
        try:
            step = transition(self.status, action, "because" if action in REASON_REQUIRED
                              else None)
        except TransitionNotAllowed:
            return False
        self.version += 1
        self.trail.append((self.version, step.from_status, action, step.to_status))
        self.status = step.to_status
        return True


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Action)), max_size=40))
def test_no_action_sequence_reaches_an_undefined_state(actions: list[Action]) -> None:
    machine = Machine()
    for action in actions:
        before = machine.status
        if not machine.apply(action):
            assert (before, action) not in TRANSITIONS
            assert machine.status is before
        assert machine.status in set(Status)
        assert machine.status is not S.NEW or machine.version == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Action)), max_size=40))
def test_audit_trail_equals_the_transitions(actions: list[Action]) -> None:
    machine = Machine()
    applied = [a for a in actions if machine.apply(a)]
    assert [entry[2] for entry in machine.trail] == applied
    assert [entry[0] for entry in machine.trail] == list(range(1, len(applied) + 1))
    # Each event starts where the previous one ended: replaying the trail gives the status.
    status = S.NEW
    for _, start, action, end in machine.trail:
        assert start is status
        assert TRANSITIONS[(start, action)] is end
        status = end
    assert status is machine.status
