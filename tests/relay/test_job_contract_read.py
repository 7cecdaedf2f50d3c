"""READ_JOB_CONTRACT: the agent reads a job's contract (actrec) and budget lines (bdglin)
and answers ONE Result (row in data_zlib), read-only, a busy Sage retried, an unknown job
answered with Sage's 12802; from the embedded Sage or a configured company database."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import BudgetLine, BudgetPayload, Command, CommandType
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import INVALID_DATA, INVALID_REFERENCE, UNAVAILABLE, SageError
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues
from tests.relay.test_job_cost_agent import answer
from tests.relay.test_sage_payables import TODAY

queues = test_agent.queues
make_agent = test_agent.make_agent


def company(path: Path, contract: str = "1250000.00", retain: str = "10") -> EmbeddedSage:
    db = EmbeddedSage(path, today=lambda: TODAY)
    db.init()
    db.seed_demo()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE actrec SET cntrct = ?, retain = ?, connum = 'RMB-100' "
                     "WHERE recnum = 24001", (contract, retain))
    db.add_budget(BudgetPayload(job=24001, lines=[
        BudgetLine(cost_code="3300.000", amounts={1: Decimal("1000.10"), 2: Decimal("250.45")}),
        BudgetLine(phase=2, cost_code="2200.000", amounts={4: Decimal("8000")})]))
    return db


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    return company(tmp_path / "sage.db")


def read(command_id: str, job: Any = 24001) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.READ_JOB_CONTRACT, item_id="import:prime_contract:5501",
                   export_version=0, payload={"job": job}, issued_at="2025-05-20T10:00:00Z")


def test_the_port_reads_the_contract_and_its_budget_lines(sage: EmbeddedSage) -> None:
    row = sage.read_job_contract(24001)
    assert {k: row[k] for k in ("job", "name", "status", "contract", "retention_rate",
                                "contract_number", "client_po")} == {
        "job": 24001, "name": "Riverside Medical Office Building", "status": 4,
        "contract": "1250000.00", "retention_rate": "10.00", "contract_number": "RMB-100",
        "client_po": ""}
    assert [(line["phase"], line["cost_code"], line["total"], line["phase_name"])
            for line in row["lines"]] == [(None, "3300.000", "1250.55", ""),
                                          (2, "2200.000", "8000.00", "Structure")]
    assert all(isinstance(line["name"], str) for line in row["lines"])


def test_an_unknown_job_is_sages_12802(sage: EmbeddedSage) -> None:
    with pytest.raises(SageError) as caught:
        sage.read_job_contract(99999)
    assert caught.value.code == INVALID_REFERENCE and "Job 99999 does not exist" in str(
        caught.value)


def test_the_agent_answers_one_result_and_writes_nothing(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    before = sage.count("bdglin"), sage.count("actrec")
    result = answer(queues, make_agent(sage), read("read-1"))
    assert result.ok and result.page == 1 and result.data_zlib is not None
    [row] = result.rows()
    assert (row["contract"], row["retention_rate"], len(row["lines"])) == (
        "1250000.00", "10.00", 2)
    assert (sage.count("bdglin"), sage.count("actrec")) == before
    # Read-only: a redelivery reads again (no journal replay).
    again = answer(queues, make_agent(sage), read("read-2"))
    assert again.rows() == result.rows()


def test_an_unknown_job_answers_one_error_result(queues: Queues, make_agent: Any,
                                                 sage: EmbeddedSage) -> None:
    result = answer(queues, make_agent(sage), read("read-x", job=99999))
    assert not result.ok and result.error is not None
    assert (result.error.code, result.error.retryable) == (INVALID_REFERENCE, False)
    assert "Job 99999 does not exist" in result.error.message


def test_an_invalid_payload_answers_14050(queues: Queues, make_agent: Any,
                                          sage: EmbeddedSage) -> None:
    result = answer(queues, make_agent(sage), read("read-bad", job=0))
    assert not result.ok and result.error is not None and result.error.code == INVALID_DATA


class BusySage:
    def __init__(self, sage: EmbeddedSage, busy: int) -> None:
        self.sage, self.busy, self.calls = sage, busy, 0

    def read_job_contract(self, job: int) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.busy:
            raise SageError(UNAVAILABLE, "The company database is in use", retryable=True)
        return self.sage.read_job_contract(job)


def test_a_busy_sage_is_retried(queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    busy = BusySage(sage, busy=2)
    sleeps: list[float] = []
    result = answer(queues, make_agent(busy, sleeps=sleeps, max_attempts=3), read("read-b"))
    assert result.ok and result.attempts == 3 and len(sleeps) == 2


def test_the_configured_company_database_answers(queues: Queues, make_agent: Any,
                                                 sage: EmbeddedSage, tmp_path: Path) -> None:
    other = company(tmp_path / "real.db", contract="777.77", retain="5")
    url = URL.create("sqlite", database=str(other.path)).render_as_string()
    result = answer(queues, make_agent(sage, sage_database_url=url), read("read-real"))
    [row] = result.rows()
    assert (row["contract"], row["retention_rate"]) == ("777.77", "5.00")
