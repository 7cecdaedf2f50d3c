"""Prime contract change orders (PCCOs) in the embedded Sage and through the agent: a
change order of its own (prmchg + pmcgln), prime lines joining the change order a CCO of
the same change event wrote (and when they do not), Sage's refusals, and reconciliation
after a timeout or a crash (a change order adds amounts: never written twice)."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PrimeChangeOrderPayload,
    SubcontractChangeOrderPayload,
)
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import INVALID_DATA, INVALID_REFERENCE, UNAVAILABLE, SageError
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues
from tests.relay.test_agent_change_orders import SUB_CCO, company

queues = test_agent.queues
make_agent = test_agent.make_agent
D = Decimal

PCCO = {"job": 24001, "reference": "PCCO77", "description": "PCCO77 Added footing",
        "change_date": "2025-06-03", "lines": [
            {"description": "PCCO77 Footing at C-4", "cost_code": "3300.000",
             "cost_type": 4, "amount": "12500.00"},
            {"description": "PCCO77 Credit: slab", "cost_code": "3300.000",
             "cost_type": 1, "amount": "-500.00"}]}


def pcco(**fields: Any) -> PrimeChangeOrderPayload:
    return PrimeChangeOrderPayload.model_validate({**PCCO, **fields})


def command(body: dict[str, Any] | None = None, command_id: str = "cmd-pcco-1") -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.ADD_PRIME_CHANGE_ORDER, item_id="pcco-77",
                   export_version=1, payload=body or PCCO, issued_at="2025-06-03T10:00:00Z")


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    return company(EmbeddedSage(tmp_path / "sage.sqlite3"))


def header(sage: EmbeddedSage, recnum: int) -> dict[str, Any]:
    [row] = [r for r in sage.rows("prmchg") if r["recnum"] == recnum]
    return row


def prime_lines(sage: EmbeddedSage) -> list[tuple[Any, ...]]:
    return [(r["recnum"], r["linnum"], r["dscrpt"], r["aprprc"], r["reqprc"],
             f"{Decimal(str(r['cstcde'])):.3f}", r["csttyp"]) for r in sage.rows("pmcgln")]


def cco_change_order(sage: EmbeddedSage, **fields: Any) -> int:
    keys = sage.add_subcontract_change_order(
        SubcontractChangeOrderPayload.model_validate({**SUB_CCO, **fields}))
    return int(keys["prmchg"])


# ---- the writer ---------------------------------------------------------------------------
def test_a_pcco_is_a_change_order_of_its_own_numbered_by_sage(sage: EmbeddedSage) -> None:
    cco_change_order(sage)  # the job's change order 1
    contract = sage.rows("actrec")
    keys = sage.add_prime_change_order(pcco())
    assert keys == {"prmchg": "2", "chgnum": "2", "joined": "false", "lines": "1-2"}
    row = header(sage, 2)
    assert (row["jobnum"], row["phsnum"], row["status"], row["dscrpt"]) == (
        24001, 0, 1, "PCCO77 Added footing")
    assert (row["reqamt"], row["appamt"], row["cstamt"]) == (D("12000.00"), D("12000.00"),
                                                             D("0.00"))
    assert str(row["chgdte"]) == str(row["aprdte"]) == "2025-06-03"
    assert prime_lines(sage) == [
        (2, 1, "PCCO77 Footing at C-4", D("12500.00"), D("12500.00"), "3300.000", 4),
        (2, 2, "PCCO77 Credit: slab", D("-500.00"), D("-500.00"), "3300.000", 1)]
    assert sage.count("sbcgln") == 2  # the CCO's lines, untouched
    assert sage.rows("actrec") == contract  # the job's contract does not follow


def test_a_pcco_joins_the_change_order_of_a_cco_of_its_change_event(
        sage: EmbeddedSage) -> None:
    joined = cco_change_order(sage)
    before = header(sage, joined)
    keys = sage.add_prime_change_order(pcco(join=joined))
    assert keys == {"prmchg": str(joined), "chgnum": "1", "joined": "true", "lines": "1-2"}
    assert sage.count("prmchg") == 1
    after = header(sage, joined)
    assert (after["reqamt"], after["appamt"]) == (D("12000.00"), D("12000.00"))
    assert {k: after[k] for k in ("chgnum", "dscrpt", "cstamt", "status", "chgdte")} == \
        {k: before[k] for k in ("chgnum", "dscrpt", "cstamt", "status", "chgdte")}
    assert [line[0] for line in prime_lines(sage)] == [joined, joined]
    assert sage.count("sbcgln") == 2


@pytest.mark.parametrize("change", [
    {"status": 5},  # voided in Sage after the CCO wrote it
    {"status": 2},  # set back to Open in Sage
    {"jobnum": 24002},  # another job
], ids=["void", "open", "other-job"])
def test_a_change_order_sage_no_longer_takes_lines_in_gets_a_sibling(
        sage: EmbeddedSage, change: dict[str, Any]) -> None:
    joined = cco_change_order(sage)
    column, value = next(iter(change.items()))
    with sage._write() as conn:
        conn.execute(f"UPDATE prmchg SET {column} = ? WHERE recnum = ?", (value, joined))
    keys = sage.add_prime_change_order(pcco(join=joined))
    assert keys["joined"] == "false" and keys["prmchg"] != str(joined)
    assert header(sage, joined)["appamt"] == D("350.00")  # the CCO's change order as it was


def test_a_second_pcco_of_the_change_event_gets_its_own_change_order(
        sage: EmbeddedSage) -> None:
    joined = cco_change_order(sage)
    sage.add_prime_change_order(pcco(join=joined))
    keys = sage.add_prime_change_order(pcco(
        join=joined, reference="PCCO78", description="PCCO78 More",
        lines=[{"description": "PCCO78 More", "cost_code": "3300.000", "cost_type": 4,
                "amount": "10.00"}]))
    assert (keys["joined"], keys["chgnum"]) == ("false", "2")


def test_a_missing_join_target_is_not_an_error(sage: EmbeddedSage) -> None:
    assert sage.add_prime_change_order(pcco(join=999))["joined"] == "false"


@pytest.mark.parametrize(("fields", "code", "words"), [
    ({"job": 99999}, INVALID_REFERENCE, "job 99999 does not exist"),
    ({"lines": [{"description": "PCCO77 X", "cost_code": "9999.000", "cost_type": 4,
                 "amount": "1"}]}, INVALID_REFERENCE, "cost code 9999.000"),
    ({"lines": [{"description": "PCCO77 X", "cost_code": "3300.000", "cost_type": 9,
                 "amount": "1"}]}, INVALID_REFERENCE, "cost type 9"),
    ({"description": "Added footing"}, INVALID_DATA, "does not start with its Procore"),
    ({"lines": [{"description": "Footing", "cost_code": "3300.000", "cost_type": 4,
                 "amount": "1"}]}, INVALID_DATA, "pmcgln.dscrpt"),
    ({"lines": [{"description": "PCCO77 X", "cost_code": "3300.000", "cost_type": 4,
                 "amount": "10000000000.00"}]}, INVALID_DATA, "line 1 amount"),
    ({"lines": [{"description": "PCCO77 X", "cost_code": "3300.000", "cost_type": 4,
                 "amount": "1.005"}]}, INVALID_DATA, "line 1 amount"),
    ({"lines": [{"description": "PCCO77 X", "cost_code": "3300.000", "cost_type": 4,
                 "amount": "6000000000.00"}] * 2}, INVALID_DATA, "change order total"),
], ids=["job", "cost-code", "cost-type", "reference", "line-reference", "amount",
        "cents", "total"])
def test_refusals_carry_sages_codes_and_write_nothing(
        sage: EmbeddedSage, fields: dict[str, Any], code: int, words: str) -> None:
    with sage._write() as conn:  # cost type 9 is not in this company's list
        conn.execute("DELETE FROM csttyp WHERE recnum = 9")
    before = (sage.count("prmchg"), sage.count("pmcgln"))
    with pytest.raises(SageError) as caught:
        sage.add_prime_change_order(pcco(**fields))
    assert caught.value.code == code and words in caught.value.message, caught.value.message
    assert (sage.count("prmchg"), sage.count("pmcgln")) == before


def test_find_answers_what_the_add_wrote_joined_or_not(sage: EmbeddedSage) -> None:
    assert sage.find_prime_change_order(pcco()) is None
    joined = cco_change_order(sage)
    keys = sage.add_prime_change_order(pcco(join=joined))
    assert sage.find_prime_change_order(pcco(join=joined)) == keys
    assert sage.find_prime_change_order(pcco(reference="PCCO7")) is None  # whole words
    own = sage.add_prime_change_order(pcco(
        reference="PCCO80", description="PCCO80 Own",
        lines=[{"description": "PCCO80 Own", "cost_code": "3300.000", "cost_type": 4,
                "amount": "1.00"}]))
    assert sage.find_prime_change_order(pcco(reference="PCCO80")) == own


# ---- through the agent --------------------------------------------------------------------
class CommitThenTimeout(EmbeddedSage):
    timeouts = 1

    def add_prime_change_order(self, payload: PrimeChangeOrderPayload) -> dict[str, str]:
        keys = super().add_prime_change_order(payload)
        if self.timeouts:
            self.timeouts -= 1
            raise SageError(UNAVAILABLE, "The company database did not answer in time",
                            retryable=True)
        return keys


def test_the_agent_writes_a_pcco_and_reports_sages_refusal(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    queues.send(command())
    queues.send(command({**PCCO, "job": 99999}, command_id="cmd-pcco-2"))
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    by_id = {r.command_id: r for r in results}
    assert by_id["cmd-pcco-1"].ok
    assert by_id["cmd-pcco-1"].sage_keys == {"prmchg": "1", "chgnum": "1", "joined": "false",
                                            "lines": "1-2"}
    refused = by_id["cmd-pcco-2"]
    assert not refused.ok and refused.error is not None
    assert refused.error.code == INVALID_REFERENCE


def test_a_pcco_committed_before_a_timeout_is_found_on_the_retry(
        make_agent: Any, tmp_path: Path) -> None:
    sage = company(CommitThenTimeout(tmp_path / "sage.sqlite3"))
    joined = cco_change_order(sage)
    result = make_agent(sage, sleeps=[]).handle(command({**PCCO, "join": joined}))
    assert result.ok and result.attempts == 2
    assert result.sage_keys == {"prmchg": str(joined), "chgnum": "1", "joined": "true",
                                "lines": "1-2"}
    assert sage.count("pmcgln") == 2 and sage.count("prmchg") == 1


class _Crash(BaseException):
    """Stands in for os._exit: unwinds the test instead of killing pytest."""


def test_a_pcco_written_before_a_crash_is_reconciled_not_written_again(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    queues.send(command())
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    written = [sage.rows(table) for table in ("prmchg", "pmcgln")]

    restarted = make_agent(sage)
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1
    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [
        (True, {"prmchg": "1", "chgnum": "1", "joined": "false", "lines": "1-2"})]
    assert [sage.rows(table) for table in ("prmchg", "pmcgln")] == written
