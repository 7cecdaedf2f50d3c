"""Ranked suggestions for linking existing Sage vendors to Procore companies (pure).

Vendors can start in either system, so most companies already exist on both sides
under slightly different spellings ("Acme Drywall Co., Inc." vs "ACME DRYWALL LLC").
Linking them, rather than exporting a second copy, avoids duplicate vendors in Sage.
These are suggestions for a person to confirm; nothing here links anything.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

# Trailing words that say what kind of entity a company is, not which company it is.
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("l", "l", "c"), ("inc",), ("incorporated",), ("llc",), ("ltd",), ("limited",), ("co",),
    ("company",), ("corp",), ("corporation",), ("lp",), ("llp",), ("pllc",), ("pc",),
)
_SUFFIX_LABEL = {
    "l l c": "LLC", "inc": "Inc", "incorporated": "Incorporated", "llc": "LLC", "ltd": "Ltd",
    "limited": "Limited", "co": "Co", "company": "Company", "corp": "Corp",
    "corporation": "Corporation", "lp": "LP", "llp": "LLP", "pllc": "PLLC", "pc": "PC",
}
# Dropped without leaving a gap: "O'Brien" -> "obrien", "L.L.C." -> "llc".
_JOINERS = frozenset("'\u2019\u2018.")

IDENTICAL_NAME = 0.95  # the same normalized name
SAME_TAX_ID = 0.9  # a strong signal on its own, whatever the names say
SHORT_NAME_IDENTICAL = 0.85  # a short/abbreviated name equals a name on the other side
NAME_SCALE = 0.85  # fuzzy name similarity is scaled below SAME_TAX_ID
SHORT_SCALE = 0.75  # fuzzy matches involving short names count for less
CONFLICT_FACTOR = 0.5  # different tax ids on both sides: never above 0.5


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    out: list[str] = []
    for char in text:
        if char in "&+":
            out.append(" and ")
        elif char in _JOINERS:
            continue
        elif char.isalnum():
            out.append(char)
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def _fold(text: str) -> str:
    """Case, accents, punctuation and '&' folded away; repeated until nothing changes."""
    for _ in range(8):
        folded = _fold_once(text)
        if folded == text:
            break
        text = folded
    return text


def _trailing_suffix(tokens: list[str]) -> tuple[str, ...] | None:
    for suffix in LEGAL_SUFFIXES:
        if len(tokens) > len(suffix) and tuple(tokens[-len(suffix):]) == suffix:
            return suffix
    return None


@dataclass(frozen=True)
class _Name:
    raw: str
    core: str  # normalize_name(raw)
    tokens: tuple[str, ...]
    suffixes: tuple[str, ...]  # the legal suffixes dropped, in the order they were written
    the: bool  # a leading "The" was dropped
    amp: bool  # written with "&" or "+"
    surface: str  # the core as written (case and punctuation kept), to tell what differs


def _parse(name: Any) -> _Name:
    raw = str(name or "").strip()
    tokens = _fold(raw).split()
    the = False
    while len(tokens) > 1 and tokens[0] == "the":
        tokens, the = tokens[1:], True
    suffixes: list[str] = []
    while (suffix := _trailing_suffix(tokens)) is not None:
        tokens = tokens[:-len(suffix)]
        suffixes.insert(0, " ".join(suffix))
        if len(tokens) > 1 and tokens[-1] == "and":  # "Smith & Co" -> "smith"
            tokens = tokens[:-1]
    return _Name(raw=raw, core=" ".join(tokens), tokens=tuple(tokens),
                 suffixes=tuple(suffixes), the=the, amp=any(c in "&+" for c in raw),
                 surface=_surface(raw, len(tokens)))


def _surface(raw: str, keep: int) -> str:
    """The words of ``raw`` that make up its core, as written, for spotting case/punctuation."""
    words = raw.replace("&", " and ").replace("+", " and ").split()
    words = [w for w in words if _fold(w)]  # punctuation-only words
    while len(words) > 1 and _fold(words[0]) == "the":
        words = words[1:]
    folded_len = 0
    kept: list[str] = []
    for word in words:
        if folded_len >= keep:
            break
        kept.append(word)
        folded_len += len(_fold(word).split())
    if kept and len(kept) < len(words):
        kept[-1] = kept[-1].rstrip(",.;:")  # "Acme Drywall, Inc." -> "Acme Drywall"
    return " ".join(kept)


def normalize_name(name: str | None) -> str:
    """A company name reduced to what identifies it: no case, punctuation, 'The' or 'Inc'."""
    return _parse(name).core


def normalize_tax_id(value: Any) -> str | None:
    """Digits only ("12-3456789" -> "123456789"); None when there are none."""
    digits = re.sub(r"[^0-9]", "", str(value if value is not None else ""))
    return digits or None


@dataclass(frozen=True)
class Suggestion:
    """A Sage vendor that looks like a Procore company, with the reasons a person can check."""

    sage_vendor: int
    procore_id: int
    score: float  # 0..1
    reasons: tuple[str, ...]


def _suffix_label(suffixes: tuple[str, ...]) -> str:
    return " ".join(_SUFFIX_LABEL[s] for s in suffixes) if suffixes else "none"


def _identical_reasons(a: _Name, b: _Name) -> list[str]:
    """Why two names with the same core were written differently, in plain words."""
    if a.raw == b.raw:
        return ["same name"]
    reasons: list[str] = []
    if a.surface != b.surface:
        reasons.append("same name apart from case and punctuation")
    if a.amp != b.amp:
        reasons.append("'&' vs 'and'")
    if a.suffixes != b.suffixes:
        reasons.append(f"legal suffix differs ({_suffix_label(a.suffixes)}/"
                       f"{_suffix_label(b.suffixes)})")
    if a.the != b.the:
        reasons.append("'The' at the start differs")
    return reasons or ["same name apart from case and punctuation"]


def similarity(a: str, b: str) -> float:
    """How alike two normalized names are (0..1): the better of character and word overlap."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    ta, tb = a.split(), b.split()
    chars = SequenceMatcher(None, a, b, autojunk=False).ratio()
    ordered = SequenceMatcher(None, " ".join(sorted(ta)), " ".join(sorted(tb)),
                              autojunk=False).ratio()
    sa, sb = set(ta), set(tb)
    words = len(sa & sb) / len(sa | sb)
    return max(chars, ordered, words)


def _percent(value: float) -> int:
    return min(99, int(value * 100))  # "100%" is kept for names that are the same


def _name_score(sage: Mapping[str, Any], procore: Mapping[str, Any]) -> tuple[float,
                                                                              list[str]]:
    """The best name evidence between the two rows, and how to say it."""
    sage_name, sage_short = _parse(sage.get("name")), _parse(sage.get("short_name"))
    pro_name, pro_short = _parse(procore.get("name")), _parse(procore.get("abbreviated_name"))
    pairs = (
        (sage_name, pro_name, "name", "name"),
        (sage_short, pro_name, "Sage short name", "Procore name"),
        (sage_name, pro_short, "Sage name", "Procore abbreviated name"),
        (sage_short, pro_short, "Sage short name", "Procore abbreviated name"),
    )
    best, best_reasons = 0.0, []
    for left, right, left_label, right_label in pairs:
        if not left.core or not right.core:
            continue
        main = left_label == "name"
        if left.core == right.core:
            score = IDENTICAL_NAME if main else SHORT_NAME_IDENTICAL
            reasons = (_identical_reasons(left, right) if main
                       else [f"{left_label} '{left.raw}' matches the {right_label}"])
        else:
            ratio = similarity(left.core, right.core)
            score = (NAME_SCALE if main else SHORT_SCALE) * ratio
            reasons = ([f"similar name ({_percent(ratio)}%)"] if main else
                       [f"{left_label} '{left.raw}' is similar to the {right_label} "
                        f"({_percent(ratio)}%)"])
        if score > best:
            best, best_reasons = score, reasons
    return best, best_reasons


def _score(sage: Mapping[str, Any], procore: Mapping[str, Any]) -> tuple[float, list[str]]:
    names, reasons = _name_score(sage, procore)
    # Keyed fingerprints (tax_ids.fingerprint): None for no tax id or a placeholder.
    sage_tax = sage.get("tax_id_fingerprint") or None
    procore_tax = procore.get("tax_id_fingerprint") or None
    if sage_tax and procore_tax and sage_tax == procore_tax:
        if names >= IDENTICAL_NAME:
            return 1.0, ["same tax id", *reasons]
        if names < NAME_SCALE * 0.5:  # the names say little; the tax id carries it
            reasons = [f"names differ ('{sage.get('name') or ''}' vs "
                       f"'{procore.get('name') or ''}')"]
        return SAME_TAX_ID + 0.1 * names, ["same tax id", *reasons]
    if sage_tax and procore_tax:
        return CONFLICT_FACTOR * names, [*reasons, "different tax ids"]
    return names, reasons


def _id(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def suggest(sage_vendors: list[Mapping[str, Any]], procore_companies: list[Mapping[str, Any]],
            *, linked_sage: Collection[int] = frozenset(),
            linked_procore: Collection[int] = frozenset(), limit_per_vendor: int = 3,
            threshold: float = 0.6) -> list[Suggestion]:
    """Likely links for each unlinked Sage vendor, best first (score >= threshold).

    Sage rows: {"vendor", "name", "short_name", "tax_id_fingerprint"}; Procore rows: {"id",
    "name", "abbreviated_name", "tax_id_fingerprint"} (tax_ids.protect: the clear tax id is
    never compared, nor kept). Sides already linked are left out. Ranked by score, then
    Sage name, then Procore name; ids break ties.
    """
    companies = [(pid, row) for row in procore_companies
                 if (pid := _id(row.get("id"))) is not None and pid not in linked_procore]
    ranked: list[tuple[tuple[Any, ...], Suggestion]] = []
    for vendor in sage_vendors:
        number = _id(vendor.get("vendor"))
        if number is None or number in linked_sage or limit_per_vendor <= 0:
            continue
        candidates: list[tuple[tuple[Any, ...], Suggestion]] = []
        for pid, company in companies:
            score, reasons = _score(vendor, company)
            score = round(min(1.0, max(0.0, score)), 4)
            if score < threshold or score <= 0:
                continue
            key = (-score, _sort_name(vendor.get("name")), number,
                   _sort_name(company.get("name")), pid)
            candidates.append((key, Suggestion(number, pid, score, tuple(reasons))))
        candidates.sort(key=lambda pair: pair[0])
        ranked.extend(candidates[:limit_per_vendor])
    ranked.sort(key=lambda pair: pair[0])
    return [suggestion for _, suggestion in ranked]


def _sort_name(name: Any) -> str:
    return str(name or "").casefold()
