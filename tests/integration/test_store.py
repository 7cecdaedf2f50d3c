"""The DynamoDB adapter against moto, with the table created from infra/resources.json."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain.models import AuditEvent, Item, Link
from chalicelib.domain.permissions import Level, User
from chalicelib.domain.state_machine import Status
from chalicelib.errors import BadRequest, Conflict


@pytest.fixture
def store(aws: Any) -> ItemStore:
    return ItemStore(aws.table_name, aws.dynamodb)


def item(procore_id: int = 1, status: Status = Status.READY_TO_EXPORT, version: int = 1,
         project_id: int = 10, updated_at: str = "2026-01-01T00:00:00.000Z") -> Item:
    return Item(company_id=1, kind="commitment", procore_id=procore_id, project_id=project_id,
                status=status, version=version, snapshot={"amount": "1.10", "qty": 0.5},
                updated_at=updated_at)


def event(version: int, to: Status = Status.READY_TO_EXPORT) -> AuditEvent:
    return AuditEvent(item_id="commitment-1", version=version, at="t", actor="a",
                      action="observe_ready", from_status="new", to_status=to.value)


def test_create_then_conditional_update(store: ItemStore) -> None:
    store.save_transition(item(), event(1), expected_version=0)
    with pytest.raises(StaleItem):  # it exists now
        store.save_transition(item(), event(1), expected_version=0)
    second = item(status=Status.ACCEPTED, version=2)
    store.save_transition(second, event(2, Status.ACCEPTED), expected_version=1)
    with pytest.raises(StaleItem):  # someone else already moved it to v2
        store.save_transition(item(status=Status.REJECTED, version=2),
                              event(2, Status.REJECTED), expected_version=1)
    loaded = store.get_item(1, "commitment", 1)
    assert loaded is not None and loaded.status is Status.ACCEPTED and loaded.version == 2
    assert loaded.snapshot == {"amount": "1.10", "qty": 0.5}  # exact, no Decimal leakage
    assert [e.version for e in store.audit_trail(1, "commitment", 1)] == [1, 2]


def test_failed_transition_writes_nothing(store: ItemStore, aws: Any) -> None:
    store.save_transition(item(), event(1), expected_version=0)
    before = aws.table_snapshot()
    with pytest.raises(StaleItem):
        store.save_transition(item(version=2), event(2), expected_version=5)
    assert aws.table_snapshot() == before


def test_inbox_index_filters_and_cursor(store: ItemStore) -> None:
    for n in range(1, 6):
        store.save_transition(item(n, project_id=10 + n % 2,
                                   updated_at=f"2026-01-0{n}T00:00:00.000Z"),
                              event(1), expected_version=0)
    store.save_transition(item(9, status=Status.NOT_READY), event(1, Status.NOT_READY),
                          expected_version=0)
    page, cursor = store.list_items(1, status=Status.READY_TO_EXPORT, limit=2)
    assert [i.procore_id for i in page] == [5, 4]  # newest first
    assert cursor
    rest, end = store.list_items(1, status=Status.READY_TO_EXPORT, limit=10, cursor=cursor)
    assert [i.procore_id for i in rest] == [3, 2, 1] and end is None
    everything, _ = store.list_items(1, limit=50)
    assert {i.procore_id for i in everything} == {1, 2, 3, 4, 5, 9}
    odd, _ = store.list_items(1, project_id=11, limit=50)
    assert {i.procore_id for i in odd} == {1, 3, 5}
    assert store.list_items(2, limit=50)[0] == []  # other companies see nothing
    with pytest.raises(BadRequest, match="cursor"):
        store.list_items(1, cursor="not-a-cursor")
    with pytest.raises(BadRequest, match="another listing"):
        store.list_items(1, status=Status.NOT_READY, cursor=cursor)


def test_links_both_directions_and_no_double_link(store: ItemStore) -> None:
    store.put_link(Link(company_id=1, kind="project", procore_id=10, sage_key="101"))
    link = store.get_link(1, "project", 10)
    assert link is not None and link.sage_key == "101"
    with pytest.raises(Conflict):
        store.put_link(Link(company_id=1, kind="project", procore_id=11, sage_key="101"))
    assert store.get_link(1, "project", 11) is None


def test_users_and_event_markers(store: ItemStore) -> None:
    assert store.get_user(1, "nobody") is None
    store.put_user(User(subject="ann", company_id=1, erp_level=Level.STANDARD,
                        can_push_to_accounting=True, tool_levels={"commitments": Level.ADMIN}))
    ann = store.get_user(1, "ann")
    assert ann is not None and ann.is_accounting_approver
    assert ann.tool_levels == {"commitments": Level.ADMIN}
    assert not store.event_seen(1, "01J")
    store.mark_event_seen(1, "01J", "changed")
    assert store.event_seen(1, "01J") and not store.event_seen(2, "01J")


# ---- DynamoDB deferring part of a batch (Unprocessed*) --------------------------------
class DeferringClient:
    """A DynamoDB client whose BatchGetItem answers ``serve`` keys per call at most and
    defers the rest (UnprocessedKeys), as DynamoDB does under throttling. ``serve=0``
    defers everything, forever. Stops the test rather than hang if called unboundedly."""

    def __init__(self, records: dict[tuple[str, str], dict[str, Any]] | None = None,
                 serve: int = 0, item: dict[str, Any] | None = None) -> None:
        self.records = records or {}
        self.serve = serve
        self.item = item
        self.batch_gets = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.batch_gets += 1
        if self.batch_gets > 100:
            raise AssertionError("batch_get_item called without bound")
        [(table, request)] = RequestItems.items()
        keys = request["Keys"]
        served, deferred = keys[:self.serve], keys[self.serve:]
        answer: dict[str, Any] = {"Responses": {table: [
            self.records[(k["PK"]["S"], k["SK"]["S"])] for k in served
            if (k["PK"]["S"], k["SK"]["S"]) in self.records]}}
        if deferred:
            answer["UnprocessedKeys"] = {table: {**request, "Keys": deferred}}
        return answer

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {"Item": self.item} if self.item else {}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr("chalicelib.adapters.store.time.sleep", slept.append)
    return slept


def test_batch_reads_dynamodb_keeps_deferring_end_unavailable(sleeps: list[float]) -> None:
    from chalicelib.adapters.store import BATCH_ATTEMPTS
    from chalicelib.errors import ServiceUnavailable

    client = DeferringClient()
    store = ItemStore("t", client)
    with pytest.raises(ServiceUnavailable, match="deferring"):
        store.put_erp_rows(1, "vendors", [{"vendor": n} for n in range(3)], "run")
    assert client.batch_gets == BATCH_ATTEMPTS
    assert len(sleeps) == BATCH_ATTEMPTS - 1  # no pause after the last attempt
    assert sleeps == sorted(sleeps) and max(sleeps) <= 1.0  # backing off, capped


def test_snapshot_reads_dynamodb_keeps_deferring_end_unavailable(
        sleeps: list[float]) -> None:
    import json

    from chalicelib.adapters.store import BATCH_ATTEMPTS
    from chalicelib.errors import ServiceUnavailable

    doc = item().model_dump(mode="json")
    doc["snapshot"] = {"$snapshot": "abc"}
    client = DeferringClient(item={"doc": {"S": json.dumps(doc)}})
    store = ItemStore("t", client)
    with pytest.raises(ServiceUnavailable, match="deferring"):
        store.get_item(1, "commitment", 1)
    assert client.batch_gets == BATCH_ATTEMPTS
    assert len(sleeps) == BATCH_ATTEMPTS - 1 and max(sleeps) <= 1.0


def test_batch_reads_resume_what_was_deferred(sleeps: list[float]) -> None:
    import json

    records = {("ERP#1#vendors", str(n)): {
        "PK": {"S": "ERP#1#vendors"}, "SK": {"S": str(n)},
        "doc": {"S": json.dumps({"vendor": n, "_key": str(n), "_archived": n == 4})}}
        for n in range(10)}
    client = DeferringClient(records, serve=3)
    store = ItemStore("t", client)
    docs = store._batch_get({"S": "ERP#1#vendors"}, [str(n) for n in range(10)])
    assert sorted(d["vendor"] for d in docs) == list(range(10))
    assert client.batch_gets == 4 and len(sleeps) == 3


def test_the_table_client_retries_a_bounded_number_of_times(aws: Any) -> None:
    from chalicelib import aws as clients

    clients.reset_clients()
    config = clients.client("dynamodb").meta.config
    clients.reset_clients()
    # botocore keeps max_attempts (retries) as total_max_attempts (the first call too)
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
