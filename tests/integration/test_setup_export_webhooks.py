"""``Cost Codes`` and ``Sub Jobs`` webhooks, end to end: the sandbox fires them at a loopback
receiver, each delivery is posted to the Chalice app and the inbound queue is pumped into
intake. A record that was sent is read again (its snapshot follows Procore; a delete
withdraws it); one never sent is acknowledged and ignored (no item)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.state_machine import Status
from chalicelib.wiring import get_store
from devstack.pump import drain
from tests.conftest import WEBHOOK_TOKEN
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID
from tests.integration.test_setup_api import SetupApi
from tests.integration.test_setup_export_api import (  # noqa: F401 - the fixture
    CODES,
    PHASES,
    api_fixture,
    send,
)


class Hooks:
    def __init__(self, api: SetupApi, receiver: Any) -> None:
        self.api, self.receiver, self.seen = api, receiver, 0
        api.sandbox.set_webhook(receiver.url, WEBHOOK_TOKEN)

    def deliver(self) -> list[tuple[int, dict[str, Any]]]:
        """POST what the sandbox fired since the last call, then run intake."""
        fresh = self.receiver.received[self.seen:]
        self.seen = len(self.receiver.received)
        answers = []
        for hook in fresh:
            answer = self.api.client.http.post(
                "/webhooks/procore", body=json.dumps(hook.payload),
                headers={"Content-Type": "application/json",
                         "Authorization": hook.headers.get("authorization")})
            answers.append((answer.status_code, json.loads(answer.body)))
        drain(self.api.aws.sqs, self.api.aws.inbound_url,
              lambda event: self.api.client.lambda_.invoke("intake", event).payload)
        return answers


@pytest.fixture
def hooks(api: SetupApi, webhook_receiver: Any) -> Hooks:
    return Hooks(api, webhook_receiver)


def _item(kind: str, procore_id: int) -> Any:
    return get_store().get_item(COMPANY_ID, kind, procore_id)


def test_a_sent_cost_code_follows_procore_and_its_delete_withdraws_it(
        api: SetupApi, hooks: Hooks) -> None:
    api.pull("cost_codes", CODES)
    code = api.sandbox.add_cost_code(api.main, "03-350", "Shotcrete")
    status, item = send(api, "cost_code", code["id"])
    assert (status, item["status"]) == (200, "ready_to_export"), item
    api.sandbox.update_cost_code(code["id"], name="Shotcrete, structural")
    assert [a[0] for a in hooks.deliver()] == [202]
    held = _item("cost_code", code["id"])
    assert held.snapshot["name"] == "Shotcrete, structural"
    assert held.status is Status.READY_TO_EXPORT
    # A new code (the seeded code has no parent: its full code becomes "300"): the inbox
    # shows it, and why it cannot go.
    api.sandbox.update_cost_code(code["id"], code="300")
    hooks.deliver()
    held = _item("cost_code", code["id"])
    assert held.snapshot["full_code"] == "300" and held.status is Status.NOT_READY
    assert "Cost code '300' has no Sage cost code" in held.reasons[0], held.reasons
    versions = held.version
    hooks.receiver.received.extend(hooks.receiver.received[-1:])  # the same event again
    hooks.deliver()
    assert _item("cost_code", code["id"]).version == versions  # deduplicated
    api.sandbox.delete_cost_code(code["id"])
    hooks.deliver()
    gone = _item("cost_code", code["id"])
    assert gone.status is Status.WITHDRAWN and gone.deleted_in_procore


def test_a_sent_sub_job_follows_procore_and_its_delete_withdraws_it(
        api: SetupApi, hooks: Hooks) -> None:
    api.pull("phases", PHASES)
    job = api.sandbox.add_sub_job(api.main, "Annex", code="2")
    status, item = send(api, "sub_job", job["id"])
    assert (status, item["status"]) == (200, "ready_to_export"), item
    api.sandbox.update_sub_job(job["id"], code="1")  # Sage's job has phase 1
    hooks.deliver()
    held = _item("sub_job", job["id"])
    assert held.snapshot["code"] == "1" and held.status is Status.NOT_READY
    assert "already has phase 1" in held.reasons[0]
    api.sandbox.delete_sub_job(job["id"])
    hooks.deliver()
    assert _item("sub_job", job["id"]).status is Status.WITHDRAWN


def test_codes_and_sub_jobs_never_sent_are_acknowledged_and_ignored(
        api: SetupApi, hooks: Hooks) -> None:
    code = api.sandbox.add_cost_code(api.main, "03-360", "Grout")
    job = api.sandbox.add_sub_job(api.main, "Garage", code="3")
    api.sandbox.update_cost_code(code["id"], name="Grouting")
    api.sandbox.update_sub_job(job["id"], name="Parking")
    api.sandbox.delete_cost_code(code["id"])
    api.sandbox.delete_sub_job(job["id"])
    answers = hooks.deliver()
    assert len(answers) == 4 and all(s in (200, 202) for s, _ in answers), answers
    assert _item("cost_code", code["id"]) is None and _item("sub_job", job["id"]) is None
    for _, answer in answers:
        assert get_store().event_seen(COMPANY_ID, answer["id"])
