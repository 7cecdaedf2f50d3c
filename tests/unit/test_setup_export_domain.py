"""Readiness of cost codes and sub jobs sent to be added to Sage (pure rules), and the
commands their kinds build."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import cost_code_export as cc
from chalicelib.domain import sub_job_export as sj
from chalicelib.domain.models import Item, Link
from chalicelib.domain.sage_mapping import MappingError
from chalicelib.domain.state_machine import Status
from chalicelib.kinds import ExportContext, kind_module

RULE = "division-dash-code"
DIVISION = {"id": 10, "code": "03", "full_code": "03", "name": "Concrete", "parent": None}


def code(full_code: str = "03-350", name: str = "Shotcrete", **extra: Any) -> dict[str, Any]:
    return {"id": 11, "code": full_code.rsplit("-", 1)[-1], "full_code": full_code,
            "name": name, "parent": None, "biller_type": "Project", "biller_id": 5, **extra}


def code_snapshot(record: dict[str, Any] | None = None, rule: str = RULE,
                  codes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    record = record or code()
    return cc.build_snapshot(record, codes or [record], project_id=5, rule=rule)


def code_reasons(record: dict[str, Any] | None = None, *, rule: str = RULE,
                 codes: list[dict[str, Any]] | None = None, **ctx: Any) -> list[str]:
    return cc.readiness_reasons(code_snapshot(record, rule, codes),
                                cc.ReadinessContext(rule=rule, **ctx))


# ---- cost codes -------------------------------------------------------------------------
def test_a_code_sage_lacks_is_ready_with_its_sage_code() -> None:
    snap = code_snapshot()
    assert (snap["sage_code"], snap["sage_division"], snap["title"], snap["number"]) == (
        "3350.000", None, "Shotcrete", "03-350")
    assert code_reasons(sage_codes={"3300.000": "Concrete"}) == []


def test_the_division_is_the_top_parent_as_a_number() -> None:
    child = code(parent={"id": 10})
    snap = code_snapshot(child, codes=[child, DIVISION])
    assert snap["division"]["full_code"] == "03" and snap["sage_division"] == 3
    assert code_reasons(child, codes=[child, DIVISION]) == []
    named = {**DIVISION, "full_code": "CONC"}
    [reason] = code_reasons(child, codes=[child, named])
    assert "division 'CONC'" in reason and "not a Sage division number" in reason


@pytest.mark.parametrize(("rule", "full_code", "words"), [
    ("division-dash-code", "3-350", "does not follow the cost code rule"),
    ("none", "03-350", "no cost code rule is set"),
    ("sage-decimal", "03-350", "does not follow the cost code rule 'sage-decimal'"),
])
def test_a_code_without_an_exact_sage_code_names_the_code_and_the_rule(
        rule: str, full_code: str, words: str) -> None:
    [reason] = code_reasons(code(full_code), rule=rule)
    assert f"Cost code '{full_code}' has no Sage cost code" in reason and words in reason


def test_a_code_sage_has_says_it_is_linked_by_the_rule() -> None:
    [reason] = code_reasons(sage_codes={"3350.000": "Shotcrete"})
    assert reason.startswith("Sage already has cost code 3350.000 'Shotcrete'")
    assert "linked to it by the cost code rule 'division-dash-code'" in reason
    assert "use it" in reason


def test_a_code_already_exported_from_another_procore_code_is_refused() -> None:
    [reason] = code_reasons(exported_as={"3350.000": 99})
    assert "already added from Procore cost code 99" in reason
    assert code_reasons(exported_as={"3350.000": 11}) == []  # its own export


def test_a_linked_or_sage_made_code_is_in_sage_already() -> None:
    assert "already linked to Sage cost code 3350.000" in code_reasons(
        linked_to="3350.000")[0]
    [reason] = code_reasons(code(origin_id="3350.000"))
    assert "came from Sage (origin id 3350.000)" in reason


def test_names_are_never_cut() -> None:
    assert code_reasons(code(name="x" * 50)) == []
    [reason] = code_reasons(code(name="x" * 51))
    assert "is 51 characters" in reason and "at most 50 (cstcde.cdenme)" in reason
    assert "has no name" in code_reasons(code(name=" "))[0]


def test_sage_names_include_inactive_codes_and_none_before_a_pull() -> None:
    assert cc.sage_names([]) is None
    assert cc.sage_names([{"code": "3300.000", "name": "A", "inactive": True}]) == {
        "3300.000": "A"}


# ---- sub jobs ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "phase"), [
    ("1", 1), ("42", 42), ("9999999999", 9_999_999_999), ("0", None), ("01", None),
    ("4A", None), (" 4", None), ("4.0", None), ("-4", None), ("", None),
    ("10000000000", None), ("٤", None)])
def test_the_phase_is_the_code_exactly(text: str, phase: int | None) -> None:
    assert sj.phase_number(text) == phase


def sub_reasons(code_text: str = "7", name: str = "Parking Deck",
                **ctx: Any) -> list[str]:
    snap = sj.build_snapshot({"id": 21, "name": name, "code": code_text}, project_id=5)
    return sj.readiness_reasons(snap, sj.ReadinessContext(**{"job": 24001, **ctx}))


def test_a_sub_job_of_a_linked_project_with_an_unused_phase_is_ready() -> None:
    assert sub_reasons(sage_phases={1: "Site"}) == []


def test_sub_job_reasons_name_the_record() -> None:
    assert "project 5 is not linked to a Sage job" in sub_reasons(job=None)[0]
    assert "already has phase 1 'Site'" in sub_reasons("1", sage_phases={1: "Site"})[0]
    assert "already sub job 30 in Procore" in sub_reasons(linked_phases={7: 30})[0]
    assert sub_reasons(linked_phases={7: 21}) == []  # itself
    assert "code '07' is not a Sage phase number" in sub_reasons("07")[0]
    [reason] = sub_reasons(name="y" * 51)
    assert "51 characters" in reason and "jobphs.phsnme" in reason
    assert "already linked to Sage phase 24001-7" in sub_reasons(linked_to="24001-7")[0]


def test_sage_phases_of_one_job() -> None:
    rows = [{"job": 24001, "phase": 1, "name": "Site"}, {"job": 24002, "phase": 1, "name": "D"}]
    assert sj.sage_phases(rows, 24001) == {1: "Site"}
    assert sj.sage_phases(rows, 24010) is None


# ---- the kinds' commands ----------------------------------------------------------------
def item(kind: str, snapshot: dict[str, Any]) -> Item:
    return Item(company_id=1, kind=kind, procore_id=11, project_id=5,
                status=Status.ACCEPTED, snapshot=snapshot, command_id="c1")


def test_cost_code_command() -> None:
    child = code(parent={"id": 10})
    module = kind_module("cost_code")
    assert module is not None
    command = module.build_command(
        item("cost_code", code_snapshot(child, codes=[child, DIVISION])), version=3,
        issued_at="2026-01-01T00:00:00Z", ctx=ExportContext(project_link=None, cost_types={}))
    assert (command.type.value, command.payload) == (
        "add_cost_code", {"cost_code": "3350.000", "name": "Shotcrete", "division": 3})
    assert module.sage_identity(item("cost_code", {}), {"cstcde": "3350.000"}) == (
        "3350.000", "3350.000")
    with pytest.raises(MappingError):
        module.build_command(item("cost_code", code_snapshot(code("3-350"))), version=3,
                             issued_at="x", ctx=ExportContext(project_link=None, cost_types={}))


def test_sub_job_command_needs_the_project_link() -> None:
    module = kind_module("sub_job")
    assert module is not None
    snap = sj.build_snapshot({"id": 11, "name": "Parking Deck", "code": "7"}, project_id=5)
    link = Link(company_id=1, kind="project", procore_id=5, sage_key="24001")
    command = module.build_command(item("sub_job", snap), version=2, issued_at="x",
                                   ctx=ExportContext(project_link=link, cost_types={}))
    assert command.payload == {"job": 24001, "phase": 7, "name": "Parking Deck"}
    assert module.sage_identity(item("sub_job", snap), {"jobphs": "24001", "phsnum": "7"}) \
        == ("24001-7", "24001-7")
    with pytest.raises(MappingError, match="no longer linked"):
        module.build_command(item("sub_job", snap), version=2, issued_at="x",
                             ctx=ExportContext(project_link=None, cost_types={}))
