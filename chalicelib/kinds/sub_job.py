"""The sub job kind: item ``sub_job-{Procore id}``.

A Procore sub job becomes a phase of its project's Sage job (jobphs), numbered by its
code (``domain.sub_job_export``: the rule and the readiness reasons). The Sage key, the
link and the origin id written back to the sub job are ``{job}-{phase}``, as for a phase
imported from Sage, so budgets and job costs find the phase the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from chalicelib.domain import sub_job_export
from chalicelib.domain.models import Item
from chalicelib.domain.observations import not_modifiable
from chalicelib.domain.sage_mapping import MappingError, first_error, packed_command
from chalicelib.kinds import ExportContext
from chalicelib.relay_protocol import Command, CommandType, PhasePayload
from chalicelib.services.origins import entity_errors

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient


class SubJobKind:
    name = "sub_job"
    link_kind = "sub_job"
    after_sync = staticmethod(not_modifiable("sub job"))

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        snap = item.snapshot
        if ctx.project_link is None:
            raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
        phase = sub_job_export.phase_number(str(snap.get("code") or ""))
        if phase is None:
            raise MappingError(f"sub job code '{snap.get('code')}' is not a Sage phase number")
        try:
            payload = PhasePayload(job=int(ctx.project_link.sage_key), phase=phase,
                                   name=snap.get("name") or "")
        except ValidationError as exc:
            raise first_error(exc) from exc
        return packed_command(item.command_id or "", item, CommandType.ADD_PHASE, version,
                              payload, issued_at)

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        key = sub_job_export.sage_key(int(keys["jobphs"]), int(keys["phsnum"]))
        return key, key

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        origin_id, _ = self.sage_identity(item, keys)
        return _sync(procore, item, origin_id)

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        return _sync(procore, item, None)


def _sync(procore: ProcoreClient, item: Item, origin_id: str | None) -> str | None:
    """PATCH /rest/v1.0/sub_jobs/sync matched by id; Procore's refusal, or None."""
    outcome = procore.sync_sub_jobs(int(item.project_id or 0),
                                    [{"id": item.procore_id, "origin_id": origin_id}])
    return entity_errors(outcome)


KIND = SubJobKind()
