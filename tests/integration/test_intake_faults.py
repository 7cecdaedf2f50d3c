"""Procore's refusals at the intake boundary: fatal ones show on the item at once and never
hold the project's queue group; retriable ones stop before the invocation's end."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.procore import ProcoreClient, ProcoreTokenProvider
from chalicelib.domain.state_machine import Status
from chalicelib.errors import RetriableUpstreamError
from devstack.pump import drain
from tests.fixtures_sandbox import (  # noqa: F401
    CLIENT_ID,
    CLIENT_SECRET,
    FakeTime,
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.integration.test_intake_pipeline import Pipeline, pipe  # noqa: F401


def _deliver_all(pipe: Pipeline) -> None:  # noqa: F811
    for delivery in pipe.deliveries():
        pipe.post(delivery)


@pytest.mark.parametrize(("status", "words"), [
    (422, "HTTP 422"),
    (403, "Give the connector's Procore service account access"),
])
def test_a_refusal_shows_on_the_item_at_once_and_does_not_hold_the_group(
        pipe: Pipeline, status: int, words: str) -> None:  # noqa: F811
    pipe.link_project_and_vendor()
    refused = pipe.commitment(number="SC-001", lines=1)
    fine = pipe.commitment(number="SC-002", lines=1)  # same project: same FIFO group
    _deliver_all(pipe)
    fault = pipe.sandbox.inject_fault(
        status, count=100, path_prefix=f"/rest/v1.0/work_order_contracts/{refused['id']}",
        method="GET")

    handled, failed = drain(pipe.aws.sqs, pipe.aws.inbound_url, pipe.invoke_intake)

    assert failed == 0  # nothing retried: the group went on at once
    assert pipe.aws.queue_depth(pipe.aws.inbound_url) == 0
    item = pipe.item(refused["id"])
    assert item.status is Status.NOT_READY
    assert len(item.reasons) == 1 and words in item.reasons[0]
    assert f"work order contract {refused['id']}" in item.reasons[0]
    assert pipe.item(fine["id"]).status is Status.READY_TO_EXPORT
    assert handled >= 2 and fault.count < 100
    dlq = pipe.aws.resources.refs["InboundEventsDeadLetterQueue"]
    assert pipe.aws.receive_all(dlq) == []

    pipe.sandbox.clear_faults()  # access granted: the next change reads it whole
    pipe.sandbox.update_commitment("work_order_contract", refused["id"], title="Concrete 2")
    pipe.deliver_and_process()
    healed = pipe.item(refused["id"])
    assert healed.status is Status.READY_TO_EXPORT and healed.reasons == []


def test_a_refusal_of_a_synced_item_keeps_it_synced_with_the_reason(
        pipe: Pipeline) -> None:  # noqa: F811
    from chalicelib.domain.state_machine import Action
    from chalicelib.wiring import get_item_service
    from tests.helpers import COMPANY_ID

    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.deliver_and_process()
    service = get_item_service()
    item = pipe.item(record["id"])
    for action in (Action.ACCEPT, Action.BEGIN_EXPORT, Action.EXPORT_SUCCEEDED):
        item = service.apply(item, action, actor="test", reason=None)
    pipe.sandbox.update_commitment("work_order_contract", record["id"], title="Renamed")
    _deliver_all(pipe)
    pipe.sandbox.inject_fault(422, count=100, method="GET",
                              path_prefix=f"/rest/v1.0/work_order_contracts/{record['id']}")
    assert drain(pipe.aws.sqs, pipe.aws.inbound_url, pipe.invoke_intake)[1] == 0
    after = pipe.item(record["id"])
    assert after.status is Status.SYNCED and "HTTP 422" in after.reasons[0]
    assert after.company_id == COMPANY_ID


# --- retries that respect the invocation's remaining time ------------------------------------
def _client(sandbox: Any, fake_time: FakeTime, time_left: Any) -> ProcoreClient:
    tokens = ProcoreTokenProvider(sandbox.url, CLIENT_ID, CLIENT_SECRET, clock=fake_time.clock)
    return ProcoreClient(sandbox.url, tokens, sandbox.company_id, sleep=fake_time.sleep,
                         clock=fake_time.clock, rng=lambda: 0.5, time_left=time_left,
                         backoff_base=4.0)


def test_retries_stop_before_the_invocation_ends(sandbox: Any, demo: dict[str, Any]) -> None:
    fake_time = FakeTime()
    left = {"s": 12.0}

    def time_left() -> float:
        return left["s"] - (fake_time.now - start)

    start = fake_time.now
    sandbox.inject_fault(500, count=10, method="GET")
    client = _client(sandbox, fake_time, time_left)
    with pytest.raises(RetriableUpstreamError, match="not tried again: the invocation has"):
        client.list_projects()
    calls = [r for r in sandbox.requests if r["path"] == "/rest/v1.0/projects"]
    assert 1 <= len(calls) < 5  # fewer than max_attempts: the deadline came first
    assert fake_time.now - start <= 12.0  # never slept past the end


def test_no_deadline_outside_lambda_uses_every_attempt(sandbox: Any,
                                                       demo: dict[str, Any]) -> None:
    fake_time = FakeTime()
    sandbox.inject_fault(500, count=10, method="GET")
    client = _client(sandbox, fake_time, lambda: None)
    with pytest.raises(RetriableUpstreamError, match="after 5 attempt"):
        client.list_projects()


def test_deadline_is_taken_from_the_lambda_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import deadline

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    deadline.start(Context())  # Chalice's local context: not believed
    assert deadline.remaining() is None
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "intake")  # the Lambda runtime
    deadline.start(Context())
    left = deadline.remaining()
    assert left is not None and 29 < left <= 30
    deadline.start(None)
    assert deadline.remaining() is None
