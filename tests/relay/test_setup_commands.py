"""Setup commands: jobs and vendors added to Sage once, and the paged read-only pulls.

The embedded Sage is real (a file in tmp_path, seeded with the demo company); SQS is moto
in-process with the two FIFO queues the agent uses.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import relay.agent
from chalicelib.relay_protocol import Command, CommandType, JobPayload, Result, VendorPayload
from relay.agent import RelayAgent
from relay.config import AgentConfig
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import (
    DUPLICATE_KEY,
    INVALID_DATA,
    UNAVAILABLE,
    SageError,
    SagePort,
)
from tests.relay.test_agent import Queues, RecordingSqs

COMPANY_ID = 4264
MASTER_TABLES = ("actrec", "actpay", "jobphs", "cstcde", "csttyp")

DEMO_VENDOR_ROWS = [
    {"vendor": 3001, "name": "Granite Bay Concrete", "short_name": "Granite Bay Concrete",
     "inactive": False, "tax_id": "94-1234567", "address": None, "city": None, "state": None,
     "zip_code": None},
    {"vendor": 3002, "name": "Northern California Electric",
     "short_name": "Northern California Electric", "inactive": False, "tax_id": None,
     "address": None, "city": None, "state": None, "zip_code": None},
    {"vendor": 3003, "name": "Summit Steel Supply", "short_name": "Summit Steel Supply",
     "inactive": False, "tax_id": "77-7654321", "address": None, "city": None, "state": None,
     "zip_code": None},
    {"vendor": 3004, "name": "Retired Vendor LLC", "short_name": "Retired Vendor LLC",
     "inactive": True, "tax_id": None, "address": None, "city": None, "state": None,
     "zip_code": None},
]


# ---- fixtures and helpers -----------------------------------------------------------------
@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    return db


def master_counts(db: EmbeddedSage) -> dict[str, int]:
    return {table: db.count(table) for table in MASTER_TABLES}


def refused(db: EmbeddedSage, write: Callable[[], Any], code: int) -> SageError:
    """``write`` must fail with ``code`` and leave the master data as it was."""
    before = master_counts(db)
    with pytest.raises(SageError) as caught:
        write()
    assert caught.value.code == code, caught.value.message
    assert master_counts(db) == before
    return caught.value


def read_all(db: SagePort, table: str, limit: int,
             job: int | None = None) -> tuple[list[list[dict[str, Any]]], list[str | None]]:
    """Every page of ``table``: (pages, the cursor each page returned)."""
    pages: list[list[dict[str, Any]]] = []
    cursors: list[str | None] = []
    cursor: str | None = None
    while True:
        rows, cursor = db.read(table, after=cursor, limit=limit, job=job)
        pages.append(rows)
        cursors.append(cursor)
        if cursor is None:
            return pages, cursors


def job_payload(**overrides: Any) -> JobPayload:
    data: dict[str, Any] = {"job": 24010, "name": "Harbor View Parking Structure Phase Two"}
    data.update(overrides)
    return JobPayload.model_validate(data)


def vendor_payload(**overrides: Any) -> VendorPayload:
    data: dict[str, Any] = {"name": "Bayside Glazing"}
    data.update(overrides)
    return VendorPayload.model_validate(data)


# ---- embedded: add_job -------------------------------------------------------------------
def test_add_job_writes_actrec(sage: EmbeddedSage) -> None:
    keys = sage.add_job(job_payload(status=3, address="1 Harbor Way", city="Oakland",
                                    state="CA", zip_code="94607"))
    assert keys == {"actrec": "24010"}
    row = sage.rows("actrec", {"recnum": 24010})[0]
    assert (row["jobnme"], row["shtnme"], row["status"]) == (
        "Harbor View Parking Structure Phase Two", "Harbor View Parking Structure", 3)
    assert (row["addrs1"], row["ctynme"], row["state_"], row["zipcde"]) == (
        "1 Harbor Way", "Oakland", "CA", "94607")
    assert row["insusr"] == "relay" and len(row["_idnum"]) == 36
    assert sage.find_job(24010) == {"actrec": "24010"}
    assert sage.find_job(99999) is None


def test_add_job_defaults(sage: EmbeddedSage) -> None:
    sage.add_job(job_payload(name="Clinic", short_name="CLN"))
    row = sage.rows("actrec", {"recnum": 24010})[0]
    # Sage's text columns are NOT NULL: an address not given is ''.
    assert (row["shtnme"], row["status"], row["addrs1"], row["state_"]) == ("CLN", 4, "", "")


@pytest.mark.parametrize(("payload", "code", "words"), [
    (job_payload(job=24001), DUPLICATE_KEY, "job 24001 already exists"),
    (JobPayload.model_construct(job=24010, name="N" * 76, short_name=None, status=4,
                                address=None, city=None, state=None, zip_code=None),
     INVALID_DATA, "actrec.jobnme allows at most 75"),
    (JobPayload.model_construct(job=24010, name="Clinic", short_name="S" * 31, status=4,
                                address=None, city=None, state=None, zip_code=None),
     INVALID_DATA, "actrec.shtnme allows at most 30"),
    (JobPayload.model_construct(job=24010, name="   ", short_name=None, status=4,
                                address=None, city=None, state=None, zip_code=None),
     INVALID_DATA, "job name is blank"),
    (JobPayload.model_construct(job=24010, name="Clinic", short_name=None, status=4,
                                address=None, city=None, state="CAL", zip_code=None),
     INVALID_DATA, "actrec.state_ allows at most 2"),
    (JobPayload.model_construct(job=24010, name="Clinic", short_name=None, status=4,
                                address="A" * 51, city=None, state=None, zip_code=None),
     INVALID_DATA, "actrec.addrs1 allows at most 50"),
    (JobPayload.model_construct(job=0, name="Clinic", short_name=None, status=4,
                                address=None, city=None, state=None, zip_code=None),
     INVALID_DATA, "job 0 is out of range"),
    (JobPayload.model_construct(job=24010, name="Clinic", short_name=None, status=9,
                                address=None, city=None, state=None, zip_code=None),
     INVALID_DATA, "job status 9 is not 1-6"),
], ids=["duplicate", "long-name", "long-short-name", "blank-name", "state", "address",
        "range", "status"])
def test_add_job_refusals(sage: EmbeddedSage, payload: JobPayload, code: int,
                          words: str) -> None:
    error = refused(sage, lambda: sage.add_job(payload), code)
    assert words in error.message


# ---- embedded: add_vendor ----------------------------------------------------------------
def test_add_vendor_with_a_number(sage: EmbeddedSage) -> None:
    keys = sage.add_vendor(vendor_payload(vendor=4100, short_name="Bayside",
                                          address="9 Pier St", city="Alameda", state="CA",
                                          zip_code="94501", tax_id="12-3456789"))
    assert keys == {"actpay": "4100"}
    row = sage.rows("actpay", {"recnum": 4100})[0]
    assert (row["vndnme"], row["shtnme"], row["inactv"], row["fedidn"]) == (
        "Bayside Glazing", "Bayside", 0, "12-3456789")
    assert (row["addrs1"], row["ctynme"], row["state_"], row["zipcde"]) == (
        "9 Pier St", "Alameda", "CA", "94501")


def test_add_vendor_takes_the_next_free_number(sage: EmbeddedSage) -> None:
    assert sage.add_vendor(vendor_payload()) == {"actpay": "3005"}
    assert sage.add_vendor(vendor_payload(name="Delta Drywall")) == {"actpay": "3006"}
    row = sage.rows("actpay", {"recnum": 3005})[0]
    assert (row["vndnme"], row["shtnme"], row["fedidn"]) == (
        "Bayside Glazing", "Bayside Glazing", "")


def test_first_vendor_of_an_empty_company_is_1(tmp_path: Path) -> None:
    # Highest + 1 from nothing: no invented starting number.
    db = EmbeddedSage(tmp_path / "empty.db")
    db.init()
    assert db.add_vendor(vendor_payload(name="  Long Name That Runs Past Thirty Chars  ")) == {
        "actpay": "1"}
    assert db.add_vendor(vendor_payload(name="Second")) == {"actpay": "2"}
    row = db.rows("actpay", {"recnum": 1})[0]
    assert (row["vndnme"], row["shtnme"]) == ("Long Name That Runs Past Thirty Chars",
                                              "Long Name That Runs Past Thirt")


def _vendor(**fields: Any) -> VendorPayload:
    values: dict[str, Any] = {"vendor": None, "name": "Bayside Glazing", "short_name": None,
                              "address": None, "city": None, "state": None, "zip_code": None,
                              "tax_id": None}
    values.update(fields)
    return VendorPayload.model_construct(**values)


@pytest.mark.parametrize(("payload", "code", "words"), [
    (vendor_payload(vendor=3002), DUPLICATE_KEY, "vendor 3002 already exists"),
    (_vendor(name="V" * 76), INVALID_DATA, "actpay.vndnme allows at most 75"),
    (_vendor(short_name="S" * 31), INVALID_DATA, "actpay.shtnme allows at most 30"),
    (_vendor(name=""), INVALID_DATA, "vendor name is blank"),
    (_vendor(tax_id="9" * 65), INVALID_DATA, "actpay.fedidn allows at most 64"),
    (_vendor(zip_code="9" * 11), INVALID_DATA, "actpay.zipcde allows at most 10"),
    (_vendor(vendor=10_000_000_000), INVALID_DATA, "out of range"),
], ids=["duplicate-number", "long-name", "long-short-name", "blank-name", "tax-id", "zip",
        "range"])
def test_add_vendor_refusals(sage: EmbeddedSage, payload: VendorPayload, code: int,
                             words: str) -> None:
    error = refused(sage, lambda: sage.add_vendor(payload), code)
    assert words in error.message


def test_a_vendor_may_share_another_vendors_name(sage: EmbeddedSage) -> None:
    # Sage keys vendors by number only: a second "Granite Bay Concrete" is a new vendor.
    assert sage.add_vendor(vendor_payload(name="  granite BAY concrete ")) == {"actpay": "3005"}
    assert sage.add_vendor(vendor_payload(vendor=4100, name="Retired vendor llc")) == {
        "actpay": "4100"}
    assert [r["recnum"] for r in sage.rows("actpay") if r["vndnme"].casefold() ==
            "granite bay concrete"] == [3001, 3005]


def test_find_vendor_by_name_finds_only_what_this_user_added(sage: EmbeddedSage) -> None:
    accountant = EmbeddedSage(sage.path, user="jdoe")
    accountant.seed_vendor(4200, "Bayside Glazing")  # entered in Sage by hand
    assert sage.find_vendor(None, "Bayside Glazing") is None  # not the agent's add
    assert sage.add_vendor(vendor_payload()) == {"actpay": "4201"}
    assert sage.find_vendor(None, " bayside GLAZING") == {"actpay": "4201"}
    sage.add_vendor(vendor_payload())  # the same name again: the newest is the add's
    assert sage.find_vendor(None, "Bayside Glazing") == {"actpay": "4202"}


def test_find_vendor_by_number_else_by_name(sage: EmbeddedSage) -> None:
    assert sage.find_vendor(3003, "whatever") == {"actpay": "3003"}
    assert sage.find_vendor(4999, "Summit Steel Supply") is None  # the number decides
    assert sage.find_vendor(None, " summit STEEL supply") == {"actpay": "3003"}
    assert sage.find_vendor(None, "Summit Steel") is None
    assert sage.find_vendor(10**12, "x") is None


def test_next_number_vendors_from_two_threads_never_collide(sage: EmbeddedSage) -> None:
    other = EmbeddedSage(sage.path)  # a second handle, as another process would have
    keys: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def writer(db: EmbeddedSage, prefix: str) -> None:
        try:
            start.wait()
            for i in range(15):
                got = db.add_vendor(vendor_payload(name=f"{prefix} Vendor {i:02d}"))
                with lock:
                    keys.append(got["actpay"])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(sage, "A")),
               threading.Thread(target=writer, args=(other, "B"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(int(k) for k in keys) == list(range(3005, 3035))
    assert sage.count("actpay") == 4 + 30


# ---- embedded: read ----------------------------------------------------------------------
def test_read_jobs_in_pages(sage: EmbeddedSage) -> None:
    sage.add_job(job_payload(job=24010, name="Harbor", address="1 Harbor Way", city="Oakland",
                             state="CA", zip_code="94607"))
    pages, cursors = read_all(sage, "jobs", 2)
    assert [[r["job"] for r in page] for page in pages] == [[23099, 24001], [24002, 24010]]
    assert cursors == ["[24001]", None]
    assert pages[0][0] == {"job": 23099, "name": "Old Library Closeout",
                           "short_name": "Old Library Closeout", "status": 6, "address": None,
                           "city": None, "state": None, "zip_code": None}
    assert pages[1][1] == {"job": 24010, "name": "Harbor", "short_name": "Harbor",
                           "status": 4, "address": "1 Harbor Way", "city": "Oakland",
                           "state": "CA", "zip_code": "94607"}


def test_read_vendors_in_pages(sage: EmbeddedSage) -> None:
    sage.add_vendor(vendor_payload(tax_id="12-3456789"))
    pages, cursors = read_all(sage, "vendors", 2)
    assert cursors == ["[3002]", "[3004]", None]
    assert pages[0] + pages[1] == DEMO_VENDOR_ROWS
    assert pages[2] == [{"vendor": 3005, "name": "Bayside Glazing",
                         "short_name": "Bayside Glazing", "inactive": False,
                         "tax_id": "12-3456789", "address": None, "city": None, "state": None,
                         "zip_code": None}]
    assert all(isinstance(row["inactive"], bool) for page in pages for row in page)


def test_read_cost_codes_in_decimal_order(sage: EmbeddedSage) -> None:
    sage.add_cost_code("100.5", "Permits", unit="ea")
    sage.add_cost_code("8800.000", "Retired Finishes", inactive=True)
    pages, cursors = read_all(sage, "cost_codes", 2)
    codes = [[r["code"] for r in page] for page in pages]
    assert codes == [["100.500", "1100.000"], ["2200.000", "3300.000"],
                     ["5120.000", "8800.000"], ["9900.000", "26000.000"]]
    assert cursors == ['["1100.000"]', '["3300.000"]', '["8800.000"]', None]
    assert pages[0][0] == {"code": "100.500", "name": "Permits", "unit": "ea",
                           "inactive": False}
    assert pages[2][1] == {"code": "8800.000", "name": "Retired Finishes", "unit": None,
                           "inactive": True}


def test_read_cost_types_in_pages(sage: EmbeddedSage) -> None:
    pages, cursors = read_all(sage, "cost_types", 2)
    assert cursors == ["[2]", "[4]", "[6]", "[8]", None]
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]
    assert pages[0] == [{"type": 1, "name": "Material"}, {"type": 2, "name": "Labor"}]
    assert pages[-1] == [{"type": 9, "name": "User Def Type 9"}]


def test_read_phases_in_pages_and_by_job(sage: EmbeddedSage) -> None:
    sage.add_phase(24002, 2, "Shell")
    pages, cursors = read_all(sage, "phases", 2)
    assert pages == [
        [{"job": 24001, "phase": 1, "name": "Site and Foundations"},
         {"job": 24001, "phase": 2, "name": "Structure"}],
        [{"job": 24001, "phase": 3, "name": "Finishes"},
         {"job": 24002, "phase": 1, "name": "Demolition"}],
        [{"job": 24002, "phase": 2, "name": "Shell"}],
    ]
    assert cursors == ["[24001,2]", "[24002,1]", None]
    only, cursors = read_all(sage, "phases", 2, job=24002)
    assert only == [[{"job": 24002, "phase": 1, "name": "Demolition"},
                     {"job": 24002, "phase": 2, "name": "Shell"}]]
    assert cursors == [None]
    first, cursor = sage.read("phases", after=None, limit=2, job=24001)
    assert [r["phase"] for r in first] == [1, 2] and cursor == "[24001,2]"
    assert sage.read("phases", after=cursor, limit=2, job=24001) == (
        [{"job": 24001, "phase": 3, "name": "Finishes"}], None)
    assert sage.read("phases", after=None, limit=2, job=23099) == ([], None)


def test_cursors_are_stable_when_rows_are_added(sage: EmbeddedSage) -> None:
    _, cursor = sage.read("vendors", after=None, limit=2)
    assert cursor is not None
    assert sage.read("vendors", after=cursor, limit=2) == sage.read("vendors", after=cursor,
                                                                    limit=2)
    sage.seed_vendor(1, "Early Number Vendor")  # sorts before the cursor: no shift
    rows, _ = sage.read("vendors", after=cursor, limit=2)
    assert [r["vendor"] for r in rows] == [3003, 3004]
    assert [r["vendor"] for r in sage.read("vendors", after=None, limit=2)[0]] == [1, 3001]


def test_read_of_an_exact_multiple_has_no_empty_last_page(sage: EmbeddedSage) -> None:
    pages, cursors = read_all(sage, "vendors", 4)
    assert [len(p) for p in pages] == [4] and cursors == [None]


def test_read_empty_table(tmp_path: Path) -> None:
    db = EmbeddedSage(tmp_path / "empty.db")
    db.init()
    for table in ("jobs", "vendors", "cost_codes", "cost_types", "phases", "budgets"):
        assert db.read(table, after=None, limit=2) == ([], None)


@pytest.mark.parametrize(("table", "kwargs", "words"), [
    ("subcon", {}, "unknown table 'subcon'"),
    ("jobs", {"limit": 0}, "limit must be a positive integer"),
    ("jobs", {"after": "abc"}, "is not a jobs cursor"),
    ("jobs", {"after": "[true]"}, "is not a jobs cursor"),
    ("cost_codes", {"after": "3300.000"}, "is not a cost_codes cursor"),
    ("cost_codes", {"after": '["x"]'}, "is not a cost_codes cursor"),
    ("cost_codes", {"after": "[3300]"}, "is not a cost_codes cursor"),
    ("phases", {"after": "24001:2"}, "is not a phases cursor"),
    ("phases", {"after": "[24001]"}, "is not a phases cursor"),
    ("vendors", {"job": 24001},
     "job narrows phases, budgets, commitments and receivables only"),
    ("budgets", {"after": "[24001,0]"}, "is not a budgets cursor"),
    ("budgets", {"after": "[24001,0,3300]"}, "is not a budgets cursor"),
])
def test_read_refuses_bad_arguments(sage: EmbeddedSage, table: str, kwargs: dict[str, Any],
                                    words: str) -> None:
    arguments: dict[str, Any] = {"after": None, "limit": 2, **kwargs}
    with pytest.raises(ValueError, match=words):
        sage.read(table, **arguments)


# ---- embedded: seed and schema -----------------------------------------------------------
def test_seed_demo_adds_phases_and_tax_ids_once(sage: EmbeddedSage) -> None:
    phases = [(r["recnum"], r["phsnum"], r["phsnme"]) for r in sage.rows("jobphs")]
    assert phases == [(24001, 1, "Site and Foundations"), (24001, 2, "Structure"),
                      (24001, 3, "Finishes"), (24002, 1, "Demolition")]
    tax_ids = {r["recnum"]: r["fedidn"] for r in sage.rows("actpay")}
    assert tax_ids == {3001: "94-1234567", 3002: "", 3003: "77-7654321", 3004: ""}
    before = master_counts(sage)
    assert sage.seed_demo() == 0
    assert master_counts(sage) == before


# ---- agent --------------------------------------------------------------------------------
@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = {"FifoQueue": "true"}
        commands = sqs.create_queue(QueueName="relay-4264-commands.fifo",
                                    Attributes=fifo)["QueueUrl"]
        results = sqs.create_queue(QueueName="relay-results.fifo", Attributes=fifo)["QueueUrl"]
        yield Queues(sqs, commands, results)


@pytest.fixture
def make_agent(tmp_path: Path, queues: Queues) -> Iterator[Callable[..., RelayAgent]]:
    agents: list[RelayAgent] = []

    def _make(sage: Any, *, client: Any = None, sleeps: list[float] | None = None,
              **config: Any) -> RelayAgent:
        values: dict[str, Any] = {
            "agent_id": "agent-1", "company_id": COMPANY_ID,
            "commands_queue_url": queues.commands, "results_queue_url": queues.results,
            "journal_path": str(tmp_path / "journal.sqlite3"),
            "sage_db": str(tmp_path / "sage.db"), "wait_seconds": 0,
        }
        values.update(config)
        recorded = sleeps if sleeps is not None else []
        agent = RelayAgent(AgentConfig(**values), sage, client or queues.sqs,
                           sleep=recorded.append, rng=lambda: 1.0)
        agents.append(agent)
        return agent

    yield _make
    for agent in agents:
        agent.close()


def command(kind: CommandType, payload: dict[str, Any], *, command_id: str,
            item_id: str | None = None) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID, type=kind,
                   item_id=item_id or f"pull:{kind.value}", export_version=1,
                   payload=payload, issued_at="2025-03-01T12:00:00Z")


def add_job_command() -> Command:
    return command(CommandType.ADD_JOB, {"job": 24010, "name": "Harbor View Garage"},
                   command_id="cmd-job-24010", item_id="project-77")


def add_vendor_command(**payload: Any) -> Command:
    return command(CommandType.ADD_VENDOR, {"name": "Bayside Glazing", **payload},
                   command_id="cmd-vendor-bayside", item_id="company-501")


def pull_command(kind: CommandType = CommandType.PULL_VENDORS, *, command_id: str = "pull-1",
                 **payload: Any) -> Command:
    return command(kind, payload, command_id=command_id)


def sent_kwargs(client: RecordingSqs) -> list[dict[str, Any]]:
    return [kw for name, kw in client.calls if name == "send_message"
            and not kw["MessageGroupId"].startswith("heartbeat:")]


@pytest.mark.parametrize(("make", "table", "keys"), [
    (add_job_command, "actrec", {"actrec": "24010"}),
    (add_vendor_command, "actpay", {"actpay": "3005"}),
], ids=["job", "vendor"])
def test_setup_command_delivered_twice_is_written_once(
        queues: Queues, make_agent: Any, sage: EmbeddedSage, make: Callable[[], Command],
        table: str, keys: dict[str, str]) -> None:
    agent = make_agent(sage)
    before = sage.count(table)
    queues.send(make(), dedup="delivery-1")
    queues.send(make(), dedup="delivery-2")

    assert agent.poll_once() == 2

    assert sage.count(table) == before + 1
    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [(True, keys)]
    assert queues.depth(queues.commands) == 0
    assert agent.commands_applied == 1


class _Crash(BaseException):
    """Stands in for os._exit: unwinds the test instead of killing pytest."""


@pytest.mark.parametrize(("make", "table", "keys"), [
    (add_job_command, "actrec", {"actrec": "24010"}),
    (add_vendor_command, "actpay", {"actpay": "3005"}),  # Sage chose the number: by name
    (lambda: add_vendor_command(vendor=4100), "actpay", {"actpay": "4100"}),
], ids=["job", "vendor-next-number", "vendor-numbered"])
def test_crash_between_write_and_journal_is_reconciled(
        queues: Queues, make_agent: Any, sage: EmbeddedSage, monkeypatch: pytest.MonkeyPatch,
        make: Callable[[], Command], table: str, keys: dict[str, str]) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    before = sage.count(table)
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    cmd = make()
    queues.send(cmd)
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    assert sage.count(table) == before + 1  # in Sage; the journal only says 'started'

    restarted = make_agent(sage)  # same journal file, like a restarted process
    assert restarted.journal.get(cmd.command_id).state == "started"  # type: ignore[union-attr]
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [(True, keys)]
    assert sage.count(table) == before + 1
    assert queues.depth(queues.commands) == 0


def test_vendor_named_like_another_is_added_not_reconciled(
        make_agent: Any, sage: EmbeddedSage) -> None:
    # The add is reconciled (the journal says 'started': a crash may have hidden a write);
    # an accountant's vendor of the same name is not taken for the agent's own add.
    EmbeddedSage(sage.path, user="jdoe").seed_vendor(4200, "Granite Bay Concrete II")
    agent = make_agent(sage)
    cmd = add_vendor_command(name="GRANITE BAY CONCRETE II")
    assert agent.journal.begin(cmd) is None  # as if the agent died after beginning it
    result = agent.handle(cmd)
    assert result.ok and result.sage_keys == {"actpay": "4201"}
    assert sage.count("actpay") == 4 + 2


def test_pull_of_five_vendors_in_pages_of_two(queues: Queues, make_agent: Any,
                                              sage: EmbeddedSage) -> None:
    sage.add_vendor(vendor_payload(tax_id="12-3456789"))
    client = RecordingSqs(queues.sqs)
    agent = make_agent(sage, client=client)
    queues.send(pull_command(page_size=2))

    assert agent.poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.page, r.more, r.ok) for r in results] == [
        (1, True, True), (2, True, True), (3, False, True)]
    assert [len(r.data or []) for r in results] == [2, 2, 1]
    rows = [row for r in results for row in r.data or []]
    assert rows == read_all(sage, "vendors", 100)[0][0]
    assert [row["vendor"] for row in rows] == [3001, 3002, 3003, 3004, 3005]
    assert rows[:4] == DEMO_VENDOR_ROWS
    assert {(r.command_id, r.item_id, r.error) for r in results} == {
        ("pull-1", "pull:pull_vendors", None)}
    sent = sent_kwargs(client)
    assert [kw["MessageDeduplicationId"] for kw in sent] == ["pull-1:p1", "pull-1:p2",
                                                             "pull-1:p3"]
    assert {kw["MessageGroupId"] for kw in sent} == {"pull:pull_vendors"}
    assert queues.depth(queues.commands) == 0  # deleted after the last page
    assert agent.journal.get("pull-1") is None  # read-only: no journal
    assert (agent.commands_applied, agent.results_sent) == (0, 3)


def test_command_deleted_only_after_every_page(queues: Queues, make_agent: Any,
                                               sage: EmbeddedSage) -> None:
    client = RecordingSqs(queues.sqs)
    queues.send(pull_command(CommandType.PULL_COST_TYPES, page_size=4))
    make_agent(sage, client=client).poll_once()
    names = [name for name, kw in client.calls if name in ("send_message", "delete_message")
             and not str(kw.get("MessageGroupId", "")).startswith("heartbeat:")]
    assert names == ["send_message"] * 3 + ["delete_message"]


def test_redelivered_pull_is_read_again_and_deduplicated(queues: Queues, make_agent: Any,
                                                         sage: EmbeddedSage) -> None:
    client = RecordingSqs(queues.sqs)
    agent = make_agent(sage, client=client)
    queues.send(pull_command(page_size=3), dedup="delivery-1")
    queues.send(pull_command(page_size=3), dedup="delivery-2")
    assert agent.poll_once() == 2
    assert len(sent_kwargs(client)) == 4  # each delivery read and sent both pages
    results, _ = queues.drain_results()
    assert [(r.page, r.more) for r in results] == [(1, True), (2, False)]  # FIFO dedup


def test_pull_phases_of_one_job_and_an_empty_pull(queues: Queues, make_agent: Any,
                                                  sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(pull_command(CommandType.PULL_PHASES, command_id="pull-p1", page_size=2,
                             job=24001))
    queues.send(pull_command(CommandType.PULL_PHASES, command_id="pull-p2", job=23099))
    agent.poll_once()
    results, _ = queues.drain_results()
    by_command: dict[str, list[Result]] = {}
    for result in results:
        by_command.setdefault(result.command_id, []).append(result)
    assert [(r.page, r.more, [row["phase"] for row in r.data or []])
            for r in by_command["pull-p1"]] == [(1, True, [1, 2]), (2, False, [3])]
    assert [(r.ok, r.page, r.more, r.data) for r in by_command["pull-p2"]] == [
        (True, 1, False, [])]


@pytest.mark.parametrize("kind", [CommandType.PULL_JOBS, CommandType.PULL_COST_CODES,
                                  CommandType.PULL_COST_TYPES])
def test_every_pull_type_reads_its_list(make_agent: Any, sage: EmbeddedSage, queues: Queues,
                                        kind: CommandType) -> None:
    table = relay.agent.PULL_TABLES[kind]
    queues.send(pull_command(kind, page_size=2))
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    assert [row for r in results for row in r.data or []] == [
        row for page in read_all(sage, table, 2)[0] for row in page]
    assert [r.more for r in results][-1] is False and all(r.more for r in results[:-1])


def test_a_big_page_is_halved_until_it_fits(queues: Queues, make_agent: Any,
                                            sage: EmbeddedSage,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # One read of 4 vendors is ~970 bytes of JSON; 2 vendors ~630; 1 vendor ~450.
    monkeypatch.setattr(relay.agent, "PAGE_BYTES_MAX", 650)
    sage.add_vendor(vendor_payload())
    client = RecordingSqs(queues.sqs)
    queues.send(pull_command(page_size=4))
    make_agent(sage, client=client).poll_once()
    sent = sent_kwargs(client)
    assert all(len(kw["MessageBody"].encode()) <= 650 for kw in sent)
    results, _ = queues.drain_results()
    assert [(r.page, r.more, len(r.data or [])) for r in results] == [
        (1, True, 2), (2, True, 2), (3, False, 1)]
    assert [row["vendor"] for r in results for row in r.data or []] == [
        3001, 3002, 3003, 3004, 3005]
    assert [kw["MessageDeduplicationId"] for kw in sent] == ["pull-1:p1", "pull-1:p2",
                                                             "pull-1:p3"]


def test_a_row_too_big_for_any_page_is_an_error(queues: Queues, make_agent: Any,
                                                sage: EmbeddedSage,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay.agent, "PAGE_BYTES_MAX", 300)
    queues.send(pull_command(page_size=2))
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    assert [(r.ok, r.page, r.more) for r in results] == [(False, None, False)]
    assert results[0].error is not None and results[0].error.code == INVALID_DATA
    assert queues.depth(queues.commands) == 0


def test_a_pull_that_fails_gives_one_error_result(queues: Queues, make_agent: Any,
                                                  tmp_path: Path) -> None:
    broken = EmbeddedSage(tmp_path / "never-initialized.db")
    client = RecordingSqs(queues.sqs)
    queues.send(pull_command(page_size=2))
    make_agent(broken, client=client).poll_once()
    results, _ = queues.drain_results()
    assert len(results) == 1
    result = results[0]
    assert (result.ok, result.page, result.more, result.data) == (False, None, False, None)
    assert result.error is not None and result.error.code == UNAVAILABLE
    assert "not initialized" in result.error.message
    assert [kw["MessageDeduplicationId"] for kw in sent_kwargs(client)] == ["pull-1:error"]
    assert queues.depth(queues.commands) == 0


class FlakySage:
    """Wraps a SagePort: ``read`` raises the queued errors first, one per call."""

    def __init__(self, inner: EmbeddedSage, errors: list[SageError | None]) -> None:
        self.inner = inner
        self.errors = errors
        self.reads = 0

    def read(self, table: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
        self.reads += 1
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return self.inner.read(table, **kwargs)


def test_busy_sage_is_retried_during_a_pull(make_agent: Any, sage: EmbeddedSage,
                                            queues: Queues) -> None:
    busy = SageError(UNAVAILABLE, "busy", retryable=True)
    flaky = FlakySage(sage, [None, busy, busy])  # page 2 is busy twice
    sleeps: list[float] = []
    queues.send(pull_command(page_size=2))
    make_agent(flaky, sleeps=sleeps).poll_once()
    results, _ = queues.drain_results()
    assert [(r.ok, r.page, r.more, r.attempts) for r in results] == [
        (True, 1, True, 1), (True, 2, False, 3)]
    assert sleeps == [0.5, 1.0] and flaky.reads == 4


def test_a_failure_after_some_pages_ends_with_the_error(make_agent: Any, sage: EmbeddedSage,
                                                        queues: Queues) -> None:
    flaky = FlakySage(sage, [None, SageError(12806, "Security denied for vendors")])
    queues.send(pull_command(page_size=2))
    make_agent(flaky).poll_once()
    results, _ = queues.drain_results()
    assert [(r.ok, r.page, r.more) for r in results] == [(True, 1, True), (False, None, False)]
    assert results[1].error is not None
    assert (results[1].error.code, results[1].error.message) == (
        12806, "Security denied for vendors")
    assert queues.depth(queues.commands) == 0


def test_invalid_pull_payload_is_14050(make_agent: Any, sage: EmbeddedSage,
                                       queues: Queues) -> None:
    queues.send(pull_command(page_size=0))
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    assert [(r.ok, r.page, r.more) for r in results] == [(False, None, False)]
    assert results[0].error is not None and results[0].error.code == INVALID_DATA
    assert "page_size" in results[0].error.message


def test_unexpected_pull_failure_leaves_the_message(make_agent: Any, queues: Queues) -> None:
    class Broken:
        def read(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("adapter bug")

    queues.send(pull_command())
    make_agent(Broken()).poll_once()
    results, _ = queues.drain_results()
    assert results == []
    assert queues.depth(queues.commands) == 1  # redelivered, then the DLQ


def test_a_reader_that_does_not_advance_ends_the_pull_as_failed(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded: a cursor that comes back unchanged would page forever."""
    calls = {"n": 0}

    def stuck(table: str, *, after: str | None, limit: int,
              job: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        calls["n"] += 1
        return [{"vendor": 3001, "name": "A"}], "same-cursor"

    monkeypatch.setattr(sage, "read", stuck)
    queues.send(pull_command(page_size=2))
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    assert calls["n"] == 2  # the first page, then the read that did not move on
    assert [(r.ok, r.page) for r in results][:1] == [(True, 1)]
    failed = results[-1]
    assert not failed.ok and failed.error is not None
    assert "did not advance" in failed.error.message
