"""Procore's prime contract change order (PCCO) calls, over a ``ProcoreClient``.

The PCCO is v1.0 (``/projects/{p}/prime_change_orders/{id}``, ``view=extended`` for its
change events); its line items are v2.0 only (``{"data": [...]}``, string ids). Like a
CCO, a PCCO is its change order package (the same id): its own PATCH schema has no origin
keys, the package PATCH does, so origin ids are written there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.procore_changes import V2_PAGE
from chalicelib.errors import FatalUpstreamError

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient


def get_prime_change_order(procore: ProcoreClient, project_id: int,
                           pcco_id: int) -> dict[str, Any]:
    answer = procore.get(f"/rest/v1.0/projects/{int(project_id)}/prime_change_orders/"
                         f"{int(pcco_id)}", {"view": "extended"})
    if not isinstance(answer, dict):
        raise FatalUpstreamError("Procore did not answer a prime change order record")
    return answer


def list_prime_change_order_lines(procore: ProcoreClient, project_id: int,
                                  pcco_id: int) -> list[dict[str, Any]]:
    path = (f"/rest/v2.0/companies/{procore.company_id}/projects/{int(project_id)}/"
            f"prime_change_orders/{int(pcco_id)}/line_items")
    lines: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = procore.get(path, {"page": page, "per_page": V2_PAGE})
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise FatalUpstreamError("Procore's prime change order line items are not a list")
        lines += data
        if len(data) < V2_PAGE:
            return lines
        page += 1


def update_prime_change_order_origin(procore: ProcoreClient, project_id: int, pcco_id: int,
                                     fields: Mapping[str, Any]) -> dict[str, Any]:
    """origin_id / origin_code of a PCCO, on its change order package."""
    answer = procore.patch(f"/rest/v1.0/change_order_packages/{int(pcco_id)}",
                           {"project_id": int(project_id), "change_order": dict(fields)})
    return answer if isinstance(answer, dict) else {}


def commitment_change_orders_of_events(procore: ProcoreClient, project_id: int,
                                       event_ids: set[int]) -> list[int]:
    """Ids of the project's CCOs made from any of ``event_ids`` (the CCO list's extended
    view names each CCO's change events), ascending."""
    found: set[int] = set()
    page = 1
    while True:
        answer = procore.get(f"/rest/v1.0/projects/{int(project_id)}/commitment_change_orders",
                             {"view": "extended", "page": page, "per_page": V2_PAGE})
        if not isinstance(answer, list):
            raise FatalUpstreamError("Procore's commitment change orders are not a list")
        found |= {int(c["id"]) for c in answer if isinstance(c, dict) and event_ids & {
            int(e.get("id") or 0) for e in c.get("change_events") or []}}
        if len(answer) < V2_PAGE:
            return sorted(found)
        page += 1
