"""A Sage list pull's pages against moto: rows are swept only when every page of the run
has arrived, in whatever order; an older run never sweeps or overwrites a newer one."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.store import ItemStore
from chalicelib.relay_protocol import Result, SageFailure
from chalicelib.services.erp_lists import ErpLists

COMPANY = 7
VENDORS = [{"vendor": n, "name": f"Vendor {n}"} for n in range(1, 7)]


class Commands:
    """The relay command queue: only what was sent matters here."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any], **_: Any) -> None:
        self.sent.append(body)


class Clock:
    def __init__(self) -> None:
        self.minute = 0

    def __call__(self) -> str:
        self.minute += 1
        return f"2026-11-26T{self.minute // 60:02d}:{self.minute % 60:02d}:00.000Z"


@pytest.fixture
def store(aws: Any) -> ItemStore:
    return ItemStore(aws.table_name, aws.dynamodb)


@pytest.fixture
def lists(store: ItemStore) -> ErpLists:
    return ErpLists(store, Commands(), clock=Clock())  # type: ignore[arg-type]


def run(lists: ErpLists, list_name: str = "vendors") -> str:
    """Request a pull; its command id (the results carry it)."""
    lists.request(COMPANY, list_name, "admin")
    return lists.commands.sent[-1]["command_id"]  # type: ignore[attr-defined]


def page(command_id: str, number: int | None, rows: list[dict[str, Any]], *,
         more: bool, list_name: str = "vendors") -> Result:
    return Result(command_id=command_id, company_id=COMPANY, item_id=f"pull:{list_name}",
                  export_version=0, ok=True, data=rows, page=number, more=more,
                  agent_id="agent", finished_at="2026-11-26T00:00:00Z")


def vendors(store: ItemStore) -> set[int]:
    return {row["vendor"] for row in store.list_erp_rows(COMPANY, "vendors")}


def pulled_all(lists: ErpLists) -> None:
    """A first complete pull: every vendor is known."""
    command = run(lists)
    lists.handle_page(page(command, 1, VENDORS, more=False))


def test_a_lost_middle_page_sweeps_nothing_and_its_late_arrival_completes_the_run(
        lists: ErpLists, store: ItemStore) -> None:
    pulled_all(lists)
    command = run(lists)  # vendor 6 was deleted in Sage; pages of 2 rows
    lists.handle_page(page(command, 1, VENDORS[0:2], more=True))
    lists.handle_page(page(command, 3, VENDORS[4:5], more=False))  # page 2 not (yet) here
    assert vendors(store) == {1, 2, 3, 4, 5, 6}  # page 2's rows (3 and 4) were kept
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "incomplete" and state["missing_pages"] == [2]
    assert state["last_page"] == 3

    assert lists.handle_page(page(command, 2, VENDORS[2:4], more=True)) == "pull_page"
    assert vendors(store) == {1, 2, 3, 4, 5}
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "complete" and state["missing_pages"] == []
    assert state["rows"] == 5 and state["removed"] == 1


def test_the_last_page_first_waits_for_the_others(lists: ErpLists, store: ItemStore) -> None:
    pulled_all(lists)
    command = run(lists)
    lists.handle_page(page(command, 3, VENDORS[4:5], more=False))
    assert lists.states(COMPANY)["vendors"]["missing_pages"] == [1, 2]
    lists.handle_page(page(command, 1, VENDORS[0:2], more=True))
    assert vendors(store) == {1, 2, 3, 4, 5, 6}
    assert lists.states(COMPANY)["vendors"]["status"] == "incomplete"
    lists.handle_page(page(command, 2, VENDORS[2:4], more=True))
    assert vendors(store) == {1, 2, 3, 4, 5}
    assert lists.states(COMPANY)["vendors"]["status"] == "complete"


def test_pages_before_the_last_are_receiving_with_their_gaps(lists: ErpLists) -> None:
    command = run(lists)
    lists.handle_page(page(command, 2, VENDORS[2:4], more=True))
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "receiving" and state["missing_pages"] == [1]
    assert state["last_page"] is None


def test_a_redelivered_page_counts_once(lists: ErpLists, store: ItemStore) -> None:
    command = run(lists)
    first = page(command, 1, VENDORS[0:3], more=True)
    lists.handle_page(first)
    lists.handle_page(first)  # SQS delivers at least once
    lists.handle_page(page(command, 2, VENDORS[3:6], more=False))
    lists.handle_page(page(command, 2, VENDORS[3:6], more=False))
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "complete" and state["rows"] == 6 and state["removed"] == 0
    assert vendors(store) == {1, 2, 3, 4, 5, 6}


def test_an_older_runs_late_pages_neither_sweep_nor_overwrite_the_newer_run(
        lists: ErpLists, store: ItemStore) -> None:
    old = run(lists)
    lists.handle_page(page(old, 1, VENDORS[0:2], more=True))
    new = run(lists)  # a refresh before the old run finished
    lists.handle_page(page(new, 1, [{**VENDORS[0], "name": "Renamed"}, *VENDORS[1:4]],
                           more=False))
    newer_state = lists.states(COMPANY)["vendors"]
    assert newer_state["status"] == "complete"
    # The old run's last page, and a failure of the old run, arrive late.
    assert lists.handle_page(page(old, 2, VENDORS[2:6], more=False)) == "pull_superseded"
    failure = page(old, None, [], more=False).model_copy(update={
        "ok": False, "error": SageFailure(code=500, message="Sage stopped")})
    assert lists.handle_page(failure) == "pull_superseded"
    assert vendors(store) == {1, 2, 3, 4}  # nothing of the old run came back, nothing swept
    assert store.get_erp_row(COMPANY, "vendors", "1")["name"] == "Renamed"
    assert lists.states(COMPANY)["vendors"] == newer_state


def test_pages_of_a_run_whose_request_was_not_recorded_yet_start_that_run(
        lists: ErpLists, store: ItemStore) -> None:
    pulled_all(lists)
    command = run(lists).replace(lists.states(COMPANY)["vendors"]["run_id"],
                                 "20991231T000000000Z")
    lists.handle_page(page(command, 1, VENDORS[0:5], more=False))
    state = lists.states(COMPANY)["vendors"]
    assert state["run_id"] == "20991231T000000000Z" and state["status"] == "complete"
    assert vendors(store) == {1, 2, 3, 4, 5}


def test_unnumbered_pages_of_old_agents(lists: ErpLists, store: ItemStore) -> None:
    pulled_all(lists)
    # One page without a number and no more: a whole run.
    command = run(lists)
    lists.handle_page(page(command, None, VENDORS[0:5], more=False))
    assert vendors(store) == {1, 2, 3, 4, 5}
    assert lists.states(COMPANY)["vendors"]["status"] == "complete"
    # Several pages without numbers: nobody can tell whether one is missing, so the rows
    # are kept and nothing is removed.
    command = run(lists)
    lists.handle_page(page(command, None, VENDORS[0:2], more=True))
    lists.handle_page(page(command, None, VENDORS[2:3], more=False))
    assert vendors(store) == {1, 2, 3, 4, 5}
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "incomplete" and "number" in state["reason"]


def test_a_failed_run_keeps_its_rows_and_says_so(lists: ErpLists, store: ItemStore) -> None:
    pulled_all(lists)
    command = run(lists)
    lists.handle_page(page(command, 1, VENDORS[0:2], more=True))
    failure = page(command, None, [], more=False).model_copy(update={
        "ok": False, "error": SageFailure(code=503, message="Sage is busy")})
    assert lists.handle_page(failure) == "pull_failed"
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "failed" and state["error"] == "503 Sage is busy"
    assert vendors(store) == {1, 2, 3, 4, 5, 6}


class RacingStore:
    """The real store, except that another consumer records a page between this one's read
    of the pull state and its write (the results group is FIFO, but be safe)."""

    def __init__(self, store: ItemStore, meanwhile: Any) -> None:
        self._store = store
        self._meanwhile = meanwhile
        self.puts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_pull_state(self, *args: Any, **kwargs: Any) -> Any:
        self.puts += 1
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return self._store.put_pull_state(*args, **kwargs)


def test_two_pages_recorded_at_once_are_both_kept(lists: ErpLists, store: ItemStore) -> None:
    pulled_all(lists)
    command = run(lists)
    other = ErpLists(store, Commands(), clock=Clock())  # type: ignore[arg-type]
    racing = RacingStore(store, lambda: other.handle_page(
        page(command, 1, VENDORS[0:2], more=True)))
    racer = ErpLists(racing, Commands(), clock=Clock())  # type: ignore[arg-type]
    racer.handle_page(page(command, 2, VENDORS[2:5], more=False))
    assert racing.puts >= 3  # its first write lost the race, was redone, then the sweep
    state = lists.states(COMPANY)["vendors"]
    assert state["status"] == "complete" and state["missing_pages"] == []
    assert state["rows"] == 5 and state["removed"] == 1
    assert vendors(store) == {1, 2, 3, 4, 5}


def test_the_sweep_keeps_rows_a_newer_run_already_wrote(aws: Any) -> None:
    from chalicelib.wiring import get_store

    store = get_store()
    store.put_erp_rows(4264, "jobs", [{"job": 1, "name": "old"}], "20260101T000000000Z")
    store.put_erp_rows(4264, "jobs", [{"job": 2, "name": "kept"}], "20260102T000000000Z")
    store.put_erp_rows(4264, "jobs", [{"job": 3, "name": "newer"}], "20260103T000000000Z")
    assert store.sweep_erp_rows(4264, "jobs", "20260102T000000000Z") == 1
    assert sorted(r["job"] for r in store.list_erp_rows(4264, "jobs")) == [2, 3]
