"""Procore's origin_id / origin_code of a record: what ties it to its Sage record.

Set when an export lands (results) or existing records are linked, cleared when a record
is unlinked. One writer per kind, found through ``ORIGIN_WRITERS``; every write matches
the record by id and is safe to send twice (projects: ``PATCH /projects/{id}``, whose
schema has origin_code; vendors and commitments: their ``/sync`` endpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.domain.commitments import KIND_FOR_SUBTYPE

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient, SyncOutcome

#: (procore, subtype, project_id, procore_id, origin_id, origin_code) -> outcome
OriginWriter = Callable[["ProcoreClient", "str | None", "int | None", int, "str | None",
                         "str | None"], "SyncOutcome"]


def _project(procore: ProcoreClient, subtype: str | None, project_id: int | None,
             procore_id: int, origin_id: str | None, origin_code: str | None) -> SyncOutcome:
    # PATCH /projects/{id}, not /projects/sync: the sync schema has no origin_code, so the
    # Sage job number would never reach Procore's project that way.
    from chalicelib.adapters.procore import SyncOutcome

    record = procore.update_project(procore_id, {"origin_id": origin_id,
                                                 "origin_code": origin_code})
    return SyncOutcome([record], [])


def _vendor(procore: ProcoreClient, subtype: str | None, project_id: int | None,
            procore_id: int, origin_id: str | None, origin_code: str | None) -> SyncOutcome:
    return procore.sync_vendors([{"id": procore_id, "origin_id": origin_id,
                                  "origin_code": origin_code}])


def _commitment(procore: ProcoreClient, subtype: str | None, project_id: int | None,
                procore_id: int, origin_id: str | None,
                origin_code: str | None) -> SyncOutcome:
    kind = KIND_FOR_SUBTYPE.get(subtype or "", "work_order_contract")
    return procore.sync_commitment_origin(kind, project_id,  # type: ignore[arg-type]
                                          procore_id, origin_id, origin_code)


ORIGIN_WRITERS: dict[str, OriginWriter] = {
    "project": _project, "vendor": _vendor, "commitment": _commitment,
}


def entity_errors(outcome: SyncOutcome) -> str | None:
    """Procore's per-record refusals of a sync, as one line (None when it took it)."""
    if not outcome.errors:
        return None
    return "; ".join(_entity_error(e) for e in outcome.errors)


def _entity_error(entity: dict[str, Any]) -> str:
    errors = entity.get("errors") or {}
    return ", ".join(f"{field} {' '.join(map(str, msgs))}" for field, msgs in errors.items())
