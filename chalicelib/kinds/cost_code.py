"""The cost code kind: item ``cost_code-{Procore id}``.

A Procore cost code Sage lacks becomes a row of Sage's company-wide cost code list
(cstcde: the decimal code, its name and its division where given). The readiness rules
are in ``domain.cost_code_export``; the origin id written back to the Procore cost code
is the Sage code itself ("3350.000"), as for codes that came from Sage, so every later
export maps it by its origin id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from chalicelib.domain.models import Item
from chalicelib.domain.observations import not_modifiable
from chalicelib.domain.sage_mapping import MappingError, first_error, packed_command
from chalicelib.kinds import ExportContext
from chalicelib.relay_protocol import Command, CommandType, CostCodePayload
from chalicelib.services.origins import entity_errors

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient


class CostCodeKind:
    name = "cost_code"
    link_kind = "cost_code"
    after_sync = staticmethod(not_modifiable("cost code"))

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        snap = item.snapshot
        if not snap.get("sage_code"):
            raise MappingError(f"cost code '{snap.get('full_code')}' has no Sage cost code")
        try:
            payload = CostCodePayload(cost_code=snap["sage_code"], name=snap.get("name") or "",
                                      division=snap.get("sage_division"))
        except ValidationError as exc:
            raise first_error(exc) from exc
        return packed_command(item.command_id or "", item, CommandType.ADD_COST_CODE,
                              version, payload, issued_at)

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        code = str(keys.get("cstcde") or item.snapshot.get("sage_code") or "")
        return code, code

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        origin_id, _ = self.sage_identity(item, keys)
        return _sync(procore, item, origin_id)

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        return _sync(procore, item, None)


def _sync(procore: ProcoreClient, item: Item, origin_id: str | None) -> str | None:
    """PATCH /rest/v1.0/cost_codes/sync matched by id (the code's biller: the project, or
    the sub job it belongs to); Procore's per-record refusal, or None."""
    sub_job = item.snapshot.get("sub_job_id")
    outcome = procore.sync_cost_codes(int(item.project_id or 0),
                                      [{"id": item.procore_id, "origin_id": origin_id}],
                                      sub_job_id=int(sub_job) if sub_job else None)
    return entity_errors(outcome)


KIND = CostCodeKind()
