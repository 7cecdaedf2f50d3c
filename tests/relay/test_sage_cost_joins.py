"""A subcontract CCO joining the Sage change order a PCCO of the same Procore change event
wrote (relay/sage/embedded/cost_joins.py), the mirror of prime lines joining a CCO's
(tests/relay/test_sage_prime_changes.py): when Sage takes the lines there, when it does not
(the CCO gets its own change order), and reconciliation after a lost answer (never written
twice)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.relay_protocol import SubcontractChangeOrderPayload
from relay.sage.embedded import EmbeddedSage
from tests.relay import test_agent
from tests.relay.test_agent_change_orders import SUB_CCO, CommitThenTimeout, company, sub_cco
from tests.relay.test_sage_prime_changes import header, pcco

make_agent = test_agent.make_agent
queues = test_agent.queues
D = Decimal


def sub(**fields: Any) -> SubcontractChangeOrderPayload:
    return SubcontractChangeOrderPayload.model_validate({**SUB_CCO, **fields})


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    return company(EmbeddedSage(tmp_path / "sage.sqlite3"))


def pcco_change_order(sage: EmbeddedSage) -> int:
    """The PCCO's change order of its own (12,000.00 for the owner, no cost lines)."""
    keys = sage.add_prime_change_order(pcco())
    assert keys["joined"] == "false"
    return int(keys["prmchg"])


def cost_lines(sage: EmbeddedSage) -> list[tuple[Any, ...]]:
    return [(r["recnum"], r["linnum"], r["dscrpt"], r["bdgprc"], r["vndctc"], r["ctclin"],
             r["chgsts"]) for r in sage.rows("sbcgln")]


def test_a_cco_joins_the_change_order_of_the_pcco_of_its_change_event(
        sage: EmbeddedSage) -> None:
    joined = pcco_change_order(sage)
    before = header(sage, joined)
    keys = sage.add_subcontract_change_order(sub(join=joined))
    assert keys == {"prmchg": str(joined), "chgnum": before["chgnum"], "subcon": "1",
                    "joined": "true"}
    assert sage.count("prmchg") == 1
    after = header(sage, joined)
    assert (after["reqamt"], after["appamt"], after["cstamt"]) == (
        D("12000.00"), D("12000.00"), D("350.00"))  # the owner's amounts stay
    assert {k: after[k] for k in ("chgnum", "dscrpt", "status", "chgdte", "aprdte")} == \
        {k: before[k] for k in ("chgnum", "dscrpt", "status", "chgdte", "aprdte")}
    assert cost_lines(sage) == [
        (joined, 1, "CCO 12 #001 More rebar", D("250.00"), 1, 1, 1),
        (joined, 2, "CCO 12 #001 Embeds", D("100.00"), 1, 3, 1)]
    assert sage.count("pmcgln") == 2  # the PCCO's prime lines, untouched
    # The subcontract follows as for any approved change order.
    [subcon] = sage.rows("subcon")
    assert (subcon["chgttl"], subcon["ctcttl"], subcon["balttl"]) == (
        D("350.00"), D("1850.00"), D("1850.00"))
    lines = {r["linnum"]: r for r in sage.rows("sbcnln")}
    assert (lines[1]["change"], lines[1]["cntrct"]) == (D("250.00"), D("1250.00"))
    assert (lines[3]["amount"], lines[3]["cntrct"], lines[3]["dscrpt"]) == (
        D("0.00"), D("100.00"), "Embeds")


@pytest.mark.parametrize("change", [
    {"status": 5},  # voided in Sage after the PCCO wrote it
    {"status": 2},  # set back to Open in Sage
    {"jobnum": 24002},  # another job
    {"phsnum": 3},  # moved to a phase in Sage
], ids=["void", "open", "other-job", "phase"])
def test_a_change_order_sage_no_longer_takes_cost_lines_in_gets_a_sibling(
        sage: EmbeddedSage, change: dict[str, Any]) -> None:
    joined = pcco_change_order(sage)
    column, value = next(iter(change.items()))
    with sage._write() as conn:
        conn.execute(f"UPDATE prmchg SET {column} = ? WHERE recnum = ?", (value, joined))
    keys = sage.add_subcontract_change_order(sub(join=joined))
    assert keys["joined"] == "false" and keys["prmchg"] != str(joined)
    assert header(sage, joined)["cstamt"] == D("0.00")  # the PCCO's change order as it was
    assert [line[0] for line in cost_lines(sage)] == [int(keys["prmchg"])] * 2
    assert cost_lines(sage)[0][2] == "More rebar"  # its own: the header has the reference


def test_one_cco_per_change_order_and_an_unapproved_or_missing_one_is_not_joined(
        sage: EmbeddedSage) -> None:
    joined = pcco_change_order(sage)
    assert sage.add_subcontract_change_order(sub(join=joined))["joined"] == "true"
    second = sage.add_subcontract_change_order(sub(
        join=joined, reference="CCO 13 #001", description="CCO 13 #001 Pump"))
    assert (second["joined"], second["chgnum"]) == ("false", "2")
    other = pcco_change_order_of(sage, "PCCO78")
    pending = sage.add_subcontract_change_order(sub(
        join=other, status=2, reference="CCO 14 #001", description="CCO 14 #001 Later"))
    assert pending["joined"] == "false" and pending["prmchg"] != str(other)
    assert sage.add_subcontract_change_order(sub(
        join=999, reference="CCO 15 #001", description="CCO 15 #001 X"))["joined"] == "false"


def pcco_change_order_of(sage: EmbeddedSage, reference: str) -> int:
    keys = sage.add_prime_change_order(pcco(
        reference=reference, description=f"{reference} More",
        lines=[{"description": f"{reference} More", "cost_code": "3300.000", "cost_type": 4,
                "amount": "10.00"}]))
    return int(keys["prmchg"])


def test_a_pcco_does_not_join_a_change_order_a_cco_joined(sage: EmbeddedSage) -> None:
    joined = pcco_change_order(sage)
    sage.add_subcontract_change_order(sub(join=joined))
    keys = sage.add_prime_change_order(pcco(
        join=joined, reference="PCCO78", description="PCCO78 More",
        lines=[{"description": "PCCO78 More", "cost_code": "3300.000", "cost_type": 4,
                "amount": "10.00"}]))
    assert keys["joined"] == "false"  # it already has prime lines


def test_find_answers_what_the_add_wrote_joined_or_not(sage: EmbeddedSage) -> None:
    joined = pcco_change_order(sage)
    assert sage.find_subcontract_change_order(sub(join=joined)) is None
    keys = sage.add_subcontract_change_order(sub(join=joined))
    assert sage.find_subcontract_change_order(sub(join=joined)) == keys
    assert sage.find_subcontract_change_order(sub()) == keys  # the join is not the key
    assert sage.find_subcontract_change_order(sub(reference="CCO 12 #00")) is None
    own = sage.add_subcontract_change_order(sub(reference="CCO 13 #001",
                                                description="CCO 13 #001 Own"))
    assert own["joined"] == "false"
    assert sage.find_subcontract_change_order(sub(reference="CCO 13 #001")) == own


def test_a_joined_cco_committed_before_a_timeout_is_found_on_the_retry(
        make_agent: Any, tmp_path: Path) -> None:
    sage = company(CommitThenTimeout(tmp_path / "sage.sqlite3"))
    joined = pcco_change_order(sage)
    result = make_agent(sage, sleeps=[]).handle(sub_cco({**SUB_CCO, "join": joined}))
    assert result.ok and result.attempts == 2
    assert result.sage_keys == {"prmchg": str(joined), "chgnum": "1", "subcon": "1",
                                "joined": "true"}
    assert sage.count("prmchg") == 1 and sage.count("sbcgln") == 2
    [subcon] = sage.rows("subcon")
    assert subcon["chgttl"] == D("350.00")  # the subcontract followed once
