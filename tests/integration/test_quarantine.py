"""Quarantined webhook deliveries: listed for ERP admins, replayed after a fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WEBHOOK_TOKEN
from tests.helpers import COMPANY_ID, body, seed_personas

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


def delivery(**changes: Any) -> dict[str, Any]:
    payload = json.loads((FIXTURES / "v2.0" / "work_order_contract_create.json").read_text())
    return {**payload, "company_id": COMPANY_ID, **changes}


@pytest.fixture
def api(aws: Any, chalice_client: Any, mint: Any) -> Any:
    seed_personas()

    def call(method: str, path: str, who: str | None = None, raw: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if who is not None:
            headers["Authorization"] = mint(who)
        if path == "/webhooks/procore":
            headers["Authorization"] = WEBHOOK_TOKEN
        data = raw if raw is None or isinstance(raw, bytes | str) else json.dumps(raw)
        return getattr(chalice_client.http, method)(path, headers=headers, body=data)

    return call


def test_quarantined_delivery_is_listed_and_replays_after_a_fix(
        api: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.domain import webhooks
    from chalicelib.errors import BadRequest
    from chalicelib.services import quarantine, receiver

    real_parse = webhooks.parse_webhook

    def broken(raw: bytes | str) -> Any:  # the bug a later deploy fixes
        raise BadRequest("field 'metadata' has an unsupported value", field="metadata")

    monkeypatch.setattr(receiver, "parse_webhook", broken)
    monkeypatch.setattr(quarantine, "parse_webhook", broken)
    answer = api("post", "/webhooks/procore", raw=delivery())
    assert answer.status_code == 202 and body(answer)["status"] == "quarantined"
    assert aws.queue_depth(aws.inbound_url) == 0

    listed = body(api("get", "/ops/quarantine", "admin"))
    [entry] = listed["entries"]
    assert entry["reason"] == "field 'metadata' has an unsupported value"
    assert entry["status"] == "quarantined" and entry["replayable"] is True
    assert "body" not in entry
    shown = body(api("get", f"/ops/quarantine/{entry['id']}", "admin"))
    assert json.loads(shown["body"])["ulid"] == delivery()["ulid"]

    still = api("post", f"/ops/quarantine/{entry['id']}/replay", "admin")
    assert still.status_code == 409 and "still cannot be read" in body(still)["message"]
    assert aws.queue_depth(aws.inbound_url) == 0

    monkeypatch.setattr(quarantine, "parse_webhook", real_parse)  # the fix is deployed
    replayed = api("post", f"/ops/quarantine/{entry['id']}/replay", "admin")
    assert replayed.status_code == 200, body(replayed)
    assert body(replayed)["outcome"]["status"] == "queued"
    [message] = aws.receive_all(aws.inbound_url)
    assert json.loads(message["Body"])["event_id"] == delivery()["ulid"]
    assert body(api("get", "/ops/quarantine", "admin"))["entries"][0]["status"] == "replayed"

    again = api("post", f"/ops/quarantine/{entry['id']}/replay", "admin")
    assert again.status_code == 409 and "replayed already" in body(again)["message"]


@pytest.mark.parametrize("who", ["standard", "approver", "viewer", "nobody"])
def test_only_erp_admins_see_or_replay_the_quarantine(api: Any, who: str) -> None:
    api("post", "/webhooks/procore", raw=b"{broken")
    entry_id = body(api("get", "/ops/quarantine", "admin"))["entries"][0]["id"]
    for method, path in (("get", "/ops/quarantine"), ("get", f"/ops/quarantine/{entry_id}"),
                         ("post", f"/ops/quarantine/{entry_id}/replay")):
        answer = api(method, path, who)
        assert answer.status_code == 403
        assert "list and replay quarantined webhook deliveries requires" in \
            body(answer)["message"]
    assert body(api("get", "/ops/quarantine", "admin"))["entries"][0]["status"] == "quarantined"


def test_quarantine_needs_a_token_and_unknown_entries_are_404(api: Any) -> None:
    assert api("get", "/ops/quarantine").status_code == 401
    missing = api("get", "/ops/quarantine/20260101T000000000Z-0000", "admin")
    assert missing.status_code == 404
    assert api("post", "/ops/quarantine/nope/replay", "admin").status_code == 404


def test_cut_short_delivery_is_not_replayable(api: Any, aws: Any) -> None:
    api("post", "/webhooks/procore", raw=delivery(padding="x" * 262_144))
    [entry] = body(api("get", "/ops/quarantine", "admin"))["entries"]
    answer = api("post", f"/ops/quarantine/{entry['id']}/replay", "admin")
    assert answer.status_code == 409 and "cannot be replayed" in body(answer)["message"]
    assert aws.queue_depth(aws.inbound_url) == 0


def test_listing_pages_newest_first(api: Any) -> None:
    for n in range(3):
        api("post", "/webhooks/procore", raw=f"{{broken {n}".encode())
    first = body(api("get", "/ops/quarantine?limit=2", "admin"))
    assert len(first["entries"]) == 2 and first["next_cursor"]
    rest = body(api("get", f"/ops/quarantine?limit=2&cursor={first['next_cursor']}", "admin"))
    ids = [e["id"] for e in first["entries"] + rest["entries"]]
    assert len(set(ids)) == 3 and ids == sorted(ids, reverse=True)
    bad = api("get", "/ops/quarantine?limit=0", "admin")
    assert bad.status_code == 400 and "limit" in body(bad)["message"]


def test_table_unavailable_while_quarantining_answers_503_without_aws_text(
        api: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring

    monkeypatch.setenv("TABLE_NAME", "gone")
    wiring.reset()
    answer = api("post", "/webhooks/procore", raw=b"{broken")
    assert answer.status_code == 503
    message = body(answer)["message"]
    assert "ResourceNotFound" not in message and "gone" not in message
