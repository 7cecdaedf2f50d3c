"""Property: through the real service and store (moto), the audit trail equals the
transitions, and a refused action changes nothing."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.state_machine import REASON_REQUIRED, TRANSITIONS, Action, Status
from chalicelib.wiring import get_item_service, get_store
from tests.helpers import COMPANY_ID

IDS = itertools.count(10_000)
PEOPLE_AND_EXPORTER = [a for a in Action if not a.value.startswith("observe")]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(PEOPLE_AND_EXPORTER),
                          st.sampled_from([Action.OBSERVE_READY, Action.OBSERVE_NOT_READY])),
                min_size=1, max_size=15))
def test_audit_trail_equals_the_transitions_in_the_store(aws: Any,
                                                         actions: list[Action]) -> None:
    service, store = get_item_service(), get_store()
    procore_id = next(IDS)
    item = service.observe(company_id=COMPANY_ID, kind="commitment", procore_id=procore_id,
                           project_id=1, subtype="subcontract", snapshot={"n": 0},
                           reasons=[], actor="t")
    applied = [(Status.NEW, Action.OBSERVE_READY, item.status)]
    for n, action in enumerate(actions, start=1):
        before = item
        if action in (Action.OBSERVE_READY, Action.OBSERVE_NOT_READY):
            changed = service.observe(
                company_id=COMPANY_ID, kind="commitment", procore_id=procore_id, project_id=1,
                subtype="subcontract", snapshot={"n": n},
                reasons=[] if action is Action.OBSERVE_READY else ["no"], actor="t")
            if changed is not None:
                applied.append((before.status, action, changed.status))
                item = changed
            continue
        if (before.status, action) not in TRANSITIONS:
            snapshot = aws.table_snapshot()
            try:
                service.apply(before, action, actor="t", reason="r")
            except Exception as exc:
                assert type(exc).__name__ == "TransitionNotAllowed"
            else:
                raise AssertionError(f"{action} allowed from {before.status}")
            assert aws.table_snapshot() == snapshot
            continue
        item = service.apply(before, action, actor="t",
                              reason="r" if action in REASON_REQUIRED else None)
        applied.append((before.status, action, item.status))
    trail = store.audit_trail(COMPANY_ID, "commitment", procore_id)
    assert [(e.from_status, e.action, e.to_status) for e in trail] == [
        (f.value, a.value, t.value) for f, a, t in applied]
    assert [e.version for e in trail] == list(range(1, len(applied) + 1))
    stored = store.get_item(COMPANY_ID, "commitment", procore_id)
    assert stored.version == len(applied) and stored.status is item.status
