"""Procore cost code -> Sage 100 Contractor cost code, exactly or not at all (pure).

Sage keeps a cost code as decimal(15,3) (`cstcde.recnum`, text "3300.000"): a positive
number with at most 12 digits before the point and 3 after, not starting with 0. Procore
codes are free text, so a mapping that guesses ("3-300", "033-00" and "03300" all giving
3300.000) posts money to whatever Sage code the guess lands on. A code maps only through

1. its ``origin_id``: set when the code came from Sage (the project's cost codes refreshed
   from Sage), it holds the Sage code itself; or
2. the company's one cost code rule (advanced setting ``cost_code_rule``), each an exact
   format whose every accepted code has exactly one Sage code (``RULES``).

Anything else is refused with the code named, never mapped (docs/decisions.md).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

NONE = "none"
DIVISION_DASH_CODE = "division-dash-code"
SAGE_DECIMAL = "sage-decimal"
DEFAULT_RULE = NONE  # strict: only codes that came from Sage map

# Rule name -> what it accepts, as the messages and README show it.
RULES: dict[str, str] = {
    NONE: "no rule: only cost codes that came from Sage (with an origin id)",
    DIVISION_DASH_CODE: "NN-NNN, two digits, a dash, three digits: 03-300 -> 3300.000",
    SAGE_DECIMAL: "the Sage code itself: 3300 or 3300.125 -> 3300.000, 3300.125",
}

# decimal(15,3) > 0 as Sage takes it: no leading 0, no sign, no spaces, no exponent;
# ASCII digits only (\d alone also takes other scripts' digits, which int() reads).
_SAGE_CODE = re.compile(r"[1-9]\d{0,11}(\.\d{1,3})?", re.ASCII)
# Fixed width, so no two accepted codes give the same number ("03-300" only, not "3-300").
_DIVISION_DASH_CODE = re.compile(r"(\d{2})-(\d{3})", re.ASCII)

_FIX = ("link it to its Sage cost code (refresh the project's cost codes from Sage and pick "
        "that code) or fix it in Procore")


class CostCodeError(ValueError):
    """A Procore cost code has no exact Sage cost code; the message names it."""


class CostCodeRuleError(ValueError):
    """The company's cost code rule is not one of ``RULES`` (a configuration error)."""


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise CostCodeRuleError(
            f"the cost code rule '{rule}' (advanced setting cost_code_rule) is not one of "
            f"{', '.join(RULES)}; an ERP admin must correct it")
    return rule


def sage_code_text(value: Any) -> str | None:
    """``value`` as Sage's cost code text with three decimals, or None if it is not one."""
    text = str(value) if value is not None else ""
    if not _SAGE_CODE.fullmatch(text):
        return None
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(3, '0')}"


def active_codes(rows: list[Mapping[str, Any]]) -> set[str] | None:
    """Sage's active cost codes ("3300.000") from the pulled list; None before the first
    pull (then the origin id or the rule alone decides, and Sage refuses an unknown code
    at export)."""
    if not rows:
        return None
    return {code for r in rows if not r.get("inactive")
            and (code := sage_code_text(r.get("code")))}


def to_sage(cost_code: Mapping[str, Any] | None, rule: str, *,
            known_codes: Collection[str] | None = None) -> str:
    """The Sage cost code of a Procore cost code; CostCodeError naming it if there is none.

    ``known_codes``: Sage's cost codes ("3300.000"), when known; a mapped code that is not
    among them is refused too. None: not known, only the origin id or the rule decides.
    """
    check_rule(rule)
    if not cost_code:
        raise CostCodeError("a line has no cost code")
    shown = _shown(cost_code)
    sage = _mapped(cost_code, shown, rule)
    if known_codes is not None and sage not in known_codes:
        raise CostCodeError(f"Sage has no active cost code {sage} (cost code '{shown}'); add "
                            "it in Sage and refresh the cost code list, or pick another "
                            "cost code")
    return sage


def cost_code_problem(cost_code: Mapping[str, Any] | None, rule: str, *,
                      known_codes: Collection[str] | None = None) -> str | None:
    """Why ``cost_code`` cannot go to Sage (``to_sage``'s message), or None if it can."""
    try:
        to_sage(cost_code, rule, known_codes=known_codes)
    except (CostCodeError, CostCodeRuleError) as exc:
        return str(exc)
    return None


def _mapped(cost_code: Mapping[str, Any], shown: str, rule: str) -> str:
    origin = cost_code.get("origin_id")
    if origin not in (None, ""):
        # The origin wins over any rule, and a bad one is not repaired by the rule: it
        # means the code came from somewhere other than Sage.
        sage = sage_code_text(origin)
        if sage is None:
            raise CostCodeError(
                f"cost code '{shown}' has origin id '{origin}', which is not a Sage cost "
                "code (a number above 0 with at most 12 digits before the point and 3 "
                f"after); {_FIX}")
        return sage
    full_code = str(cost_code.get("full_code") or "")
    if rule == NONE:
        raise CostCodeError(
            f"cost code '{shown}' did not come from Sage (it has no origin id) and no cost "
            f"code rule is set; {_FIX}")
    sage = _by_rule(full_code, rule)
    if sage is None:
        raise CostCodeError(f"cost code '{shown}' does not follow the cost code rule "
                            f"'{rule}' ({RULES[rule]}); {_FIX}")
    return sage


def _by_rule(full_code: str, rule: str) -> str | None:
    if rule == DIVISION_DASH_CODE:
        match = _DIVISION_DASH_CODE.fullmatch(full_code)
        # int() drops the division's leading zero; "00-000" gives 0, which Sage refuses.
        return sage_code_text(int(match[1] + match[2])) if match else None
    return sage_code_text(full_code)  # SAGE_DECIMAL


def _shown(cost_code: Mapping[str, Any]) -> str:
    """The code as the project manager sees it in Procore."""
    return str(cost_code.get("full_code") or cost_code.get("name") or cost_code.get("id"))
