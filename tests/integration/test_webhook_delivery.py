"""The sandbox delivers webhooks as Procore does, with the payload shapes Procore documents.

Reference: /work/shared/reference/procore-spec/docs/webhook_payloads.json (quoted from
procore/documentation: ``plan_your_app/webhooks.md`` @06dad9d for the v2.0/v3.0/v4.0
examples and the delivery policy, ``webhooks/payload_formats.md`` @a47cb4a for the v4.0
JSON schema, ``webhooks/webhooks.md`` @3afa093 for the 2020 example with a 64-bit id) and
docs/webhook_resources.json (resource names and events per scope). Provenance: SOURCES.md.

Three parts: the payload contract, checked on what the sandbox actually POSTs; the delivery
policy against a loopback receiver that fails on purpose (timings use fractions of a
second); and the policy end to end with the connector (receiver -> Chalice app -> inbound
FIFO queue -> intake), including a discard past the horizon repaired by the poll.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import time
from datetime import datetime
from types import NoneType
from typing import Any

import pytest

from chalicelib.domain.state_machine import Status
from chalicelib.domain.webhooks import parse_webhook
from devstack.procore_sandbox import SERVICE_ACCOUNT_USER_ID, WEB_USER_ID, ProcoreSandbox
from devstack.procore_sandbox.webhooks import DeliveryPolicy
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    CLIENT_ID,
    COMPANY_ID,
    WebhookReceiver,
    chalice_forward,
    demo_fixture,
    fetch_token,
    http_call,
    sandbox_fixture,
    start_webhook_receiver,
    webhook_receiver_fixture,
)
from tests.integration.test_intake_pipeline import Pipeline, pipe  # noqa: F401

WOC, POC = "work_order_contract", "purchase_order_contract"

# --- Procore's payload contract, written from the reference -------------------------------
# v2.0 example (webhooks_current): every key, its JSON type. ``project_id`` and
# ``metadata.source_project_id`` are integers in the example; the reference is silent on
# company-level events, which carry null here (see "project_id" below).
V2_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": int,
    "ulid": str,
    "timestamp": str,
    "metadata": dict,
    "user_id": int,
    "company_id": int,
    "project_id": (int, NoneType),
    "api_version": str,
    "event_type": str,
    "resource_name": str,
    "resource_id": int,
}
V2_METADATA: dict[str, type | tuple[type, ...]] = {
    "source_user_id": int,
    "source_project_id": (int, NoneType),
    "source_operation_id": NoneType,
    "source_company_id": int,
    # null in the example; a string in Procore's deliveries API (WebhooksDeliveryEventMetadata)
    "source_application_id": (str, NoneType),
}
# v3.0 example: v2.0 plus related_resources [{id, name}].
V3_KEYS = {**V2_KEYS, "related_resources": list}
# v4.0 JSON schema (payload_formats_2025): these properties, all strings but ``data``.
V4_PROPERTIES: dict[str, type] = {
    "id": str,
    "timestamp": str,
    "reason": str,
    "company_id": str,
    "project_id": str,
    "user_id": str,
    "resource_type": str,
    "resource_id": str,
    "data": dict,
}
V4_REQUIRED = (
    "id",
    "timestamp",
    "reason",
    "company_id",
    "project_id",
    "user_id",
    "resource_type",
    "resource_id",
)
# webhook_resources.json, events_by_scope (a capture of GET /webhooks/resources).
COMPANY_EVENTS = {"Projects": {"create", "update"}, "Company Vendors": {"create", "update"}}
PROJECT_EVENTS = {
    name: {"create", "update", "delete"}
    for name in (
        "Work Order Contracts",
        "Work Order Contract Line Items",
        "Purchase Order Contracts",
        "Purchase Order Contract Line Items",
    )
}
ULID = re.compile(r"\A[0-7][0-9A-HJKMNP-TV-Z]{25}\Z")  # 26 Crockford base32, 128 bits
DIGITS = re.compile(r"\A[0-9]{1,19}\Z")
# Procore's v2/v3 event ids are int64 (the 2020 example: 5982324300946918154, 19 digits).
INT64 = range(10**18, 2**63)


def _ulid_seconds(ulid: str) -> float:
    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    millis = 0
    for char in ulid[:10]:
        millis = millis * 32 + crockford.index(char)
    return millis / 1000


def _is_timestamp(text: str) -> bool:
    # the examples: "2025-02-06T23:34:12.246562Z" (RFC 3339 / JSON schema date-time)
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text):
        return False
    return datetime.fromisoformat(text.replace("Z", "+00:00")) is not None


def _check_types(payload: dict[str, Any], spec: dict[str, Any], where: str) -> None:
    for key, kind in spec.items():
        if key not in payload:
            continue
        value = payload[key]
        assert not isinstance(value, bool), f"{where}.{key} is a boolean"
        assert isinstance(value, kind), f"{where}.{key}={value!r} is not {kind}"


def check_procore_shape(version: str, payload: dict[str, Any]) -> None:
    """Assert ``payload`` has Procore's documented shape for ``version``."""
    started = time.time()
    if version == "v4.0":
        assert set(V4_REQUIRED) <= set(payload) <= set(V4_PROPERTIES), sorted(payload)
        _check_types(payload, V4_PROPERTIES, "v4.0")
        assert ULID.match(payload["id"]), payload["id"]
        assert abs(_ulid_seconds(payload["id"]) - started) < 60
        assert _is_timestamp(payload["timestamp"])
        for key in ("company_id", "user_id", "resource_id"):
            assert DIGITS.match(payload[key]), (key, payload[key])
        name = payload["resource_type"]
        if name in COMPANY_EVENTS and name != "Projects":
            assert payload["project_id"] == ""  # required string; names no project
        else:
            assert DIGITS.match(payload["project_id"])
        action = payload["reason"]
    else:
        spec = V3_KEYS if version == "v3.0" else V2_KEYS
        assert set(payload) == set(spec), sorted(set(payload) ^ set(spec))
        _check_types(payload, spec, version)
        assert set(payload["metadata"]) == set(V2_METADATA)
        _check_types(payload["metadata"], V2_METADATA, f"{version}.metadata")
        assert payload["api_version"] == version
        assert payload["id"] in INT64, payload["id"]
        assert ULID.match(payload["ulid"]) and abs(_ulid_seconds(payload["ulid"]) - started) < 60
        assert _is_timestamp(payload["timestamp"])
        meta = payload["metadata"]
        assert meta["source_company_id"] == payload["company_id"]
        assert meta["source_project_id"] == payload["project_id"]
        assert meta["source_user_id"] == payload["user_id"]
        for related in payload.get("related_resources", []):
            assert set(related) == {"id", "name"}
            assert isinstance(related["id"], int) and isinstance(related["name"], str)
        name, action = payload["resource_name"], payload["event_type"]
        if name == "Company Vendors":
            assert payload["project_id"] is None
    allowed = {**COMPANY_EVENTS, **PROJECT_EVENTS}
    assert name in allowed and action in allowed[name], (name, action)


def _fire_every_resource(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> dict[str, int]:
    """Every resource and action the sandbox fires, once each; returns the ids involved."""
    token = fetch_token(sandbox.url)
    main = demo["project_ids"]["main"]
    ids: dict[str, int] = {}
    for kind in (WOC, POC):
        record = sandbox.create_commitment(kind, main, title=f"{kind} contract")
        line = sandbox.add_line_item(kind, record["id"], amount=100, description="One")
        sandbox.update_line_item(kind, record["id"], line["id"], amount=150)
        sandbox.update_commitment(kind, record["id"], title="Renamed")
        sandbox.delete_line_item(kind, record["id"], line["id"])
        sandbox.delete_commitment(kind, record["id"])
        ids[kind] = record["id"]
    project = http_call(
        sandbox.url,
        "POST",
        "/rest/v1.0/projects",
        token=token,
        json_body={"company_id": COMPANY_ID, "project": {"name": "Contract Clinic"}},
    )
    assert project.status == 201, project.body
    http_call(
        sandbox.url,
        "PATCH",
        f"/rest/v1.0/projects/{project.body['id']}",
        token=token,
        json_body={"company_id": COMPANY_ID, "project": {"name": "Contract Clinic II"}},
    )
    vendor = http_call(
        sandbox.url,
        "POST",
        "/rest/v1.0/vendors",
        token=token,
        json_body={"company_id": COMPANY_ID, "vendor": {"name": "Contract Tile"}},
    )
    assert vendor.status == 201, vendor.body
    http_call(
        sandbox.url,
        "PATCH",
        f"/rest/v1.0/vendors/{vendor.body['id']}",
        token=token,
        json_body={"company_id": COMPANY_ID, "vendor": {"name": "Contract Tile Co"}},
    )
    ids["project"], ids["vendor"] = project.body["id"], vendor.body["id"]
    return ids


@pytest.mark.parametrize("version", ["v2.0", "v3.0", "v4.0"])
def test_what_the_sandbox_posts_has_procores_documented_shape(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    webhook_receiver: WebhookReceiver,
    version: str,
) -> None:
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", version)
    ids = _fire_every_resource(sandbox, demo)
    payloads = [r.payload for r in webhook_receiver.received]
    assert len(payloads) == 2 * 6 + 2 + 2  # 2 commitment kinds x 6 writes, 2 projects, 2 vendors
    assert payloads == sandbox.events  # what was POSTed is what the sandbox recorded
    for payload in payloads:
        check_procore_shape(version, payload)
        event = parse_webhook(json.dumps(payload))  # the connector reads it
        assert event.payload_version == version and event.company_id == COMPANY_ID
        if event.resource_name == "Company Vendors":
            assert event.project_id is None
        if event.resource_name == "Projects":
            assert event.project_id == event.resource_id == ids["project"]

    names = [p.get("resource_name", p.get("resource_type")) for p in payloads]
    assert set(names) == set(PROJECT_EVENTS) | set(COMPANY_EVENTS)
    if version == "v4.0":
        assert len({p["id"] for p in payloads}) == len(payloads)
        by_user = {p["user_id"] for p in payloads}
        assert by_user == {str(WEB_USER_ID), str(SERVICE_ACCOUNT_USER_ID)}
        return
    event_ids = [p["id"] for p in payloads]
    assert event_ids == sorted(event_ids) and len(set(event_ids)) == len(event_ids)
    apps = {p["metadata"]["source_application_id"] for p in payloads}
    assert apps == {"procore-web", CLIENT_ID}
    if version == "v3.0":
        related = [p["related_resources"] for p in payloads if "Line Items" in p["resource_name"]]
        assert {(r[0]["name"], r[0]["id"]) for r in related} == {
            ("Work Order Contracts", ids[WOC]),
            ("Purchase Order Contracts", ids[POC]),
        }
        others = [p for p in payloads if "Line Items" not in p["resource_name"]]
        assert all(p["related_resources"] == [] for p in others)


# --- the delivery policy against a receiver that fails on purpose ----------------------------
def test_the_policy_defaults_are_procores() -> None:
    policy = DeliveryPolicy()
    assert (policy.delivery_timeout, policy.retry_base, policy.retry_cap) == (5, 1, 3600)
    assert policy.discard_after == 12 * 3600
    # exponential from 1 s, capped at 1 h: 1, 2, 4, ..., 2048, 3600, 3600
    assert [policy.backoff(n) for n in range(1, 15)] == [
        *(float(2**k) for k in range(12)),
        3600.0,
        3600.0,
    ]
    assert policy.backoff(10_000) == 3600.0
    with pytest.raises(ValueError, match="retry_base"):
        DeliveryPolicy(retry_base=0)
    with pytest.raises(ValueError, match="retry_cap"):
        DeliveryPolicy(retry_base=2, retry_cap=1)
    with pytest.raises(ValueError, match="discard_after"):
        ProcoreSandbox(discard_after=-1)


@pytest.fixture
def fast(sandbox: ProcoreSandbox, webhook_receiver: WebhookReceiver) -> ProcoreSandbox:
    """The sandbox with Procore's policy shrunk to fractions of a second."""
    sandbox.set_delivery_policy(
        delivery_timeout=0.5, retry_base=0.1, retry_cap=0.4, discard_after=30
    )
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", "v2.0")
    return sandbox


def _ids(received: list[Any]) -> list[int]:
    return [r.payload["id"] for r in received]


def test_a_failure_pauses_the_endpoint_and_retries_with_exponential_backoff_in_order(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    fast.set_delivery_policy(retry_base=0.15, retry_cap=0.6)
    webhook_receiver.fail_next(3, 503)
    record = fast.create_commitment(WOC, demo["project_ids"]["main"])  # event 1: 503
    # sync mode: the write returned after one failed attempt; the endpoint is paused
    state = fast.delivery_state()
    assert state["paused"] and state["queued"] == 1
    (hook,) = state["hooks"]
    assert (hook["failures"], hook["last_error"], hook["queue"][0]["attempts"]) == (
        1,
        "HTTP 503",
        1,
    )
    fast.update_commitment(WOC, record["id"], title="Two")  # events 2 and 3 wait behind it
    fast.update_commitment(WOC, record["id"], title="Three")

    fast.wait_until_idle(timeout=5)
    received = webhook_receiver.received
    first, second, third = (e["id"] for e in fast.events)
    assert _ids(received) == [first, first, first, first, second, third]
    assert webhook_receiver.statuses() == [503, 503, 503, 200, 200, 200]
    # backoff 0.15, 0.3, 0.6 between the attempts of event 1
    times = [r.at for r in received]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, expected in zip(gaps[:3], (0.15, 0.3, 0.6), strict=True):
        assert expected - 0.02 <= gap < expected + 0.3, gaps
    assert gaps[3] < 0.1 and gaps[4] < 0.1  # a success resets: the queue follows at once
    assert [(d["event_id"], d["attempt"], d["ok"]) for d in fast.deliveries][:4] == [
        (str(first), n, n == 4) for n in range(1, 5)
    ]
    state = fast.delivery_state()
    assert not state["paused"] and state["queued"] == 0 and state["hooks"][0]["failures"] == 0
    assert state["attempts"] == {str(first): 4, str(second): 1, str(third): 1}

    fast.update_commitment(WOC, record["id"], title="Four")  # healthy: posted inline again
    assert len(webhook_receiver.received) == 7


def test_backoff_is_capped(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    fast.set_delivery_policy(retry_base=0.05, retry_cap=0.1)
    webhook_receiver.fail_next(5, 500)
    fast.create_commitment(WOC, demo["project_ids"]["main"])
    fast.wait_until_idle(timeout=5)
    times = [r.at for r in webhook_receiver.received]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 5
    for gap, expected in zip(gaps, (0.05, 0.1, 0.1, 0.1, 0.1), strict=True):
        assert expected - 0.02 <= gap < expected + 0.3, gaps


@pytest.mark.parametrize("status", [302, 404, 500, 503])
def test_any_non_2xx_answer_is_a_failure(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver, status: int
) -> None:
    webhook_receiver.fail_next(1, status)
    fast.create_commitment(WOC, demo["project_ids"]["main"])
    assert fast.delivery_state()["paused"]
    fast.wait_until_idle(timeout=5)
    assert webhook_receiver.statuses() == [status, 200]
    assert fast.deliveries[0]["error"] == f"HTTP {status}" and not fast.deliveries[0]["ok"]


def test_an_answer_after_the_timeout_is_a_failure_and_the_event_comes_again(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    fast.set_delivery_policy(delivery_timeout=0.2)
    webhook_receiver.fail_next(1, 200, delay=0.6)  # a 200, but too late
    started = time.monotonic()
    fast.create_commitment(WOC, demo["project_ids"]["main"])
    assert time.monotonic() - started < 0.55  # the sandbox gave up after 0.2 s
    timed_out = fast.deliveries[0]
    assert timed_out["status"] is None and "timed out" in timed_out["error"].lower()
    fast.wait_until_idle(timeout=5)
    webhook_receiver.wait_for(2)
    # at least once: the receiver saw the event twice (its first answer was too late)
    assert _ids(webhook_receiver.received) == [fast.events[0]["id"]] * 2


def test_a_refused_connection_pauses_until_the_endpoint_listens(
    fast: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fast.set_webhook(f"http://127.0.0.1:{port}/webhooks/procore", None, "v2.0")
    fast.create_commitment(WOC, demo["project_ids"]["main"])
    refused = fast.deliveries[0]
    assert refused["status"] is None and "ConnectionRefused" in refused["error"]
    assert fast.delivery_state()["paused"]
    late = start_webhook_receiver(port)  # the connector comes up on that port
    try:
        fast.wait_until_idle(timeout=5)
        assert _ids(late.received) == [fast.events[0]["id"]]
    finally:
        late.stop()


def test_past_the_horizon_the_queue_is_flushed_and_recorded_as_discarded(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    fast.set_delivery_policy(retry_base=0.05, retry_cap=0.1, discard_after=0.5)
    webhook_receiver.status = 503  # the endpoint is down for good
    record = fast.create_commitment(WOC, demo["project_ids"]["main"])
    fast.update_commitment(WOC, record["id"], title="Queued behind")
    discarded = fast.wait_for_discarded(2, timeout=5)
    first, second = (e["id"] for e in fast.events)
    assert [d["event_id"] for d in discarded] == [str(first), str(second)]
    assert [d["payload"] for d in discarded] == fast.events
    assert discarded[0]["attempts"] >= 4 and discarded[1]["attempts"] == 0
    assert "discard_after 0.5s" in discarded[0]["reason"] and "HTTP 503" in discarded[0]["reason"]
    assert set(_ids(webhook_receiver.received)) == {first}  # the second was never tried
    state = fast.delivery_state()
    assert (state["paused"], state["queued"], state["discarded"]) == (False, 0, 2)
    listed = http_call(fast.url, "GET", "/_sandbox/discarded")
    assert listed.status == 200 and [d["event_id"] for d in listed.body] == [
        str(first),
        str(second),
    ]

    # the flush reset the counters: the next event is tried at once and goes through
    webhook_receiver.status = 200
    tries = len(webhook_receiver.received)
    fast.update_commitment(WOC, record["id"], title="After the flush")
    assert webhook_receiver.statuses()[tries:] == [200]


def test_resume_deliveries_retries_at_once_and_shows_the_delivery_state(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    fast.set_delivery_policy(retry_base=30, retry_cap=60)  # no retry within the test
    webhook_receiver.fail_next(1, 503)
    record = fast.create_commitment(WOC, demo["project_ids"]["main"])
    fast.update_commitment(WOC, record["id"], title="Behind")
    shown = http_call(fast.url, "GET", "/_sandbox/webhook")
    assert shown.status == 200
    (hook,) = shown.body["hooks"]
    assert hook["paused"] and hook["queued"] == 2 and 29 < hook["next_attempt_in"] <= 30
    assert [e["attempts"] for e in hook["queue"]] == [1, 0]
    assert hook["discard_at"] > hook["failing_since"]
    assert shown.body["policy"]["retry_base"] == 30

    state = fast.resume_deliveries()  # sync mode: the retries happen in this call
    assert state["queued"] == 0 and not state["paused"]
    assert webhook_receiver.statuses() == [503, 200, 200]

    webhook_receiver.fail_next(1, 503)  # and over HTTP: the delivery thread retries
    fast.update_commitment(WOC, record["id"], title="Again")
    assert fast.delivery_state()["paused"]
    answer = http_call(fast.url, "POST", "/_sandbox/webhook/resume")
    assert answer.status == 202
    fast.wait_until_idle(timeout=5)
    assert webhook_receiver.statuses() == [503, 200, 200, 503, 200]


def test_async_mode_follows_the_same_policy(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    fast.set_webhook(webhook_receiver.url, None, "v4.0", delivery="async")
    webhook_receiver.fail_next(2, 502)
    record = fast.create_commitment(WOC, demo["project_ids"]["main"])
    fast.update_commitment(WOC, record["id"], title="B")
    fast.update_commitment(WOC, record["id"], title="C")
    fast.wait_until_idle(timeout=5)
    first, second, third = (e["id"] for e in fast.events)
    assert _ids(webhook_receiver.received) == [first, first, first, second, third]
    assert webhook_receiver.statuses() == [502, 502, 200, 200, 200]


def test_each_endpoint_has_its_own_queue(
    fast: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.status = 503
    record = fast.create_commitment(WOC, demo["project_ids"]["main"])
    other = start_webhook_receiver()
    try:
        fast.set_webhook(other.url, None, "v2.0")  # a second hook: not paused by the first
        fast.update_commitment(WOC, record["id"], title="Elsewhere")
        assert _ids(other.received) == [fast.events[1]["id"]]
        hooks = {h["url"]: h for h in fast.delivery_state()["hooks"]}
        assert hooks[webhook_receiver.url]["paused"] and hooks[webhook_receiver.url]["queued"]
        assert not hooks[other.url]["paused"] and hooks[other.url]["queued"] == 0
    finally:
        other.stop()


def test_policy_knobs_over_http(sandbox: ProcoreSandbox, webhook_receiver: WebhookReceiver) -> None:
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", "v3.0")
    answer = http_call(
        sandbox.url,
        "POST",
        "/_sandbox/webhook",
        json_body={"retry_base": 0.25, "retry_cap": 2, "discard_after": 9, "delivery_timeout": 1},
    )
    assert answer.status == 200
    assert answer.body["policy"] == {
        "delivery_timeout": 1.0,
        "retry_base": 0.25,
        "retry_cap": 2.0,
        "discard_after": 9.0,
    }
    assert (answer.body["url"], answer.body["payload_version"]) == (webhook_receiver.url, "v3.0")
    bad = http_call(sandbox.url, "POST", "/_sandbox/webhook", json_body={"retry_base": -1})
    assert bad.status == 422
    assert sandbox.delivery_policy.retry_base == 0.25


def _delivery_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "procore-sandbox-webhooks"]


def test_stop_ends_the_delivery_thread_and_reset_drops_the_queues(
    demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.status = 503
    before = set(_delivery_threads())
    box = ProcoreSandbox(webhook_url=webhook_receiver.url, retry_base=0.05, retry_cap=0.05)
    box.start()
    try:
        project = box.add_project("Stop Test")["id"]
        box.create_commitment(WOC, project)
        box.wait_for_deliveries(3)  # the delivery thread is retrying
        assert set(_delivery_threads()) - before
        box.reset()  # drops the queue and the delivery state
        assert box.delivery_state()["queued"] == 0 and box.deliveries == []
        project = box.add_project("Stop Test 2")["id"]
        box.create_commitment(WOC, project)
        assert box.delivery_state()["paused"]
    finally:
        started = time.monotonic()
        box.stop()
        assert time.monotonic() - started < 1.0
    assert set(_delivery_threads()) <= before  # joined: nothing leaks into the next test
    tries = len(webhook_receiver.received)
    time.sleep(0.3)
    assert len(webhook_receiver.received) == tries  # no retry after stop()
    assert box.delivery_state()["queued"] == 1  # still queued, never posted in the background


# --- end to end with the connector ------------------------------------------------------------
@pytest.fixture
def flow(pipe: Pipeline, chalice_client: Any) -> Pipeline:  # noqa: F811 - the fixture
    """Every delivery goes straight to the connector's route; its answer is the receiver's."""
    pipe.receiver.forward = chalice_forward(chalice_client)
    pipe.sandbox.set_delivery_policy(retry_base=0.05, retry_cap=0.2, delivery_timeout=2)
    pipe.link_project_and_vendor()
    return pipe


def _run_intake(flow: Pipeline) -> tuple[int, int]:
    with flow.receiver.lock:  # the connector runs in-process: one caller at a time
        return flow.run_intake()


def _forwarded_ulids(flow: Pipeline) -> list[str]:
    return [r.payload["ulid"] for r in flow.receiver.received if r.status == 202]


def test_connector_endpoint_failing_once_loses_nothing_and_keeps_order(
    flow: Pipeline,
) -> None:
    flow.receiver.fail_next(1, 503)  # e.g. a cold start over Procore's 5 s, once
    record = flow.commitment(status="Draft", lines=2)
    line = flow.sandbox.list_line_items(WOC, record["id"])[0]
    flow.sandbox.update_line_item(WOC, record["id"], line["id"], amount="1500")
    flow.sandbox.update_commitment(WOC, record["id"], status="Approved", title="Concrete rev")
    flow.sandbox.wait_until_idle(timeout=10)

    sent = [e["ulid"] for e in flow.sandbox.events]
    assert flow.receiver.statuses() == [503] + [202] * len(sent)
    assert _forwarded_ulids(flow) == sent  # every event reached the connector, in order
    assert flow.receiver.received[0].payload == flow.receiver.received[1].payload

    _run_intake(flow)
    item = flow.item(record["id"])
    assert item.status is Status.READY_TO_EXPORT
    assert (item.snapshot["status"], item.snapshot["title"]) == ("Approved", "Concrete rev")
    assert item.snapshot["grand_total"] == "3500.00"


class _SqsAway:
    """The inbound queue's client, unreachable for the first ``failures`` sends."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client, self.failures = client, failures

    def send_message(self, **kwargs: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        if self.failures > 0:
            self.failures -= 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/sqs")
        return self.client.send_message(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_connector_answering_503_while_aws_is_away_gets_procore_retries(
    flow: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.wiring import get_inbound_queue

    queue = get_inbound_queue()
    monkeypatch.setattr(queue, "client", _SqsAway(queue.client, failures=2))
    record = flow.commitment(lines=1)
    flow.sandbox.wait_until_idle(timeout=10)

    sent = [e["ulid"] for e in flow.sandbox.events]
    # the connector itself answered 503 (queue unavailable) twice; Procore retried
    assert flow.receiver.statuses() == [503, 503] + [202] * len(sent)
    assert _forwarded_ulids(flow) == sent
    _run_intake(flow)
    assert flow.item(record["id"]).status is Status.READY_TO_EXPORT


def test_discarded_past_the_horizon_then_the_reconciliation_poll_repairs(
    flow: Pipeline,
) -> None:
    from chalicelib.domain.models import utc_now
    from chalicelib.services.reconcile import ReconcileService
    from chalicelib.wiring import get_inbound_queue, get_procore, get_store

    flow.sandbox.set_delivery_policy(retry_base=0.05, retry_cap=0.1, discard_after=0.6)
    flow.receiver.fail_next(10_000, 503)  # the connector is down past the horizon
    record = flow.commitment(status="Draft", lines=1)
    flow.sandbox.update_commitment(WOC, record["id"], status="Approved")
    discarded = flow.sandbox.wait_for_discarded(len(flow.sandbox.events), timeout=10)
    assert [d["payload"] for d in discarded] == flow.sandbox.events
    assert _forwarded_ulids(flow) == [] and flow.item(record["id"]) is None

    flow.receiver.scripted.clear()  # the connector is back; Procore will not resend
    poll = ReconcileService(
        get_store(),
        get_inbound_queue(),
        get_procore,
        utc_now,
        overlap_seconds=120,
        lookback_minutes=60,
    )
    with flow.receiver.lock:
        report = poll.poll(COMPANY_ID)
    assert report.events_queued == 1
    _run_intake(flow)
    item = flow.item(record["id"])
    assert item.status is Status.READY_TO_EXPORT and item.snapshot["status"] == "Approved"

    # after the flush deliveries are normal again: the next change arrives by webhook
    flow.sandbox.update_commitment(WOC, record["id"], title="Concrete after outage")
    assert flow.receiver.statuses()[-1] == 202
    _run_intake(flow)
    assert flow.item(record["id"]).snapshot["title"] == "Concrete after outage"
