"""Procore's prime contracts and their schedule of values (v1.0), for the import from Sage.

Shapes: procore-spec ``RestV10PrimeContract{Post,sGet}.json`` and
``RestV10PrimeContractsPrimeContractIdLineItems{Get,SyncPatch}.json``. Functions over
``ProcoreClient``'s verbs: a create POSTs (never resent after a 5xx or a lost answer: the
caller finds the record by its origin id first), the lines go through the sync endpoint
(matched on origin id, so sending them twice leaves the same lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.errors import FatalUpstreamError

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient, SyncOutcome


def list_prime_contracts(procore: ProcoreClient, project_id: int) -> list[dict[str, Any]]:
    """The project's live prime contracts."""
    return list(procore.get_all("/rest/v1.0/prime_contracts", {"project_id": project_id}))


def create_prime_contract(procore: ProcoreClient, project_id: int,
                          fields: Mapping[str, Any]) -> dict[str, Any]:
    answer = procore.post("/rest/v1.0/prime_contract",
                          {"project_id": project_id, "prime_contract": dict(fields)})
    if not isinstance(answer, dict) or answer.get("id") is None:
        raise FatalUpstreamError("Procore POST /prime_contract did not answer a record")
    return answer


def list_prime_contract_lines(procore: ProcoreClient, project_id: int,
                              contract_id: int) -> list[dict[str, Any]]:
    return list(procore.get_all(f"/rest/v1.0/prime_contracts/{contract_id}/line_items",
                                {"project_id": project_id}))


def sync_prime_contract_lines(procore: ProcoreClient, project_id: int, contract_id: int,
                              updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
    """Create or update line items matched on ``origin_id`` (Procore's sync rules)."""
    return procore.sync(f"/rest/v1.0/prime_contracts/{contract_id}/line_items/sync",
                        updates, scope={}, params={"project_id": project_id})
