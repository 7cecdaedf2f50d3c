"""The agent's answer to PULL_JOB_COSTS: ONE page per command, ONE Result (rows compressed
in data_zlib, the next cursor and the run's cap in sage_keys, more while rows remain),
read-only, a busy Sage retried, refusals answered as one error Result; from the embedded
Sage or a configured company database."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import (
    JOB_COST_SETTLE_SECONDS,
    PAYLOAD_PACKED_MAX,
    Command,
    CommandType,
    Result,
)
from relay import agent as agent_module
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import INVALID_DATA, UNAVAILABLE, SageError
from relay.sage.tables import stamp_text
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues, RecordingSqs
from tests.relay.test_sage_payables import TODAY

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent

FAR = "2999-12-31 23:59:59.999"


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    return db


def ago(seconds: float) -> str:
    return stamp_text(datetime.now(UTC) - timedelta(seconds=seconds))


def cost(n: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"job": 24001, "cost_code": "3300.000", "cost_type": n % 9 + 1,
                           "amount": f"{n * 17 % 5000}.{n % 100:02d}", "date": "2025-03-14",
                           "description": f"Row {n}", "transaction": f"JE-{n}",
                           "journal": ("General Journal", "Payroll", "Equipment")[n % 3]}
    row.update(fields)
    return row


def pull_job_costs(command_id: str, **payload: Any) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.PULL_JOB_COSTS, item_id="jobcost:5501",
                   export_version=0, payload={"job": 24001, **payload},
                   issued_at="2025-05-20T10:00:00Z")


def answer(queues: Queues, agent: Any, command: Command) -> Result:
    """Send ``command``, let the agent take it, return its one Result."""
    queues.send(command)
    agent.poll_once()
    results, _ = queues.drain_results()
    assert len(results) == 1, results
    assert queues.depth(queues.commands) == 0  # answered: the command is deleted
    return results[0]


def test_one_page_per_command_with_its_cursor_and_cap(queues: Queues, make_agent: Any,
                                                      sage: EmbeddedSage) -> None:
    # GIVEN three settled rows of job 24001 (and one of another job)
    recnums = sage.post_job_costs([cost(n) for n in range(3)], inserted_at=ago(300))
    sage.post_job_costs([cost(9, job=24002)], inserted_at=ago(300))
    expected = sage.read_job_costs(24001, after=None, until=FAR, limit=10)[0]
    sqs = RecordingSqs(queues.sqs)
    agent = make_agent(sage, client=sqs)

    # WHEN the first page of a run is asked for (no cursor, no cap)
    first = answer(queues, agent, pull_job_costs("jc-run1-p1", page_size=2))

    # THEN one Result: two rows in data_zlib, the next cursor, the cap the agent set
    assert (first.ok, first.page, first.more, first.data) == (True, 1, True, None)
    assert first.rows() == expected[:2]
    assert [row["record"] for row in first.rows()] == recnums[:2]
    until = first.sage_keys["until"]
    cap = datetime.fromisoformat(until).replace(tzinfo=UTC)
    assert abs(cap - (datetime.now(UTC) - timedelta(seconds=JOB_COST_SETTLE_SECONDS))) < (
        timedelta(seconds=10))
    assert json.loads(first.sage_keys["cursor"]) == [expected[1]["changed_at"], recnums[1]]

    # WHEN the next page is asked for with that cursor and cap
    second = answer(queues, agent, pull_job_costs(
        "jc-run1-p2", page_size=2, after=first.sage_keys["cursor"], until=until))

    # THEN the last row, no more, the position after it (the next run starts there)
    assert (second.ok, second.page, second.more) == (True, 1, False)
    assert second.rows() == expected[2:]
    assert second.sage_keys == {"cursor": json.dumps([expected[2]["changed_at"], recnums[2]],
                                                     separators=(",", ":")), "until": until}
    # Each answer is deduplicated as page 1 of its command; nothing was written.
    dedup = [kw["MessageDeduplicationId"] for name, kw in sqs.calls
             if name == "send_message" and kw["MessageGroupId"] == "jobcost:5501"]
    assert dedup == ["jc-run1-p1:p1", "jc-run1-p2:p1"]
    assert agent.commands_applied == 0 and agent.journal.unreported() == []


def test_rows_after_the_cap_wait_for_a_later_run(queues: Queues, make_agent: Any,
                                                 sage: EmbeddedSage) -> None:
    [settled] = sage.post_job_costs([cost(1)], inserted_at=ago(120))
    sage.post_job_costs([cost(2)])  # just written: may still be in an open transaction
    result = answer(queues, make_agent(sage), pull_job_costs("jc-cap"))
    assert [row["record"] for row in result.rows()] == [settled]
    assert result.more is False
    assert json.loads(result.sage_keys["cursor"])[1] == settled


def test_a_job_without_job_costs_answers_an_empty_page(queues: Queues, make_agent: Any,
                                                       sage: EmbeddedSage) -> None:
    result = answer(queues, make_agent(sage), pull_job_costs("jc-empty", until=FAR))
    assert (result.ok, result.rows(), result.more, result.sage_keys) == (
        True, [], False, {"cursor": "", "until": FAR})


def test_a_full_page_of_a_thousand_rows_fits_one_message(queues: Queues, make_agent: Any,
                                                         sage: EmbeddedSage) -> None:
    # GIVEN 1,001 rows with realistic 50-character descriptions and transaction numbers
    words = random.Random(7)
    rows = [cost(n, description="".join(words.choices(string.ascii_letters + " ", k=50)),
                 transaction=f"INV-{words.randrange(10**8):08d}", vendor=3001,
                 journal="Accounts Payable", hours=f"{n % 40}.25")
            for n in range(1001)]
    sage.post_job_costs(rows, inserted_at=ago(300))
    sqs = RecordingSqs(queues.sqs)

    result = answer(queues, make_agent(sage, client=sqs), pull_job_costs("jc-big"))

    # THEN all 1,000 rows travel in one result message, well under SQS's 256 KB
    [body] = [kw["MessageBody"] for name, kw in sqs.calls if name == "send_message"
              and kw["MessageGroupId"] == "jobcost:5501"]
    assert len(body.encode()) < 200 * 1024 and len(result.data_zlib or "") < PAYLOAD_PACKED_MAX
    assert len(result.rows()) == 1000 and result.more is True
    assert len(json.dumps(result.rows())) > 300_000  # it is the compression that fits it


def test_a_page_too_large_for_a_message_ends_early(queues: Queues, make_agent: Any,
                                                   sage: EmbeddedSage,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    words = random.Random(11)
    sage.post_job_costs([cost(n, description="".join(words.choices(string.ascii_letters,
                                                                   k=50)))
                         for n in range(64)], inserted_at=ago(300))
    everything = sage.read_job_costs(24001, after=None, until=FAR, limit=100)[0]
    whole = answer(queues, make_agent(sage), pull_job_costs("jc-whole", until=FAR))
    assert whole.rows() == everything
    # Room for about half of the page: the agent sends fewer rows, more=True, and the
    # cursor after the last row it sent; the next commands carry on from there.
    monkeypatch.setattr(agent_module, "PAGE_BYTES_MAX",
                        len(whole.model_dump_json().encode()) * 2 // 3)
    agent = make_agent(sage)

    pages = [answer(queues, agent, pull_job_costs("jc-trim-1", until=FAR))]
    while pages[-1].more:
        pages.append(answer(queues, agent, pull_job_costs(
            f"jc-trim-{len(pages) + 1}", until=FAR, after=pages[-1].sage_keys["cursor"])))

    first = pages[0].rows()
    assert 0 < len(first) < len(everything) and len(pages) >= 2
    assert json.loads(pages[0].sage_keys["cursor"]) == [first[-1]["changed_at"],
                                                        first[-1]["record"]]
    assert [row for page in pages for row in page.rows()] == everything


@pytest.mark.parametrize(("payload", "words"), [
    ({"after": "[1]"}, "is not a job cost cursor"),
    ({"until": "soon"}, "is not a time"),
    ({"page_size": 5000}, "page_size"),
    ({"job": 0}, "job"),
], ids=["cursor", "until", "page size", "job"])
def test_a_bad_request_answers_one_error(queues: Queues, make_agent: Any, sage: EmbeddedSage,
                                         payload: dict[str, Any], words: str) -> None:
    sqs = RecordingSqs(queues.sqs)
    result = answer(queues, make_agent(sage, client=sqs), pull_job_costs("jc-bad", **payload))
    assert not result.ok and result.error is not None
    assert result.error.code == INVALID_DATA and words in result.error.message
    assert result.page is None and result.rows() == []
    assert [kw["MessageDeduplicationId"] for name, kw in sqs.calls
            if name == "send_message" and kw["MessageGroupId"] == "jobcost:5501"] == [
        "jc-bad:error"]


class BusyReads:
    """A reader whose database is busy ``busy`` times, then answers one row."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.calls: list[tuple[int, str | None, str | None, int]] = []

    def read_job_costs(self, job: int, *, after: str | None, until: str | None,
                       limit: int) -> tuple[list[dict[str, Any]], str | None, str]:
        self.calls.append((job, after, until, limit))
        if self.busy:
            self.busy -= 1
            raise SageError(UNAVAILABLE, "The company database is in use", retryable=True)
        return [{"record": 1, "changed_at": "2025-05-20 09:00:00.000"}], None, \
            "2025-05-20 09:59:00.000"


def test_a_busy_sage_is_retried(queues: Queues, make_agent: Any) -> None:
    reads = BusyReads(busy=2)
    sleeps: list[float] = []
    result = answer(queues, make_agent(reads, sleeps=sleeps, max_attempts=3),
                    pull_job_costs("jc-busy", page_size=50))
    assert result.ok and result.attempts == 3 and result.rows() == [
        {"record": 1, "changed_at": "2025-05-20 09:00:00.000"}]
    assert len(sleeps) == 2 and reads.calls[0] == (24001, None, None, 50)


def test_a_sage_that_stays_busy_answers_a_retryable_error(queues: Queues,
                                                          make_agent: Any) -> None:
    result = answer(queues, make_agent(BusyReads(busy=9), max_attempts=2),
                    pull_job_costs("jc-down"))
    assert not result.ok and result.error is not None
    assert (result.error.code, result.error.retryable, result.attempts) == (
        UNAVAILABLE, True, 2)


def test_the_configured_company_database_answers_the_pull(
        queues: Queues, make_agent: Any, sage: EmbeddedSage, tmp_path: Path) -> None:
    # GIVEN another company database (standing in for a real Sage) named by the config
    other = EmbeddedSage(tmp_path / "real.db", today=lambda: TODAY)
    other.init()
    other.seed_demo()
    [recnum] = other.post_job_costs([cost(5, journal="Payroll")], inserted_at=ago(300))
    sage.post_job_costs([cost(1), cost(2)], inserted_at=ago(300))
    url = URL.create("sqlite", database=str(other.path)).render_as_string()

    result = answer(queues, make_agent(sage, sage_database_url=url),
                    pull_job_costs("jc-real", until=FAR))

    assert [(row["record"], row["journal"]) for row in result.rows()] == [(recnum, "Payroll")]
