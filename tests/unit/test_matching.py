"""Suggested links between Sage vendors and Procore companies: names, tax ids, ranking."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.matching import (
    Suggestion,
    normalize_name,
    normalize_tax_id,
    similarity,
    suggest,
)
from chalicelib.domain.tax_ids import protect

KEY = "unit-test-tax-id-key"


def sage(vendor: int, name: str, short_name: str | None = None,
         tax_id: str | None = None) -> dict[str, Any]:
    """A Sage row as the list cache keeps it (the tax id protected)."""
    return {"vendor": vendor, "name": name, "short_name": short_name,
            **protect(tax_id, KEY)}


def procore(pid: int, name: str, abbreviated_name: str | None = None,
            tax_id: str | None = None) -> dict[str, Any]:
    """A Procore company as the setup service hands it to matching (the tax id protected)."""
    return {"id": pid, "name": name, "abbreviated_name": abbreviated_name,
            **protect(tax_id, KEY)}


def only(suggestions: list[Suggestion]) -> Suggestion:
    assert len(suggestions) == 1, suggestions
    return suggestions[0]


# ---- normalize_name ------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("Acme Drywall Co., Inc.", "acme drywall"),
    ("ACME DRYWALL", "acme drywall"),
    ("  Acme   Drywall  ", "acme drywall"),
    ("Smith & Sons", "smith and sons"),
    ("Smith + Sons", "smith and sons"),
    ("Smith and Sons LLC", "smith and sons"),
    ("Smith & Co.", "smith"),
    ("Granite Bay L.L.C.", "granite bay"),
    ("Granite Bay L L C", "granite bay"),
    ("Granite Bay Ltd", "granite bay"),
    ("Granite Bay Limited", "granite bay"),
    ("Granite Bay Corporation", "granite bay"),
    ("Granite Bay Corp.", "granite bay"),
    ("Granite Bay Company", "granite bay"),
    ("Granite Bay, LP", "granite bay"),
    ("Granite Bay LLP", "granite bay"),
    ("Granite Bay PLLC", "granite bay"),
    ("Granite Bay P.C.", "granite bay"),
    ("Granite Bay Incorporated", "granite bay"),
    ("The Concrete Works", "concrete works"),
    ("O'Brien Electric", "obrien electric"),
    ("Smith-Jones Mechanical", "smith jones mechanical"),
    ("Café Construction", "cafe construction"),
    ("A1 Plumbing 2000 Inc", "a1 plumbing 2000"),
    ("Theater Builders", "theater builders"),  # only the word "the"
    ("Incorporated Builders Inc", "incorporated builders"),  # only trailing suffixes
    ("Company", "company"),  # never reduced to nothing
    ("The", "the"),
    ("", ""),
    ("&.,", "and"),
])
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_normalize_name_of_nothing() -> None:
    assert normalize_name(None) == ""


@settings(max_examples=400)
@given(st.text())
def test_normalize_name_is_idempotent(raw: str) -> None:
    once = normalize_name(raw)
    assert normalize_name(once) == once


@given(st.lists(st.sampled_from(["The", "Acme", "&", "and", "Co.", "Inc", "L.L.C.", "LLC",
                                 "Ltd", ",", "the", "Drywall", "+", "L", "C", "2024"]),
                max_size=8))
def test_normalize_name_is_idempotent_on_company_like_words(words: list[str]) -> None:
    once = normalize_name(" ".join(words))
    assert normalize_name(once) == once


# ---- normalize_tax_id ----------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("12-3456789", "123456789"),
    (" 123 45 6789 ", "123456789"),
    (123456789, "123456789"),
    ("", None),
    ("--", None),
    (None, None),
])
def test_normalize_tax_id(raw: Any, expected: str | None) -> None:
    assert normalize_tax_id(raw) == expected


# ---- scores and reasons --------------------------------------------------------------------
def test_same_name_apart_from_case_and_punctuation() -> None:
    found = only(suggest([sage(1, "ACME DRYWALL, INC.")], [procore(10, "Acme Drywall Inc")]))
    assert (found.sage_vendor, found.procore_id, found.score) == (1, 10, 0.95)
    assert found.reasons == ("same name apart from case and punctuation",)


def test_exactly_the_same_name() -> None:
    found = only(suggest([sage(1, "Acme Drywall")], [procore(10, "Acme Drywall")]))
    assert found.score == 0.95
    assert found.reasons == ("same name",)


def test_ampersand_vs_and() -> None:
    found = only(suggest([sage(1, "Smith & Sons")], [procore(10, "Smith and Sons")]))
    assert found.score == 0.95
    assert found.reasons == ("'&' vs 'and'",)


@pytest.mark.parametrize(("sage_name", "procore_name", "label"), [
    ("Granite Bay Inc", "Granite Bay LLC", "(Inc/LLC)"),
    ("Granite Bay Ltd", "Granite Bay", "(Ltd/none)"),
    ("Granite Bay", "Granite Bay Co.", "(none/Co)"),
    ("Granite Bay Co., Inc.", "Granite Bay L.L.C.", "(Co Inc/LLC)"),
])
def test_legal_suffix_differs(sage_name: str, procore_name: str, label: str) -> None:
    found = only(suggest([sage(1, sage_name)], [procore(10, procore_name)]))
    assert found.score == 0.95
    assert found.reasons == (f"legal suffix differs {label}",)


def test_leading_the() -> None:
    found = only(suggest([sage(1, "The Concrete Works")], [procore(10, "Concrete Works")]))
    assert found.score == 0.95
    assert found.reasons == ("'The' at the start differs",)


def test_same_name_and_same_tax_id_is_certain() -> None:
    found = only(suggest([sage(1, "Acme Drywall Inc", tax_id="12-3456789")],
                         [procore(10, "Acme Drywall LLC", tax_id="123456789")]))
    assert found.score == 1.0
    assert found.reasons[0] == "same tax id"
    assert "legal suffix differs (Inc/LLC)" in found.reasons


def test_same_tax_id_with_different_names_is_still_strong() -> None:
    found = only(suggest([sage(1, "Granite Bay Concrete", tax_id="12-3456789")],
                         [procore(10, "GBC Holdings", tax_id="123456789")]))
    assert 0.9 <= found.score < 0.95
    assert found.reasons == ("same tax id",
                             "names differ ('Granite Bay Concrete' vs 'GBC Holdings')")


def test_same_tax_id_and_similar_name_ranks_above_tax_id_alone() -> None:
    found = suggest([sage(1, "Bay Area Plumbing", tax_id="12-3456789")],
                    [procore(10, "Bay Area Plumbers", tax_id="123456789"),
                     procore(11, "Unrelated Name", tax_id="123456789")])
    assert [s.procore_id for s in found] == [10, 11]
    assert found[0].reasons[0] == "same tax id"
    assert found[0].reasons[1].startswith("similar name (")
    assert 0.9 < found[0].score < 1.0


def test_conflicting_tax_ids_are_a_strong_negative() -> None:
    vendors = [sage(1, "Acme Drywall Inc", tax_id="12-3456789")]
    companies = [procore(10, "Acme Drywall Inc", tax_id="98-7654321")]
    assert suggest(vendors, companies) == []
    found = only(suggest(vendors, companies, threshold=0.0))
    assert found.score <= 0.5
    assert found.reasons[-1] == "different tax ids"


def test_placeholder_tax_ids_are_ignored() -> None:
    found = only(suggest([sage(1, "Acme Drywall", tax_id="00-0000000")],
                         [procore(10, "Acme Drywall", tax_id="98-7654321")]))
    assert found.score == 0.95


def test_tax_id_on_one_side_only_changes_nothing() -> None:
    found = only(suggest([sage(1, "Acme Drywall", tax_id="12-3456789")],
                         [procore(10, "Acme Drywall")]))
    assert found.score == 0.95


def test_similar_names_are_scaled_below_a_tax_id_match() -> None:
    found = only(suggest([sage(1, "Bay Area Plumbing")], [procore(10, "Bay Area Plumbers")]))
    assert 0.6 <= found.score < 0.9
    percent = int(similarity("bay area plumbing", "bay area plumbers") * 100)
    assert found.reasons == (f"similar name ({percent}%)",)


def test_word_order_counts_as_similar() -> None:
    assert similarity("drywall acme", "acme drywall") == 1.0
    assert similarity("", "acme") == 0.0


def test_sage_short_name_is_compared_too() -> None:
    found = only(suggest([sage(1, "A.D.I. Holdings", short_name="Acme Drywall")],
                         [procore(10, "Acme Drywall, Inc.")]))
    assert found.score == 0.85
    assert found.reasons == ("Sage short name 'Acme Drywall' matches the Procore name",)


def test_procore_abbreviated_name_is_compared_too() -> None:
    found = only(suggest([sage(1, "ADI")], [procore(10, "Acme Drywall Inc", "ADI")]))
    assert found.score == 0.85
    assert found.reasons == ("Sage name 'ADI' matches the Procore abbreviated name",)


def test_a_full_name_match_beats_a_short_name_match() -> None:
    found = only(suggest([sage(1, "Acme Drywall", short_name="ACME")],
                         [procore(10, "Acme Drywall", "ACME")]))
    assert found.score == 0.95
    assert found.reasons == ("same name",)


def test_unrelated_names_are_not_suggested() -> None:
    assert suggest([sage(1, "Acme Drywall")], [procore(10, "Zenith Roofing")]) == []


def test_blank_names_never_match_each_other() -> None:
    assert suggest([sage(1, "")], [procore(10, "")], threshold=0.0) == []


# ---- linking, ranking, limits --------------------------------------------------------------
def test_already_linked_sides_are_left_out() -> None:
    vendors = [sage(1, "Acme Drywall"), sage(2, "Granite Bay Concrete")]
    companies = [procore(10, "Acme Drywall"), procore(20, "Granite Bay Concrete")]
    assert {(s.sage_vendor, s.procore_id) for s in suggest(vendors, companies)} == {
        (1, 10), (2, 20)}
    assert [(s.sage_vendor, s.procore_id)
            for s in suggest(vendors, companies, linked_sage={1})] == [(2, 20)]
    assert [(s.sage_vendor, s.procore_id)
            for s in suggest(vendors, companies, linked_procore={20})] == [(1, 10)]


def test_ranked_by_score_then_name() -> None:
    vendors = [sage(3, "Zenith Roofing"), sage(2, "Bay Area Plumbing"), sage(1, "Acme Drywall")]
    companies = [procore(30, "Bay Area Plumbers"), procore(20, "Zenith Roofing Inc"),
                 procore(10, "ACME Drywall")]
    found = suggest(vendors, companies)
    assert [(s.sage_vendor, s.procore_id) for s in found] == [(1, 10), (3, 20), (2, 30)]
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


def test_candidates_for_one_vendor_are_best_first_and_limited() -> None:
    vendors = [sage(1, "Bay Area Plumbing", tax_id="12-3456789")]
    companies = [procore(40, "Bay Area Plumbing Co"), procore(30, "Bay Area Plumbers"),
                 procore(20, "Bay Area Plumbing", tax_id="123456789"),
                 procore(10, "Bay Area Plumbing Services")]
    found = suggest(vendors, companies)
    assert [s.procore_id for s in found] == [20, 40, 30]
    assert [s.procore_id for s in suggest(vendors, companies, limit_per_vendor=1)] == [20]
    assert suggest(vendors, companies, limit_per_vendor=0) == []


def test_threshold() -> None:
    vendors = [sage(1, "Bay Area Plumbing")]
    companies = [procore(10, "Bay Area Plumbers")]
    score = only(suggest(vendors, companies)).score
    assert only(suggest(vendors, companies, threshold=score)).score == score
    assert suggest(vendors, companies, threshold=score + 0.0001) == []
    assert suggest([sage(1, "Acme")], [procore(10, "Apex")]) == []  # 50% alike
    assert only(suggest([sage(1, "Acme")], [procore(10, "Apex")], threshold=0.4))


def test_same_score_ties_break_by_name() -> None:
    vendors = [sage(1, "Acme Drywall")]
    companies = [procore(10, "Acme Drywall LLC"), procore(20, "Acme Drywall Inc"),
                 procore(5, "Acme Drywall Inc")]
    assert [s.procore_id for s in suggest(vendors, companies)] == [5, 20, 10]


def test_deterministic_whatever_the_input_order() -> None:
    vendors = [sage(1, "Acme Drywall"), sage(2, "Bay Area Plumbing", tax_id="12-3456789"),
               sage(3, "Smith & Sons")]
    companies = [procore(10, "ACME Drywall LLC"), procore(20, "Bay Area Plumbers"),
                 procore(30, "Smith and Sons Co"), procore(40, "BAP", tax_id="123456789")]
    first = suggest(vendors, companies)
    assert first == suggest(list(reversed(vendors)), list(reversed(companies)))
    assert first == suggest(vendors, companies)


def test_rows_without_ids_are_skipped() -> None:
    assert suggest([{"vendor": None, "name": "Acme"}], [procore(10, "Acme")]) == []
    assert suggest([sage(1, "Acme")], [{"id": None, "name": "Acme"}]) == []


# ---- properties ----------------------------------------------------------------------------
NAMES = st.sampled_from(["Acme Drywall", "ACME Drywall, Inc.", "Acme Drywall LLC",
                         "Bay Area Plumbing", "Bay Area Plumbers", "The Concrete Works",
                         "Smith & Sons", "Smith and Sons Co", "Zenith Roofing", "", "Co"])
TAX = st.sampled_from([None, "12-3456789", "123456789", "98-7654321", "00-0000000"])


@settings(max_examples=150)
@given(
    st.lists(st.tuples(st.integers(1, 8), NAMES, st.none() | NAMES, TAX), max_size=6,
             unique_by=lambda row: row[0]),
    st.lists(st.tuples(st.integers(1, 8), NAMES, st.none() | NAMES, TAX), max_size=6,
             unique_by=lambda row: row[0]),
    st.sets(st.integers(1, 8)), st.sets(st.integers(1, 8)),
    st.integers(0, 4), st.floats(0.0, 1.0),
)
def test_suggest_never_returns_a_linked_side_and_scores_stay_in_range(
        sage_rows: list[tuple[int, str, str | None, str | None]],
        procore_rows: list[tuple[int, str, str | None, str | None]],
        linked_sage: set[int], linked_procore: set[int], limit: int,
        threshold: float) -> None:
    vendors = [sage(n, name, short, tax) for n, name, short, tax in sage_rows]
    companies = [procore(n, name, short, tax) for n, name, short, tax in procore_rows]
    found = suggest(vendors, companies, linked_sage=linked_sage, linked_procore=linked_procore,
                    limit_per_vendor=limit, threshold=threshold)
    for suggestion in found:
        assert suggestion.sage_vendor not in linked_sage
        assert suggestion.procore_id not in linked_procore
        assert 0.0 <= suggestion.score <= 1.0
        assert suggestion.score >= threshold
        assert suggestion.reasons
    per_vendor: dict[int, int] = {}
    for suggestion in found:
        per_vendor[suggestion.sage_vendor] = per_vendor.get(suggestion.sage_vendor, 0) + 1
    assert all(count <= limit for count in per_vendor.values())
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert found == suggest(vendors, companies, linked_sage=linked_sage,
                            linked_procore=linked_procore, limit_per_vendor=limit,
                            threshold=threshold)
