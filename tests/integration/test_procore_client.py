"""ProcoreClient against the sandbox over real loopback HTTP, with a fake clock and sleep."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from chalicelib.adapters.procore import (
    ProcoreAuthError,
    ProcoreClient,
    ProcoreRateLimited,
    ProcoreTokenProvider,
    Transport,
    UrllibTransport,
)
from chalicelib.errors import FatalUpstreamError, RetriableUpstreamError, UpstreamNotFound
from devstack.procore_sandbox import ProcoreSandbox
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    FakeTime,
    WebhookReceiver,
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)

LOOPBACK = UrllibTransport(use_env_proxies=False)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(
    box: ProcoreSandbox,
    fake_time: FakeTime,
    *,
    base_url: str | None = None,
    secret: str = CLIENT_SECRET,
    transport: Transport = LOOPBACK,
    company_id: int = COMPANY_ID,
    **kwargs: Any,
) -> ProcoreClient:
    tokens = ProcoreTokenProvider(
        box.url, CLIENT_ID, secret, transport=LOOPBACK, clock=fake_time.clock
    )
    kwargs.setdefault("rng", lambda: 0.5)
    return ProcoreClient(
        base_url or box.url,
        tokens,
        company_id,
        transport=transport,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        **kwargs,
    )


def rest_calls(box: ProcoreSandbox) -> list[dict[str, Any]]:
    return [r for r in box.requests if r["path"].startswith("/rest/")]


# --- auth and headers ---------------------------------------------------------------------
def test_token_is_cached_then_refreshed_shortly_before_expiry(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    for _ in range(4):
        client.list_projects()
    assert sandbox.request_counts["/oauth/token"] == 1

    fake_time.now += 5400 - 61  # still more than 60 s left: keep the token
    client.list_vendors()
    assert sandbox.request_counts["/oauth/token"] == 1
    fake_time.now += 2  # inside the 60 s refresh margin: fetch a new one
    client.list_vendors()
    assert sandbox.request_counts["/oauth/token"] == 2
    assert client.calls_made == 6
    assert fake_time.sleeps == []


def test_company_header_and_bearer_sent_on_every_call(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    project = client.get_project(demo["project_ids"]["main"])
    client.get_vendor(demo["vendor_ids"]["steel"])
    client.list_line_item_types()
    assert project["project_number"] == "2024-001"
    calls = rest_calls(sandbox)
    assert len(calls) == 3
    assert {c["company_header"] for c in calls} == {str(COMPANY_ID)}
    assert {c["client_id"] for c in calls} == {CLIENT_ID}  # authenticated by our token


def test_wrong_company_is_fatal_and_not_retried(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, company_id=999)
    with pytest.raises(FatalUpstreamError) as caught:
        client.get("/rest/v1.0/vendors", {"company_id": 999})
    assert caught.value.details["status"] == 403
    assert client.calls_made == 1


def test_revoked_token_is_dropped_and_the_call_retried_once(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    client.list_projects()
    sandbox.revoke_tokens()
    assert len(client.list_projects()) == 2
    assert sandbox.request_counts["/oauth/token"] == 2
    assert [c["status"] for c in rest_calls(sandbox)] == [200, 401, 200]


def test_bad_credentials_raise_auth_error_without_leaking_the_secret(
    sandbox: ProcoreSandbox, fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, secret="wrong-secret-value")
    with pytest.raises(ProcoreAuthError) as caught:
        client.list_projects()
    assert "wrong-secret-value" not in repr(caught.value.to_body())
    assert "wrong-secret-value" not in repr(client._tokens)
    assert client.calls_made == 0


# --- pagination ---------------------------------------------------------------------------
def test_get_all_walks_pages_using_total(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    main_id = demo["project_ids"]["main"]
    codes = client.get_all("/rest/v1.0/cost_codes", {"project_id": main_id}, per_page=2)
    assert [c["full_code"] for c in codes] == ["01-100", "03-300", "05-120", "09-900", "26-000"]
    # Total = 5 says the third page (1 item) is the last: no fourth request
    assert sandbox.request_counts["/rest/v1.0/cost_codes"] == 3
    assert client.list_cost_codes(main_id) == codes


def _without_total(inner: Transport) -> Transport:
    def transport(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        status, answer_headers, payload = inner(method, url, headers, body, timeout)
        return status, {k: v for k, v in answer_headers.items() if k != "Total"}, payload

    return transport


def _ignoring_page(inner: Transport) -> Transport:
    def transport(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        url = re.sub(r"([?&])page=\d+", r"\1page=1", url)
        return inner(method, url, headers, body, timeout)

    return _without_total(transport)


def test_get_all_without_total_stops_at_a_short_page(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, transport=_without_total(LOOPBACK))
    vendors = client.get_all("/rest/v1.0/vendors", {"company_id": COMPANY_ID}, per_page=2)
    assert len(vendors) == 3
    assert sandbox.request_counts["/rest/v1.0/vendors"] == 2

    exact = client.get_all("/rest/v1.0/vendors", {"company_id": COMPANY_ID}, per_page=3)
    assert len(exact) == 3  # a full page, then an empty one ends it
    assert sandbox.request_counts["/rest/v1.0/vendors"] == 4


def test_get_all_refuses_to_loop_when_the_server_ignores_page(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, transport=_ignoring_page(LOOPBACK))
    with pytest.raises(FatalUpstreamError, match="pagination ignored"):
        client.get_all("/rest/v1.0/vendors", {"company_id": COMPANY_ID}, per_page=2)
    assert sandbox.request_counts["/rest/v1.0/vendors"] == 2


# --- rate limits and retries -----------------------------------------------------------------
def test_429_sleeps_until_reset_then_succeeds(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    sandbox.inject_fault(429, reset_in=3)
    projects = client.list_projects()
    assert len(projects) == 2
    assert len(fake_time.sleeps) == 1
    # Reset is whole seconds 3 s ahead; plus rng 0.5 x 0.25 s jitter
    assert 2.0 < fake_time.sleeps[0] <= 3.0 + 0.125 + 0.01
    assert [c["status"] for c in rest_calls(sandbox)] == [429, 200]
    assert client.calls_made == 2


def test_persistent_429_raises_rate_limited_with_retry_after(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, max_attempts=3)
    sandbox.inject_fault(429, count=10, reset_in=2)
    with pytest.raises(ProcoreRateLimited) as caught:
        client.list_vendors()
    assert caught.value.retriable and caught.value.details["status"] == 429
    assert caught.value.details["retry_after"] is not None
    assert sandbox.request_counts["/rest/v1.0/vendors"] == 3
    assert len(fake_time.sleeps) == 2


def test_503_retry_after_is_honoured(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    sandbox.inject_fault(503, count=2, retry_after=7)
    vendor = client.get_vendor(demo["vendor_ids"]["concrete"])
    assert vendor["name"] == "Granite Bay Concrete"
    assert fake_time.sleeps == [7.0, 7.0]


def test_persistent_503_gives_up_after_max_attempts(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, max_attempts=4)
    sandbox.inject_fault(503, count=100, retry_after=1)
    with pytest.raises(RetriableUpstreamError) as caught:
        client.list_projects()
    assert not isinstance(caught.value, ProcoreRateLimited)
    assert "GET /rest/v1.0/projects" in caught.value.message
    assert "HTTP 503" in caught.value.message
    assert caught.value.details["attempts"] == 4
    assert sandbox.request_counts["/rest/v1.0/projects"] == 4
    assert fake_time.sleeps == [1.0, 1.0, 1.0]  # no sleep after the last attempt


def test_other_5xx_back_off_exponentially_with_full_jitter(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, rng=lambda: 1.0, backoff_cap=1.5)
    sandbox.inject_fault(500, count=3)
    assert len(client.list_projects()) == 2
    # rng=1.0 picks the ceiling: 0.5, 1.0, then 2.0 capped at 1.5
    assert fake_time.sleeps == [0.5, 1.0, 1.5]


def test_post_is_not_retried_after_a_500(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    sandbox.inject_fault(500, method="POST")
    body = {"project_id": demo["project_ids"]["main"], "work_order_contract": {"title": "X"}}
    with pytest.raises(RetriableUpstreamError):
        client.post("/rest/v1.0/work_order_contracts", body)
    assert sandbox.request_counts["/rest/v1.0/work_order_contracts"] == 1
    assert fake_time.sleeps == []


def test_post_is_retried_after_a_429(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    sandbox.inject_fault(429, method="POST")
    body = {"project_id": demo["project_ids"]["main"], "work_order_contract": {"title": "X"}}
    created = client.post("/rest/v1.0/work_order_contracts", body)
    assert created["title"] == "X"
    assert len(sandbox.state.commitments["work_order_contracts"]) == 1


def test_connection_refused_is_retried_then_retriable(
    sandbox: ProcoreSandbox, fake_time: FakeTime
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    client = make_client(
        sandbox, fake_time, base_url=f"http://127.0.0.1:{dead_port}", max_attempts=3
    )
    with pytest.raises(RetriableUpstreamError, match="connection error"):
        client.list_projects()
    assert client.calls_made == 3
    assert len(fake_time.sleeps) == 2


def test_low_remaining_makes_the_client_wait_before_the_next_call(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time, low_remaining_threshold=5)
    client.list_projects()
    assert fake_time.sleeps == []
    sandbox.set_rate_limit(limit=100, remaining=5, window_seconds=30)
    client.list_projects()  # answer says Remaining 4: slow down
    assert fake_time.sleeps == []
    assert client.rate_limit.remaining == 4
    reset_at, clock_before = client.rate_limit.reset, fake_time.now
    client.list_projects()  # waits for the window reset first
    # exactly until the announced reset; about the 30 s window (the header rounds up to
    # a whole second and the fake clock started a moment before the window did)
    assert fake_time.sleeps == [pytest.approx(reset_at - clock_before)]
    assert 28.0 < fake_time.sleeps[0] < 32.0


# --- error mapping ---------------------------------------------------------------------------
def test_404_raises_upstream_not_found(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    with pytest.raises(UpstreamNotFound) as caught:
        client.get_commitment("work_order_contract", demo["project_ids"]["main"], 999_999)
    assert caught.value.details["status"] == 404
    assert client.calls_made == 1


def test_422_raises_fatal_with_procore_errors(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    body = {
        "project_id": demo["project_ids"]["main"],
        "work_order_contract": {"status": "Signed"},
    }
    with pytest.raises(FatalUpstreamError) as caught:
        client.post("/rest/v1.0/work_order_contracts", body)
    assert not isinstance(caught.value, UpstreamNotFound)
    assert caught.value.details["status"] == 422
    assert caught.value.details["errors"] == {"status": ["is not included in the list"]}
    assert not caught.value.retriable
    assert client.calls_made == 1


def test_unknown_commitment_kind_is_a_programming_error(
    sandbox: ProcoreSandbox, fake_time: FakeTime
) -> None:
    client = make_client(sandbox, fake_time)
    with pytest.raises(ValueError, match="unknown commitment kind"):
        client.get_commitment("prime_contract", 1, 2)  # type: ignore[arg-type]
    assert client.calls_made == 0


# --- commitment helpers and webhook echoes ------------------------------------------------------
def test_commitment_helpers_and_our_writes_echo_as_our_application(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    fake_time: FakeTime,
    webhook_receiver: WebhookReceiver,
) -> None:
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", "v3.0")
    client = make_client(sandbox, fake_time)
    main_id = demo["project_ids"]["main"]
    po = client.post(
        "/rest/v1.0/purchase_order_contracts",
        {
            "project_id": main_id,
            "purchase_order_contract": {
                "number": "PO-7",
                "vendor_id": demo["vendor_ids"]["steel"],
            },
        },
    )
    path = f"/rest/v1.0/purchase_order_contracts/{po['id']}"
    for amount in ("100.00", "250.50"):
        client.post(
            path + "/line_items",
            {"project_id": main_id, "line_item": {"amount": amount, "description": "Rebar"}},
        )
    client.patch(path, {"project_id": main_id, "purchase_order_contract": {"status": "Approved"}})

    fetched = client.get_commitment("purchase_order_contract", main_id, po["id"])
    lines = client.list_commitment_line_items("purchase_order_contract", main_id, po["id"])
    assert (fetched["status"], fetched["grand_total"]) == ("Approved", "350.50")
    assert [line["amount"] for line in lines] == ["100.00", "250.50"]

    echoes = [r.payload for r in webhook_receiver.received]
    assert len(echoes) == 4
    assert {e["metadata"]["source_application_id"] for e in echoes} == {CLIENT_ID}
    assert echoes[1]["related_resources"] == [{"id": po["id"], "name": "Purchase Order Contracts"}]


def _count_calls(inner: Transport, counter: list[int]) -> Callable[..., Any]:
    def transport(*args: Any) -> Any:
        counter.append(1)
        return inner(*args)

    return transport


def test_calls_made_matches_requests_sent(
    sandbox: ProcoreSandbox, demo: dict[str, Any], fake_time: FakeTime
) -> None:
    sent: list[int] = []
    client = make_client(sandbox, fake_time, transport=_count_calls(LOOPBACK, sent))
    sandbox.inject_fault(503, retry_after=0)
    client.list_cost_codes(demo["project_ids"]["second"])
    client.get_project(demo["project_ids"]["second"])
    assert client.calls_made == len(sent) == 3
