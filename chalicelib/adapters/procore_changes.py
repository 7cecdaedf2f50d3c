"""Procore's commitment change order and subcontractor invoice calls, mixed into
``ProcoreClient``.

The CCO itself is v1.0 (``/projects/{p}/commitment_change_orders``); its line items are
v2.0 only (``/companies/{c}/projects/{p}/commitment_change_orders/{id}/line_items``,
``{"data": [...]}``, string ids). Origin ids are written on the CCO's change order package
(the same record and id) by PATCH.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.errors import FatalUpstreamError

V2_PAGE = 100  # v2.0 pages hold at most 100


class ProcoreChangeOrders:
    company_id: int

    if TYPE_CHECKING:  # provided by ProcoreClient

        def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

        def patch(self, path: str, json_body: Any,
                  params: Mapping[str, Any] | None = None) -> Any: ...

    def get_commitment_change_order(self, project_id: int, cco_id: int) -> dict[str, Any]:
        # view=extended: the change events it was made from (a PCCO of one meets it in Sage)
        answer = self.get(f"/rest/v1.0/projects/{int(project_id)}/commitment_change_orders/"
                          f"{int(cco_id)}", {"view": "extended"})
        if not isinstance(answer, dict):
            raise FatalUpstreamError("Procore did not answer a change order record")
        return answer

    def list_commitment_change_order_lines(self, project_id: int,
                                           cco_id: int) -> list[dict[str, Any]]:
        path = (f"/rest/v2.0/companies/{self.company_id}/projects/{int(project_id)}/"
                f"commitment_change_orders/{int(cco_id)}/line_items")
        lines: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.get(path, {"page": page, "per_page": V2_PAGE})
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise FatalUpstreamError("Procore's change order line items are not a list")
            lines += data
            if len(data) < V2_PAGE:
                return lines
            page += 1

    def update_commitment_change_order(self, project_id: int, cco_id: int,
                                       fields: Mapping[str, Any]) -> dict[str, Any]:
        """Origin fields of a CCO. The CCO's own PATCH takes none (its request schema has
        no origin keys); a CCO is its change order package, whose PATCH does."""
        answer = self.patch(f"/rest/v1.0/change_order_packages/{int(cco_id)}",
                            {"project_id": int(project_id), "change_order": dict(fields)})
        return answer if isinstance(answer, dict) else {}

    # ---- subcontractor invoices (requisitions) ------------------------------------------
    def get_requisition(self, project_id: int, requisition_id: int) -> dict[str, Any]:
        answer = self.get(f"/rest/v1.0/requisitions/{int(requisition_id)}",
                          {"project_id": int(project_id)})
        if not isinstance(answer, dict):
            raise FatalUpstreamError("Procore did not answer a subcontractor invoice")
        return answer

    def list_requisition_items(self, project_id: int,
                               requisition_id: int) -> list[dict[str, Any]]:
        answer = self.get(f"/rest/v1.0/requisitions/{int(requisition_id)}/contract_items",
                          {"project_id": int(project_id)})
        if not isinstance(answer, list):
            raise FatalUpstreamError("Procore's invoice contract items are not a list")
        return answer

    def update_requisition(self, project_id: int, commitment_id: int, requisition_id: int,
                           fields: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH an invoice; Procore's schema wants its commitment in the body too."""
        answer = self.patch(f"/rest/v1.0/requisitions/{int(requisition_id)}",
                            {"project_id": int(project_id),
                             "commitment_id": int(commitment_id),
                             "requisition": dict(fields)}, {"project_id": int(project_id)})
        return answer if isinstance(answer, dict) else {}
