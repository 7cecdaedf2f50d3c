"""The job cost run (services/job_cost_sync): one page at a time, the cursor advanced only
after Procore took the page, repeats ignored, a page that never came asked again, Sage's
refusal visible, rows waiting for a mapping tried again, permissions and the schedule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from chalicelib.adapters.procore import SyncOutcome
from chalicelib.domain.models import Link
from chalicelib.domain.permissions import Level, User
from chalicelib.errors import Conflict, Forbidden, RetriableUpstreamError
from chalicelib.relay_protocol import Result, SageFailure
from chalicelib.services.job_cost_sync import JobCostSync
from chalicelib.wiring import get_store
from tests.helpers import COMPANY_ID

PROJECT = 5
ADMIN = User(subject="admin", company_id=COMPANY_ID, erp_level=Level.ADMIN)


class FakeProcore:
    def __init__(self) -> None:
        self.codes = [{"id": 501, "origin_id": "3300.000", "full_code": "3300"}]
        self.costs: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, dict[str, Any]] = {}
        self.syncs = 0
        self.down = False
        self.clock = 0

    def list_cost_codes(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.codes)

    def list_line_item_types(self) -> list[dict[str, Any]]:
        return [{"id": 11, "origin_id": "1"}, {"id": 12, "origin_id": "2"}]

    def list_updated(self, path: str, project_id: int, since: Any, until: Any,
                     **_: Any) -> list[dict[str, Any]]:
        return [c for c in self.costs.values() if c.get("edited")]

    def sync(self, path: str, updates: Sequence[Mapping[str, Any]], *,
             scope: Mapping[str, Any]) -> SyncOutcome:
        if self.down:
            raise RetriableUpstreamError("Procore is down")
        self.syncs += 1
        self.clock += 1
        stamp = f"2026-11-30T10:00:{self.clock:02d}Z"
        held = self.lines if path.endswith("line_items/sync") else self.costs
        entities = []
        for update in updates:
            record = held.setdefault(update["origin_id"], {"id": 7000 + len(held)})
            record.update(update, updated_at=stamp, edited=False)
            entities.append(dict(record))
        return SyncOutcome(entities=entities, errors=[])


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any], *, deduplication_id: str, group_id: str) -> str:
        self.sent.append(body)
        return str(len(self.sent))


class Clock:
    def __init__(self) -> None:
        self.now = "2026-11-30T10:00:00.000Z"

    def __call__(self) -> str:
        return self.now


def row(record: int, **fields: Any) -> dict[str, Any]:
    return {"record": record, "job": 24001, "phase": None, "cost_code": "3300.000",
            "cost_type": 1, "amount": "100.00", "date": "2026-11-02", "description": "x",
            "transaction": f"JE-{record}", "source": 1, "journal": "General Journal",
            "vendor": None, "status": 1, "commitment": None, **fields}


def page(command: Mapping[str, Any], rows: list[dict[str, Any]], *, more: bool,
         cursor: str) -> Result:
    return Result(command_id=command["command_id"], company_id=COMPANY_ID,
                  item_id=f"jobcost:{PROJECT}", export_version=0, ok=True,
                  data_zlib=Result.pack_rows(rows), page=1, more=more,
                  sage_keys={"cursor": cursor, "until": "2026-11-30 09:59:00.000"},
                  agent_id="agent", finished_at="2026-11-30T10:00:01Z")


@pytest.fixture
def world(aws: Any) -> tuple[JobCostSync, FakeProcore, FakeQueue, Clock]:
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=PROJECT,
                        sage_key="24001"))
    procore, queue, clock = FakeProcore(), FakeQueue(), Clock()
    sync = JobCostSync(store, queue, lambda _: procore, {}, clock)  # type: ignore[arg-type]
    sync.set_enabled(ADMIN, PROJECT, True)
    return sync, procore, queue, clock


def state() -> dict[str, Any]:
    return get_store().get_job_cost_sync(COMPANY_ID, PROJECT)


def test_the_cursor_advances_only_after_procore_took_the_page(world: Any) -> None:
    sync, procore, queue, _ = world
    assert sync.request(ADMIN, PROJECT)["queued"] == [PROJECT]
    first = queue.sent[-1]
    assert first["payload"] == {"job": 24001, "after": None, "until": None,
                                "page_size": 1000}
    assert sync.handle_page(page(first, [row(1), row(2)], more=True, cursor="c2")) == "page"
    assert state()["cursor"] == "c2"
    second = queue.sent[-1]
    assert (second["payload"]["after"], second["payload"]["until"]) == (
        "c2", "2026-11-30 09:59:00.000")

    procore.down = True  # Procore away: the page is not recorded; SQS retries it
    with pytest.raises(RetriableUpstreamError):
        sync.handle_page(page(second, [row(3)], more=False, cursor="c3"))
    assert state()["cursor"] == "c2" and state()["run"]["page"] == 2
    procore.down = False
    assert sync.handle_page(page(second, [row(3)], more=False, cursor="c3")) == "finished"
    done = state()
    assert (done["cursor"], done["run"], done["last_run"]["status"]) == ("c3", None, "ok")
    assert (done["last_run"]["rows"], done["last_run"]["synced"]) == (3, 3)
    assert sorted(procore.costs) == ["jobcst:1", "jobcst:2", "jobcst:3"]

    # The next run starts from the cursor, and a repeated old page changes nothing.
    calls = procore.syncs
    assert sync.handle_page(page(second, [row(3)], more=False, cursor="c3")) == "ignored"
    assert procore.syncs == calls
    sync.request(ADMIN, PROJECT)
    assert queue.sent[-1]["payload"]["after"] == "c3"


def test_a_sage_refusal_ends_the_run_with_sages_words(world: Any) -> None:
    sync, _, queue, _ = world
    sync.request(ADMIN, PROJECT)
    failed = Result(command_id=queue.sent[-1]["command_id"], company_id=COMPANY_ID,
                    item_id=f"jobcost:{PROJECT}", export_version=0, ok=False,
                    error=SageFailure(code=17000, message="The company database is in use",
                                      retryable=True),
                    agent_id="agent", finished_at="2026-11-30T10:00:01Z")
    assert sync.handle_page(failed) == "failed"
    view = sync.view(ADMIN, PROJECT)
    assert view["running"] is False
    assert view["last_run"]["status"] == "failed"
    assert "17000 The company database is in use" in view["last_run"]["error"]
    assert sync.request(ADMIN, PROJECT)["queued"] == [PROJECT]  # starts again


def test_a_page_that_never_came_is_asked_for_again(world: Any) -> None:
    sync, _, queue, clock = world
    sync.request(ADMIN, PROJECT)
    assert sync.run_due(COMPANY_ID, 30) == []  # asked a moment ago: still running
    clock.now = "2026-11-30T10:16:00.000Z"
    assert sync.run_due(COMPANY_ID, 30) == [PROJECT]
    assert queue.sent[-1]["command_id"] == queue.sent[0]["command_id"]  # the same page


def test_rows_waiting_for_a_mapping_go_once_it_exists(world: Any) -> None:
    sync, procore, queue, _ = world
    sync.request(ADMIN, PROJECT)
    sync.handle_page(page(queue.sent[-1], [row(1), row(2, cost_code="9900.000")],
                          more=False, cursor="c2"))
    assert state()["retry"] == [2]
    assert "jobcst:2" not in procore.costs
    procore.codes.append({"id": 502, "origin_id": "9900.000"})
    sync.request(ADMIN, PROJECT)  # the run's start sends it
    assert procore.lines["jobcst:2:line"]["cost_code_id"] == 502
    assert state()["retry"] == []


def test_a_procore_edit_is_listed_then_its_overwrite_recorded(world: Any) -> None:
    sync, procore, queue, _ = world
    sync.request(ADMIN, PROJECT)
    sync.handle_page(page(queue.sent[-1], [row(1)], more=False, cursor="c1"))
    procore.costs["jobcst:1"].update(edited=True, updated_at="2026-11-30T11:00:00Z",
                                     grand_total="90.00", description="typed in Procore")
    sync.request(ADMIN, PROJECT)
    [edit] = sync.view(ADMIN, PROJECT)["edited_in_procore"]
    assert (edit["record"], edit["procore_amount"]) == (1, "90.00")
    sync.handle_page(page(queue.sent[-1], [row(1, amount="120.00")], more=False,
                          cursor="c1b"))
    view = sync.view(ADMIN, PROJECT)
    assert view["edited_in_procore"] == []
    [overwrite] = view["overwritten"]
    assert (overwrite["procore_amount"], overwrite["sage_amount"]) == ("90.00", "120.00")


def test_only_an_erp_admin_turns_it_on_and_only_for_a_linked_project(world: Any) -> None:
    sync, _, _, _ = world
    viewer = User(subject="viewer", company_id=COMPANY_ID, erp_level=Level.STANDARD)
    with pytest.raises(Forbidden) as refused:
        sync.set_enabled(viewer, PROJECT, False)
    assert "sync job cost transactions" in refused.value.message
    assert state()["enabled"] is True
    with pytest.raises(Conflict) as unlinked:
        sync.set_enabled(ADMIN, 99, True)
    assert "not linked" in unlinked.value.message
    with pytest.raises(Conflict):
        sync.request(ADMIN, 99)  # never enabled


def test_the_schedule_starts_due_projects_and_zero_turns_it_off(world: Any) -> None:
    sync, _, queue, clock = world
    assert sync.run_due(COMPANY_ID, 0) == []
    assert sync.run_due(COMPANY_ID, 30) == [PROJECT]  # never run: due
    sync.handle_page(page(queue.sent[-1], [], more=False, cursor=""))
    clock.now = "2026-11-30T10:20:00.000Z"
    assert sync.run_due(COMPANY_ID, 30) == []
    clock.now = "2026-11-30T10:31:00.000Z"
    assert sync.run_due(COMPANY_ID, 30) == [PROJECT]


class Bar:
    def __init__(self) -> None:
        self.total, self.notes, self.closed = 0, [], False

    def update(self, n: int) -> None:
        self.total += n

    def set_postfix_str(self, text: str) -> None:
        self.notes.append(text)

    def close(self) -> None:
        self.closed = True


def test_a_backfill_follows_its_run_to_the_end_and_resumes_after_an_interruption(
        world: Any) -> None:
    from chalicelib.services.job_cost_backfill import BackfillTimeout, backfill

    sync, procore, queue, _ = world
    sync.set_enabled(ADMIN, PROJECT, False)
    pages = iter([([row(1), row(2)], True, "c2"), ([row(3)], False, "c3")])
    answered: set[str] = set()

    def agent() -> None:  # what the relay agent and the results Lambda do meanwhile
        command = queue.sent[-1]
        if command["command_id"] not in answered:
            answered.add(command["command_id"])
            rows, more, cursor = next(pages)
            sync.handle_page(page(command, rows, more=more, cursor=cursor))

    # Interrupted after the first page (a timeout here): the run goes on, nothing is lost.
    bar = Bar()
    with pytest.raises(BackfillTimeout):
        backfill(sync, get_store(), ADMIN, PROJECT, enable=True, progress=bar,
                 timeout_seconds=0, sleep=lambda _: None, between_polls=agent)
    assert bar.closed and bar.total == 2 and state()["cursor"] == "c2"

    # Run again: it follows the same run to its end.
    bar = Bar()
    summary = backfill(sync, get_store(), ADMIN, PROJECT, enable=False, progress=bar,
                       sleep=lambda _: None, between_polls=agent)
    assert (summary["status"], summary["rows"], summary["synced"]) == ("ok", 3, 3)
    assert bar.total == 3 and sorted(procore.costs) == ["jobcst:1", "jobcst:2", "jobcst:3"]


def test_the_backfill_command_shows_progress_and_the_summary(
        world: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import admin_cli
    from chalicelib.services import job_cost_backfill

    get_store().put_user(ADMIN)
    monkeypatch.setattr(job_cost_backfill, "backfill",
                        lambda *a, **k: {"status": "ok", "rows": 3})
    assert admin_cli.main(["backfill-job-costs", str(PROJECT), "--as", "admin",
                           "--company", str(COMPANY_ID)]) == 0
    assert '"rows": 3' in capsys.readouterr().out
    assert admin_cli.main(["backfill-job-costs", str(PROJECT), "--as", "nobody",
                           "--company", str(COMPANY_ID)]) == 2
