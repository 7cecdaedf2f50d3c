"""The reconciliation poll: a commitment change whose webhook was lost still reaches intake.

The Procore sandbox runs on 127.0.0.1 with its webhooks turned off (a delivery dropped on
purpose); the poll lists what changed since its cursor, queues synthetic events on the
inbound FIFO queue (moto, from infra/), and the intake Lambda handler is pumped as Lambda
would. A few tests use a stand-in Procore client to pin what the poll asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.models import Link, utc_now
from chalicelib.domain.state_machine import Status
from chalicelib.errors import ServiceUnavailable
from chalicelib.services.reconcile import ReconcileReport, ReconcileService
from chalicelib.wiring import get_inbound_queue, get_procore, get_store
from devstack.pump import drain
from tests.conftest import WEBHOOK_TOKEN
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    fetch_token,
    http_call,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID, seed_item, use_division_dash_codes

WOC = "work_order_contract"
POC = "purchase_order_contract"
WOC_PATH = "/rest/v1.0/work_order_contracts"
POC_PATH = "/rest/v1.0/purchase_order_contracts"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fixed(moment: datetime) -> Callable[[], str]:
    return lambda: moment.isoformat()


def next_second(after: str) -> None:
    """Wait until the clock has left the second ``after`` (Procore stamps to the second)."""
    while iso(datetime.now(UTC)) <= after:
        time.sleep(0.02)


class World:
    def __init__(self, aws: Any, sandbox: Any, demo: dict[str, Any], client: Any,
                 receiver: Any) -> None:
        self.aws, self.sandbox, self.demo, self.client = aws, sandbox, demo, client
        self.receiver = receiver
        self.project = demo["project_ids"]["main"]
        self.codes = demo["cost_code_ids"]["main"]
        self.types = demo["line_item_type_ids"]

    def commitment(self, kind: str = WOC, *, status: str = "Approved", number: str = "SC-001",
                   title: str = "Concrete", vendor: str = "concrete",
                   lines: int = 1) -> dict[str, Any]:
        record = self.sandbox.create_commitment(
            kind, self.project, number=number, title=title, status=status,
            vendor_id=self.demo["vendor_ids"][vendor])
        for n in range(lines):
            self.sandbox.add_line_item(kind, record["id"], description=f"Line {n + 1}",
                                       amount=f"{1000 * (n + 1)}",
                                       cost_code_id=self.codes["03-300"],
                                       line_item_type_id=self.types["S"])
        return record

    def service(self, clock: Callable[[], str] = utc_now, *, queue: Any = None,
                procore_for: Any = None) -> ReconcileService:
        return ReconcileService(get_store(), queue or get_inbound_queue(),
                                procore_for or get_procore, clock,
                                overlap_seconds=120, lookback_minutes=60)

    def poll(self, clock: Callable[[], str] = utc_now, **kwargs: Any) -> ReconcileReport:
        return self.service(clock, **kwargs).poll(COMPANY_ID)

    def run_intake(self) -> tuple[int, int]:
        return drain(self.aws.sqs, self.aws.inbound_url,
                     lambda event: self.client.lambda_.invoke("intake", event).payload)

    def depth(self) -> int:
        return self.aws.queue_depth(self.aws.inbound_url)

    def list_calls(self) -> int:
        return self.sandbox.request_counts[WOC_PATH] + self.sandbox.request_counts[POC_PATH]

    def item(self, procore_id: int) -> Any:
        return get_store().get_item(COMPANY_ID, "commitment", procore_id)

    def trail(self, procore_id: int) -> list[Any]:
        return get_store().audit_trail(COMPANY_ID, "commitment", procore_id)


@pytest.fixture
def world(aws: Any, sandbox: Any, demo: dict[str, Any], webhook_receiver: Any,
          chalice_client: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    from chalicelib import wiring

    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CONNECTOR_PROCORE_USER_ID", str(sandbox.service_account_user_id))
    wiring.reset()
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project",
                        procore_id=demo["project_ids"]["main"], sage_key="24001"))
    store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                        procore_id=demo["vendor_ids"]["concrete"], sage_key="3001"))
    use_division_dash_codes()  # the demo's cost codes are Procore's own (no origin id)
    sandbox.set_webhook(webhook_receiver.url, WEBHOOK_TOKEN)
    sandbox.set_webhook(None)  # every delivery from here on is lost
    return World(aws, sandbox, demo, chalice_client, webhook_receiver)


# --- (a) a lost delivery reaches intake through the poll ------------------------------------
def test_a_lost_delivery_is_queued_by_the_poll_and_the_item_becomes_ready(world: World) -> None:
    record = world.commitment(status="Draft", lines=2)
    world.sandbox.update_commitment(WOC, record["id"], status="Approved")
    line = world.sandbox.list_line_items(WOC, record["id"])[0]
    world.sandbox.update_line_item(WOC, record["id"], line["id"], amount="1500")
    assert world.receiver.received == []  # no webhook was ever delivered
    assert world.item(record["id"]) is None

    calls = world.list_calls()
    report = world.poll()
    # One linked project, two commitment kinds: two list calls, one record, one event.
    assert world.list_calls() - calls == 2
    assert (report.projects_scanned, report.records_seen, report.events_queued) == (1, 1, 1)
    assert world.depth() == 1

    assert world.run_intake() == (1, 0)
    item = world.item(record["id"])
    assert item.reasons == []
    assert item.status is Status.READY_TO_EXPORT
    assert item.snapshot["status"] == "Approved"
    assert item.snapshot["grand_total"] == "3500.00"
    updated = world.sandbox.get_commitment(WOC, record["id"])["updated_at"]
    assert item.source_updated_at == updated
    [event] = world.trail(record["id"])
    assert event.correlation_id == f"reconcile:{WOC}:{record['id']}:{updated}"
    asked = [r["query"] for r in world.sandbox.requests if r["path"] == WOC_PATH]
    assert f"filters%5Bupdated_at%5D={report.window_start}...{report.window_end}" \
        .replace(":", "%3A") in asked[-1]
    assert "filters%5Binclude_deleted%5D=with" in asked[-1]


def test_the_scheduled_function_polls_the_configured_company(world: World) -> None:
    record = world.commitment(POC, number="PO-7")
    event = world.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/reconcile"])
    answer = world.client.lambda_.invoke("reconcile-commitments", event).payload
    assert answer["company_id"] == COMPANY_ID and answer["events_queued"] == 1
    assert answer["cursor_after"] == get_store().get_reconcile_cursor(COMPANY_ID)
    world.run_intake()
    assert world.item(record["id"]).status is Status.READY_TO_EXPORT


# --- (b) content already held is not queued again -------------------------------------------
def test_a_second_poll_queues_nothing_new(world: World) -> None:
    record = world.commitment()
    assert world.poll().events_queued == 1
    world.run_intake()
    version = world.item(record["id"]).version

    again = world.poll()  # the overlap lists the same record again
    assert again.records_seen == 1 and again.events_queued == 0
    assert world.depth() == 0
    assert world.item(record["id"]).version == version


def test_a_delivered_webhook_leaves_nothing_for_the_poll(world: World) -> None:
    """The webhook path and the poll agree: a commitment intake already read is skipped."""
    from chalicelib.wiring import get_intake

    record = world.commitment()
    get_intake().evaluate_commitment(COMPANY_ID, WOC, record["id"], world.project,
                                     actor="system:intake")
    report = world.poll()
    assert report.records_seen == 1 and report.events_queued == 0


# --- (c) the cursor -------------------------------------------------------------------------
def test_first_poll_looks_back_and_the_cursor_is_capped_at_the_poll_start(world: World) -> None:
    store = get_store()
    assert store.get_reconcile_cursor(COMPANY_ID) is None
    started = datetime.now(UTC) - timedelta(seconds=30)  # the poll "started" 30 s ago...
    record = world.commitment()  # ...and this was saved after it started

    first = world.poll(fixed(started))
    assert first.cursor_before is None
    assert first.window_start == iso(started - timedelta(minutes=60, seconds=120))
    assert first.window_end == first.cursor_after == iso(started)
    assert first.events_queued == 0  # updated after the poll's start: the next poll's
    assert store.get_reconcile_cursor(COMPANY_ID) == iso(started)

    second = world.poll()
    assert second.cursor_before == iso(started)
    assert second.window_start == iso(started - timedelta(seconds=120))
    assert second.events_queued == 1
    world.run_intake()
    assert world.item(record["id"]).status is Status.READY_TO_EXPORT


class FlakyQueue:
    """The inbound queue, refusing the ``fail_on``-th send once (SQS away for a moment)."""

    def __init__(self, queue: Any, fail_on: int) -> None:
        self.queue, self.fail_on, self.sends = queue, fail_on, 0

    def send(self, body: dict[str, Any], *, deduplication_id: str, group_id: str) -> str:
        self.sends += 1
        if self.sends == self.fail_on:
            raise ServiceUnavailable("the inbound events queue is unavailable: test")
        return self.queue.send(body, deduplication_id=deduplication_id, group_id=group_id)


def test_cursor_stays_when_queueing_fails_and_the_next_poll_repeats_the_window(
        world: World) -> None:
    store = get_store()
    one = world.commitment(number="SC-001")
    two = world.commitment(POC, number="PO-002")
    world.poll(fixed(datetime.now(UTC) - timedelta(minutes=10)))  # a cursor to keep
    held = store.get_reconcile_cursor(COMPANY_ID)
    assert held is not None

    flaky = FlakyQueue(get_inbound_queue(), fail_on=2)
    with pytest.raises(ServiceUnavailable):
        world.poll(queue=flaky)
    assert store.get_reconcile_cursor(COMPANY_ID) == held  # not moved past the lost event
    assert world.depth() == 1  # the first event went out before the failure

    retry = world.poll(queue=flaky)
    assert retry.cursor_before == held and retry.events_queued == 2
    assert store.get_reconcile_cursor(COMPANY_ID) == retry.cursor_after != held
    assert world.depth() == 2  # the repeat of the first event: same deduplication id
    world.run_intake()
    assert world.item(one["id"]).status is Status.READY_TO_EXPORT
    assert world.item(two["id"]).status is Status.READY_TO_EXPORT


def test_an_older_poll_finishing_last_never_moves_the_cursor_back(world: World) -> None:
    store = get_store()
    now = datetime.now(UTC)
    late = world.service(fixed(now))
    early = world.service(fixed(now - timedelta(minutes=3)))
    assert late.poll(COMPANY_ID).cursor_after == iso(now)
    report = early.poll(COMPANY_ID)  # started earlier, finished later
    assert report.cursor_after == iso(now)  # what the table holds, not its own start
    assert store.get_reconcile_cursor(COMPANY_ID) == iso(now)


def test_cursor_write_is_conditional_on_the_value_read(world: World) -> None:
    store = get_store()
    assert store.put_reconcile_cursor(COMPANY_ID, "2024-05-01T10:00:00Z", previous=None)
    # A poll that read nothing (or another value) loses to the one that wrote meanwhile.
    assert not store.put_reconcile_cursor(COMPANY_ID, "2024-05-01T10:05:00Z", previous=None)
    assert not store.put_reconcile_cursor(COMPANY_ID, "2024-05-01T10:05:00Z",
                                          previous="2024-05-01T09:55:00Z")
    assert store.get_reconcile_cursor(COMPANY_ID) == "2024-05-01T10:00:00Z"
    assert store.put_reconcile_cursor(COMPANY_ID, "2024-05-01T10:05:00Z",
                                      previous="2024-05-01T10:00:00Z")
    assert store.get_reconcile_cursor(COMPANY_ID) == "2024-05-01T10:05:00Z"


# --- (d) a change made while (or after) the poll runs is caught by the next ----------------
def test_a_change_made_while_the_poll_runs_is_caught_by_the_next_poll(world: World) -> None:
    record = world.commitment(title="Concrete")
    world.poll()
    world.run_intake()
    assert world.item(record["id"]).title == "Concrete"
    next_second(world.item(record["id"]).source_updated_at)

    def edit_while_polling(company_id: int) -> Any:  # Procore changes under the poll
        world.sandbox.update_commitment(WOC, record["id"], title="Concrete walls")
        return get_procore(company_id)

    # The poll's start is taken before the edit is saved (2 s earlier: second resolution).
    during = world.poll(lambda: (datetime.now(UTC) - timedelta(seconds=2)).isoformat(),
                        procore_for=edit_while_polling)
    assert during.events_queued == 0  # saved after the poll's start: outside its window

    after = world.poll()
    assert after.events_queued == 1
    world.run_intake()
    item = world.item(record["id"])
    assert item.title == "Concrete walls" and item.status is Status.READY_TO_EXPORT


def test_line_item_changes_bump_the_commitment_so_the_poll_sees_them(world: World) -> None:
    record = world.commitment(lines=2)
    world.poll()
    world.run_intake()
    before = world.sandbox.get_commitment(WOC, record["id"])["updated_at"]
    first, second = world.sandbox.list_line_items(WOC, record["id"])
    next_second(before)  # so the bump is visible at Procore's one-second resolution
    world.sandbox.delete_line_item(WOC, record["id"], second["id"])
    assert world.sandbox.get_commitment(WOC, record["id"])["updated_at"] > before
    assert world.poll().events_queued == 1
    world.run_intake()
    assert [ln["id"] for ln in world.item(record["id"]).snapshot["lines"]] == [first["id"]]


def test_a_deletion_whose_webhook_was_lost_withdraws_the_item_through_the_poll(
        world: World) -> None:
    record = world.commitment()
    world.poll()
    world.run_intake()
    assert world.item(record["id"]).status is Status.READY_TO_EXPORT
    seen = world.sandbox.get_commitment(WOC, record["id"])["updated_at"]
    next_second(seen)  # the deletion stamps a later second
    world.sandbox.delete_commitment(WOC, record["id"])  # its webhook is lost
    assert world.receiver.received == []
    report = world.poll()
    assert (report.records_seen, report.events_queued) == (1, 1)
    assert world.run_intake() == (1, 0)
    held = world.item(record["id"])
    assert held.status is Status.WITHDRAWN and held.deleted_in_procore
    # the next poll's overlap lists it again: already withdrawn, nothing queued
    assert world.poll().events_queued == 0


# --- which projects, deletions, the lookback cap (a stand-in Procore client) ----------------
class FakeProcore:
    def __init__(self, records: dict[tuple[str, int], list[dict[str, Any]]]) -> None:
        self.records = records
        self.calls: list[tuple[str, int, datetime, datetime]] = []

    def list_commitments_updated(self, kind: str, project_id: int, since: datetime,
                                 until: datetime) -> list[dict[str, Any]]:
        self.calls.append((kind, project_id, since, until))
        return self.records.get((kind, project_id), [])

    def list_updated(self, path: str, project_id: int, since: datetime,
                     until: datetime) -> list[dict[str, Any]]:
        return self.records.get((path, project_id), [])  # subcontractor invoices, PCCOs

    def get_all(self, path: str, params: dict[str, Any] | None = None,
                per_page: int = 100) -> list[dict[str, Any]]:
        """Owner invoices: Procore lists them whole (no updated_at filter)."""
        return self.records.get((path, int((params or {}).get("project_id", 0))), [])


def test_projects_polled_are_the_linked_ones_and_those_holding_items(aws: Any) -> None:
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=11,
                        sage_key="24001"))
    seed_item(Status.SYNCED, procore_id=501, project_id=11)  # same project: once
    seed_item(Status.NOT_READY, procore_id=502, project_id=12)  # not linked, but held
    seed_item(Status.WITHDRAWN, procore_id=503, project_id=13)  # gone: not polled
    fake = FakeProcore({})
    report = ReconcileService(store, get_inbound_queue(), lambda _: fake).poll(COMPANY_ID)
    assert report.projects_scanned == 2
    assert sorted({(kind, project) for kind, project, _, _ in fake.calls}) == [
        (POC, 11), (POC, 12), (WOC, 11), (WOC, 12)]


def test_a_deletion_listed_by_the_poll_withdraws_the_item(aws: Any, chalice_client: Any) -> None:
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=21,
                        sage_key="24001"))
    item = seed_item(Status.READY_TO_EXPORT, procore_id=601, project_id=21)
    gone = {"id": 601, "updated_at": "2030-01-01T00:00:00Z",
            "deleted_at": "2030-01-01T00:00:00Z", "project": {"id": 21}}
    fake = FakeProcore({(WOC, 21): [gone]})
    report = ReconcileService(store, get_inbound_queue(), lambda _: fake).poll(COMPANY_ID)
    assert report.events_queued == 1
    drain(aws.sqs, aws.inbound_url,
          lambda event: chalice_client.lambda_.invoke("intake", event).payload)
    held = store.get_item(COMPANY_ID, "commitment", item.procore_id)
    assert held.status is Status.WITHDRAWN and held.deleted_in_procore
    # Listed again by the next poll's overlap: already withdrawn, nothing queued.
    again = ReconcileService(store, get_inbound_queue(), lambda _: fake).poll(COMPANY_ID)
    assert again.records_seen == 1 and again.events_queued == 0


def test_a_very_old_cursor_is_capped_to_the_longest_lookback(aws: Any) -> None:
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=11,
                        sage_key="24001"))
    now = datetime(2030, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    store.put_reconcile_cursor(COMPANY_ID, "2030-05-01T00:00:00Z", previous=None)
    fake = FakeProcore({})
    report = ReconcileService(store, get_inbound_queue(), lambda _: fake,
                              fixed(now)).poll(COMPANY_ID)
    assert report.window_start == "2030-05-25T12:00:00Z"  # 7 days, not a month
    assert report.window_end == report.cursor_after == "2030-06-01T12:00:00Z"
    assert {(since, until) for _, _, since, until in fake.calls} == {
        (datetime(2030, 5, 25, 12, tzinfo=UTC), datetime(2030, 6, 1, 12, tzinfo=UTC))}


def test_no_project_to_poll_still_advances_the_cursor(aws: Any) -> None:
    now = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
    fake = FakeProcore({})
    report = ReconcileService(get_store(), get_inbound_queue(), lambda _: fake,
                              fixed(now)).poll(COMPANY_ID)
    assert report.projects_scanned == 0 and fake.calls == []
    assert get_store().get_reconcile_cursor(COMPANY_ID) == "2030-06-01T12:00:00Z"


# --- (e) the sandbox honours filters[updated_at] like Procore --------------------------------
def test_sandbox_filters_commitments_by_updated_at(sandbox: Any, demo: dict[str, Any]) -> None:
    project = demo["project_ids"]["main"]
    ids = [sandbox.create_commitment(WOC, project, number=f"SC-{n}")["id"] for n in (1, 2, 3)]
    stamps = ["2024-03-01T11:59:59Z", "2024-03-01T12:00:00Z", "2024-03-02T09:30:00Z"]
    with sandbox.state.lock:
        for cid, stamp in zip(ids, stamps, strict=True):
            sandbox.state.commitments["work_order_contracts"][cid]["updated_at"] = stamp
    token = fetch_token(sandbox.url)

    def listed(value: str) -> list[int]:
        answer = http_call(sandbox.url, "GET", f"{WOC_PATH}?project_id={project}"
                           f"&filters%5Bupdated_at%5D={value}", token=token)
        assert answer.status == 200, answer.body
        assert int(answer.headers["Total"]) == len(answer.body)
        return [r["id"] for r in answer.body]

    # Inclusive at both ends, to the second.
    assert listed("2024-03-01T12:00:00Z...2024-03-02T09:30:00Z") == ids[1:]
    assert listed("2024-03-01T11:59:59Z...2024-03-01T11:59:59Z") == ids[:1]
    # Dates cover whole days; offsets are honoured.
    assert listed("2024-03-01...2024-03-01") == ids[:2]
    assert listed("2024-03-02...2024-03-05") == ids[2:]
    assert listed("2024-03-01T13:00:00%2B01:00...2024-03-01T13:00:00%2B01:00") == ids[1:2]
    assert listed("2024-04-01T00:00:00Z...2024-04-02T00:00:00Z") == []


@pytest.mark.parametrize("value", ["yesterday", "2024-03-01", "2024-03-01...",
                                   "...2024-03-01", "2024-13-01...2024-13-02",
                                   "2024-03-01T12:00:00Z..2024-03-02T12:00:00Z",
                                   "2024-03-01T12:00:00...2024-03-02T12:00:00Z"])
def test_sandbox_refuses_a_malformed_updated_at_filter(sandbox: Any, demo: dict[str, Any],
                                                       value: str) -> None:
    project = demo["project_ids"]["main"]
    answer = http_call(sandbox.url, "GET", f"{WOC_PATH}?project_id={project}"
                       f"&filters%5Bupdated_at%5D={value}", token=fetch_token(sandbox.url))
    assert answer.status == 400
    assert "filters[updated_at]" in str(answer.body["errors"])


# --- settings and deployment ----------------------------------------------------------------
def test_reconcile_settings_have_defaults_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from chalicelib.settings import Settings

    settings = Settings()
    assert (settings.reconcile_overlap_seconds, settings.reconcile_lookback_minutes) == (120, 60)
    monkeypatch.setenv("RECONCILE_LOOKBACK_MINUTES", "0")
    with pytest.raises(ValidationError, match="reconcile_lookback_minutes"):
        Settings()


def test_every_function_chalice_packages_gets_an_access_policy() -> None:
    """``chalice package`` makes one role per function (``ReconcileCommitmentsRole``, ...);
    one without its policy in infra/iam.json could not read its table or queues (what each
    policy allows is tests/infra/test_iam_coverage.py's business)."""
    import json
    from pathlib import Path

    from chalice.utils import to_cfn_resource_name

    from app import app

    infra = json.loads((Path(__file__).resolve().parents[2] / "infra" / "iam.json")
                       .read_text())
    roles = {role["Ref"] for resource in infra["Resources"].values()
             if resource["Type"] == "AWS::IAM::ManagedPolicy"
             for role in resource["Properties"].get("Roles", [])}
    names = [e.name for e in app.event_sources] + [f.name for f in app.pure_lambda_functions]
    assert "reconcile-commitments" in names
    assert {f"{to_cfn_resource_name(name)}Role" for name in names} <= roles
