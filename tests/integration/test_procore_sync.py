"""Procore's sync endpoints: the sandbox's semantics and ProcoreClient.sync over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.procore import (
    SYNC_CHUNK,
    ProcoreClient,
    ProcoreTokenProvider,
    SyncOutcome,
    UrllibTransport,
)
from chalicelib.errors import FatalUpstreamError
from devstack.procore_sandbox import ProcoreSandbox
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    FakeTime,
    WebhookReceiver,
    demo_fixture,
    fetch_token,
    http_call,
    sandbox_fixture,
    webhook_receiver_fixture,
)

LOOPBACK = UrllibTransport(use_env_proxies=False)
WOC_SYNC = "/rest/v1.0/work_order_contracts/sync"


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(sandbox: ProcoreSandbox, fake_time: FakeTime) -> ProcoreClient:
    tokens = ProcoreTokenProvider(
        sandbox.url, CLIENT_ID, CLIENT_SECRET, transport=LOOPBACK, clock=fake_time.clock
    )
    return ProcoreClient(
        sandbox.url,
        tokens,
        COMPANY_ID,
        transport=LOOPBACK,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=lambda: 0.5,
    )


def _subcontract(box: ProcoreSandbox, demo: dict[str, Any], number: str) -> dict[str, Any]:
    return box.create_commitment(
        "work_order_contract",
        demo["project_ids"]["main"],
        number=number,
        title=f"Package {number}",
        vendor_id=demo["vendor_ids"]["concrete"],
    )


def _sync_calls(box: ProcoreSandbox, path: str = WOC_SYNC) -> list[dict[str, Any]]:
    return [r for r in box.requests if r["path"] == path]


def test_sync_sets_origin_fields_visible_via_get_and_the_sandbox(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    main_id = demo["project_ids"]["main"]
    contract = _subcontract(sandbox, demo, "SC-001")

    outcome = client.sync_commitment_origin(
        "work_order_contract", main_id, contract["id"], "17", "SC-001"
    )

    assert isinstance(outcome, SyncOutcome) and outcome.ok
    assert [(e["id"], e["origin_id"], e["origin_code"]) for e in outcome.entities] == [
        (contract["id"], "17", "SC-001")
    ]
    assert [(c["method"], c["status"]) for c in _sync_calls(sandbox)] == [("PATCH", 200)]
    fetched = client.get_commitment("work_order_contract", main_id, contract["id"])
    assert (fetched["origin_id"], fetched["origin_code"]) == ("17", "SC-001")
    held = sandbox.get_commitment("work_order_contract", contract["id"])
    assert (held["origin_id"], held["origin_code"], held["title"]) == (
        "17",
        "SC-001",
        "Package SC-001",
    )

    # origin_data through the generic call; other fields are ignored by a sync
    outcome = client.sync(
        WOC_SYNC,
        [{"id": contract["id"], "origin_data": "sage:job=17", "title": "Renamed"}],
        scope={"project_id": main_id},
    )
    assert outcome.ok
    held = sandbox.get_commitment("work_order_contract", contract["id"])
    assert (held["origin_id"], held["origin_data"], held["title"]) == (
        "17",
        "sage:job=17",
        "Package SC-001",
    )


def test_unknown_id_and_taken_origin_id_are_per_entity_errors_others_still_apply(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    main_id = demo["project_ids"]["main"]
    first, second, third = (_subcontract(sandbox, demo, f"SC-00{n}") for n in (1, 2, 3))
    client.sync_commitment_origin("work_order_contract", main_id, first["id"], "17", "SC-001")
    updates = [
        {"id": second["id"], "origin_id": "18", "origin_code": "SC-002"},
        {"id": 999_999, "origin_id": "19", "origin_code": "SC-404"},
        {"id": third["id"], "origin_id": "17", "origin_code": "SC-003"},  # first holds 17
        {"origin_id": "17", "origin_code": "SC-001A"},  # matched on origin_id
    ]

    outcome = client.sync(WOC_SYNC, updates, scope={"project_id": main_id})

    assert _sync_calls(sandbox)[-1]["status"] == 200
    assert [(e["id"], e["origin_id"], e["origin_code"]) for e in outcome.entities] == [
        (second["id"], "18", "SC-002"),
        (first["id"], "17", "SC-001A"),
    ]
    assert outcome.errors == [
        {**updates[1], "errors": {"id": ["Entity with this ID not found"]}},
        {**updates[2], "errors": {"origin_id": ["has already been taken"]}},
    ]
    assert not outcome.ok
    assert sandbox.get_commitment("work_order_contract", second["id"])["origin_id"] == "18"
    untouched = sandbox.get_commitment("work_order_contract", third["id"])
    assert (untouched["origin_id"], untouched["origin_code"]) == (None, None)

    # a commitment of another project is "not found" through this project's sync
    other = sandbox.create_commitment("work_order_contract", demo["project_ids"]["second"])
    outcome = client.sync_commitment_origin("work_order_contract", main_id, other["id"], "20", "X")
    assert outcome.errors[0]["errors"] == {"id": ["Entity with this ID not found"]}
    # commitments are never created through sync: an unknown origin_id without id is refused
    outcome = client.sync(WOC_SYNC, [{"origin_id": "21"}], scope={"project_id": main_id})
    assert outcome.entities == [] and outcome.errors[0]["errors"] == {"id": ["can't be blank"]}
    assert len(sandbox.state.commitments["work_order_contracts"]) == 4


def test_more_than_1000_updates_are_chunked_by_the_client(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    main_id = demo["project_ids"]["main"]
    count = SYNC_CHUNK + 205
    ids = [
        sandbox.create_commitment("purchase_order_contract", main_id, number=f"PO-{n}")["id"]
        for n in range(count)
    ]
    updates = [
        {"id": cid, "origin_id": f"PO{n}", "origin_code": f"PO-{n}"} for n, cid in enumerate(ids)
    ]
    updates.append({"id": 1, "origin_id": "nope"})  # one refusal, in the second chunk

    outcome = client.sync(
        "/rest/v1.0/purchase_order_contracts/sync", updates, scope={"project_id": main_id}
    )

    assert sandbox.request_counts["/rest/v1.0/purchase_order_contracts/sync"] == 2
    assert client.calls_made == 2
    assert [e["id"] for e in outcome.entities] == ids
    assert [e["id"] for e in outcome.errors] == [1]
    assert (
        sandbox.get_commitment("purchase_order_contract", ids[-1])["origin_id"] == f"PO{count - 1}"
    )
    assert client.sync(WOC_SYNC, [], scope={"project_id": main_id}) == SyncOutcome()
    assert client.calls_made == 2  # nothing to sync, nothing sent


def test_sandbox_refuses_more_than_1000_updates_as_a_whole(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    contract = _subcontract(sandbox, demo, "SC-001")
    updates = [{"id": contract["id"], "origin_id": "17"}] * (SYNC_CHUNK + 1)
    answer = http_call(
        sandbox.url,
        "PATCH",
        WOC_SYNC,
        token=fetch_token(sandbox.url),
        json_body={"project_id": demo["project_ids"]["main"], "updates": updates},
    )
    assert answer.status == 400  # the commitment syncs document 400, no 422
    assert "updates" in answer.body["errors"]
    assert sandbox.get_commitment("work_order_contract", contract["id"])["origin_id"] is None
    # request-level problems are real errors, raised by the client as fatal
    with pytest.raises(FatalUpstreamError) as caught:
        client.patch(WOC_SYNC, {"updates": []})
    assert caught.value.details["errors"] == {"project_id": ["can't be blank"]}


def test_sync_fires_an_update_webhook_as_our_application_once(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    client: ProcoreClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    main_id = demo["project_ids"]["main"]
    contract = _subcontract(sandbox, demo, "SC-001")  # before the hook: no create echo
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook-secret", "v3.0")

    client.sync_commitment_origin("work_order_contract", main_id, contract["id"], "17", "SC-001")
    # a resend (e.g. a retry whose first answer was lost) changes nothing: no second echo
    client.sync_commitment_origin("work_order_contract", main_id, contract["id"], "17", "SC-001")

    echoes = [r.payload for r in webhook_receiver.received]
    assert len(echoes) == 1
    (echo,) = echoes
    assert (echo["event_type"], echo["resource_name"], echo["resource_id"]) == (
        "update",
        "Work Order Contracts",
        contract["id"],
    )
    assert echo["metadata"]["source_application_id"] == CLIENT_ID
    assert echo["project_id"] == main_id


@pytest.mark.parametrize(
    ("status", "retry_after", "sleeps"),
    [(503, 3, [3.0]), (500, None, [0.25])],  # Retry-After honoured; else backoff (rng 0.5)
)
def test_sync_is_retried_after_a_5xx_unlike_a_post(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    client: ProcoreClient,
    fake_time: FakeTime,
    status: int,
    retry_after: int | None,
    sleeps: list[float],
) -> None:
    main_id = demo["project_ids"]["main"]
    contract = _subcontract(sandbox, demo, "SC-001")
    sandbox.inject_fault(status, path_prefix=WOC_SYNC, retry_after=retry_after, method="PATCH")

    outcome = client.sync_commitment_origin(
        "work_order_contract", main_id, contract["id"], "17", "SC-001"
    )

    assert outcome.ok and outcome.entities[0]["origin_id"] == "17"
    assert [c["status"] for c in _sync_calls(sandbox)] == [status, 200]
    assert fake_time.sleeps == sleeps


def test_vendor_and_project_sync(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    steel, concrete = demo["vendor_ids"]["steel"], demo["vendor_ids"]["concrete"]
    outcome = client.sync_vendors(
        [
            {"id": steel, "origin_id": "V-10", "origin_code": "SUMMIT"},
            {"id": concrete, "origin_id": "V-10"},  # taken by steel, just above
            {"origin_id": "V-11", "origin_code": "NEW", "name": "Delta Drywall"},  # creates
            {"origin_id": "V-12"},  # would create, but a vendor needs a name
        ]
    )
    assert [e["origin_id"] for e in outcome.entities] == ["V-10", "V-11"]
    assert [e["errors"] for e in outcome.errors] == [
        {"origin_id": ["has already been taken"]},
        {"name": ["can't be blank"]},
    ]
    assert client.get_vendor(steel)["origin_code"] == "SUMMIT"
    created = client.get(
        "/rest/v1.0/vendors", {"company_id": COMPANY_ID, "filters[origin_id]": "V-11"}
    )
    assert [(v["name"], v["origin_code"]) for v in created] == [("Delta Drywall", "NEW")]

    main_id = demo["project_ids"]["main"]
    outcome = client.sync_projects([{"id": main_id, "origin_id": "J-2024-001"}])
    assert outcome.ok
    assert client.get_project(main_id)["origin_id"] == "J-2024-001"
    assert sandbox.request_counts["/rest/v1.0/projects/sync"] == 1
    assert {r["company_header"] for r in sandbox.requests if r["path"].endswith("/sync")} == {
        str(COMPANY_ID)
    }
