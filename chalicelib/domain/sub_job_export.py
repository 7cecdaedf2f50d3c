"""A Procore sub job exported as a phase of its project's Sage job (pure).

Sage keeps phases per job (``jobphs``: key job ``recnum`` + phase number ``phsnum``,
name ``phsnme``). A sub job's phase number is its Procore ``code``, exactly: the decimal
digits of a whole number from 1 to 9,999,999,999 with no leading zero, sign, space or
anything else ("2" -> phase 2; "02", "2A", " 2" and "0" are refused, never repaired), so
two sub jobs can never land on one phase by a guess (docs/decisions.md, "Cost codes and
sub jobs exported through acceptance"). It is the inverse of an imported phase, whose sub
job gets ``code = str(phase)``. The Sage key, link and origin id are ``{job}-{phase}``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

NAME_MAX = 50  # jobphs.phsnme: nvarchar(50) in the embedded Sage (real_schema.json: no width)
PHASE_MAX = 9_999_999_999  # jobphs.phsnum bigint, MBXML ObjectID range (as job numbers)
_PHASE = re.compile(r"[1-9]\d{0,9}", re.ASCII)


@dataclass(frozen=True)
class ReadinessContext:
    job: int | None  # the Sage job the project is linked to (None: not linked)
    # Phases of that job in Sage's pulled list: phase -> name; None before a pull.
    sage_phases: Mapping[int, str] | None = None
    # Phases of the job already linked to a Procore sub job: phase -> sub job id.
    linked_phases: Mapping[int, int] | None = None
    linked_to: str | None = None  # this sub job's own link ("24001-2"), if any


def _text(value: Any) -> str:
    return str(value or "").strip()


def build_snapshot(record: Mapping[str, Any], *, project_id: int) -> dict[str, Any]:
    code = str(record.get("code") or "")
    name = _text(record.get("name"))
    return {
        "id": record.get("id"),
        "project_id": project_id,
        "code": code,
        "name": name,
        "origin_id": _text(record.get("origin_id")) or None,
        "title": name,
        "number": code,
    }


def phase_number(code: str) -> int | None:
    """The phase a sub job code names by the rule above, or None."""
    if not _PHASE.fullmatch(code):
        return None
    number = int(code)
    return number if number <= PHASE_MAX else None


def sage_key(job: int, phase: int) -> str:
    return f"{job}-{phase}"


def readiness_reasons(snapshot: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    """Every reason the sub job cannot become a Sage phase yet."""
    name = snapshot.get("name") or ""
    shown = f"Sub job '{name or snapshot.get('id')}'"
    reasons: list[str] = []
    if ctx.linked_to is not None:
        reasons.append(f"{shown} is already linked to Sage phase {ctx.linked_to}; it is in "
                       "Sage, use it.")
    elif snapshot.get("origin_id"):
        reasons.append(f"{shown} came from Sage (origin id {snapshot['origin_id']}); it is "
                       "in Sage already, use it.")
    if ctx.job is None:
        reasons.append(f"{shown}: its project {snapshot.get('project_id')} is not linked to "
                       "a Sage job; a sub job becomes a phase of the project's job, so add "
                       "or link the project first.")
    code = str(snapshot.get("code") or "")
    phase = phase_number(code)
    if phase is None:
        reasons.append(f"{shown} code '{code}' is not a Sage phase number: the code must be "
                       f"the phase number itself, digits only without a leading zero, 1 to "
                       f"{PHASE_MAX} (e.g. '4' for phase 4). Change the code in Procore.")
    elif ctx.job is not None and ctx.linked_to is None and not snapshot.get("origin_id"):
        reasons += _phase_taken(shown, ctx.job, phase, snapshot, ctx)
    if not name:
        reasons.append(f"Sub job {snapshot.get('id')} has no name; Sage phases need one (up "
                       f"to {NAME_MAX} characters).")
    elif len(name) > NAME_MAX:
        reasons.append(f"{shown} name is {len(name)} characters; Sage phase names take at "
                       f"most {NAME_MAX} (jobphs.phsnme). Shorten it in Procore.")
    return reasons


def _phase_taken(shown: str, job: int, phase: int, snapshot: Mapping[str, Any],
                 ctx: ReadinessContext) -> list[str]:
    if ctx.sage_phases is not None and phase in ctx.sage_phases:
        return [f"{shown}: Sage job {job} already has phase {phase} "
                f"'{ctx.sage_phases[phase]}'; import or link that phase instead, or give "
                "the sub job an unused phase number as its code."]
    other = (ctx.linked_phases or {}).get(phase)
    if other is not None and other != snapshot.get("id"):
        return [f"{shown}: phase {phase} of Sage job {job} is already sub job {other} in "
                "Procore; give this sub job an unused phase number as its code."]
    return []


def sage_phases(rows: Collection[Mapping[str, Any]], job: int) -> dict[int, str] | None:
    """The job's phases from the pulled list; None when the list holds none for the job
    (not pulled yet, or a job without phases: Sage checks at export either way)."""
    found = {int(r["phase"]): str(r.get("name") or "") for r in rows
             if int(r.get("job") or 0) == job and r.get("phase") is not None}
    return found or None
