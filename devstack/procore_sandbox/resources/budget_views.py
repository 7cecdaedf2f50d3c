"""Budget views: ``GET /rest/v1.0/budget_views`` and a view's detail rows.

One company-level view, "Procore Standard Budget" (``role`` and ``description`` null: the
reference documents no values), made on first use; every project has it. Its ``links``
point at this sandbox (``summary_rows`` is not modelled: 404).

Detail rows (``openapi/RestV10BudgetViewsBudgetViewIdDetailRowsGet.json``): one row per
live budget line item, with every key of the schema (``budget_forecast`` null: forecasting
is not modelled) plus the standard view's ``approved_budget_changes`` and
``revised_budget`` columns. Amounts are text (``"1200.0"``). ``project_id`` is required
(400); paged like every v1.0 list. Filters: ``budget_line_item_id[]``, ``cost_code_id[]``,
``category_id[]``, ``root_cost_code_id[]`` (integers, repeated or comma separated),
``biller[]`` (``id=1,type=SubJob``), ``budget_row_type`` (``budgeted`` default,
``unbudgeted``: WBS codes with committed or direct costs and no budget line item, ``id`` null,
``all``), ``sort`` (one of the documented keys; default biller type, biller, root cost
code, cost code, category).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.budgets import (
    _ZERO,
    STANDARD_BUDGET_VIEW,
    UNBUDGETED_REASON,
    BudgetSums,
    _text,
)
from devstack.procore_sandbox.resources.commitments import CURRENCY
from devstack.procore_sandbox.resources.common import ResourceBase
from devstack.procore_sandbox.state import Route, SandboxError, _now_iso, _Request, _Response

BUDGET_ROW_TYPES = ("budgeted", "unbudgeted", "all")
#: detail row ``sort`` values (openapi/RestV10BudgetViewsBudgetViewIdDetailRowsGet.json)
DETAIL_ROW_SORTS = ("biller_type", "project", "biller", "category_id", "cost_code",
                    "root_cost_code")
_DEFAULT_SORT = ("biller_type", "biller", "root_cost_code", "cost_code", "category_id")


class BudgetViewsMixin(ResourceBase):
    """The standard budget view and its detail rows."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/budget_views", "_h_list_budget_views", True),
        ("GET", r"/rest/v1\.0/budget_views/(?P<id>\d+)/detail_rows",
         "_h_list_budget_detail_rows", True),
    )

    def _standard_budget_view(self) -> dict[str, Any]:
        """The company's one view ("Procore Standard Budget"), made on first use."""
        if not self.state.budget_views:
            vid, now = self.state.next_id(), _now_iso()
            self.state.budget_views[vid] = {
                "id": vid, "name": STANDARD_BUDGET_VIEW, "description": None,
                "created_at": now, "created_by": None, "updated_at": now, "role": None,
            }
        return next(iter(self.state.budget_views.values()))


    def _budget_row(
        self, project_id: int, code: dict[str, Any], type_id: int,
        line: Mapping[str, Any] | None, sums: BudgetSums,
    ) -> dict[str, Any]:
        """A detail row (openapi/RestV10BudgetViewsBudgetViewIdDetailRowsGet.json) plus the
        standard view's ``approved_budget_changes``, ``revised_budget``, ``committed_costs``
        and ``direct_costs`` columns (the last two also on unbudgeted rows)."""
        project = self.state.projects[project_id]
        sub_job = self.state.sub_jobs.get(code["sub_job_id"]) if code["sub_job_id"] else None
        root = self._root_code(project_id, code)
        cost_type = self.state.line_item_types.get(type_id) or {}
        amounts = None if line is None else self._budget_line_amounts(line, sums)
        wbs = self._wbs_code_id(code, type_id)
        zero = "0.0"
        return {
            "id": None if line is None else line["id"],
            "deletable": line is not None and self._budget_line_deletable(line, sums),
            "company_id": self.company_id,
            "company": self.company_name,
            "project_id": project_id,
            "project": project["name"],
            "wbs_code_id": wbs,
            "biller_id": code["biller_id"],
            "biller": (sub_job or project)["name"],
            "biller_type": code["biller_type"],
            "root_cost_code_id": root["id"],
            "root_cost_code": root["name"],
            "cost_code_id": code["id"],
            "cost_code": code["name"],
            "cost_code_origin_id": code["origin_id"],
            "category_id": type_id,
            "category": cost_type.get("name"),
            "original_budget_amount": zero if line is None
            else _text(line["original_budget_amount"]),
            "budget_modifications": zero if amounts is None
            else _text(amounts["modifications"]),
            "budget_forecast": None,
            "currency_configuration": dict(CURRENCY),
            "unbudgeted_reason": UNBUDGETED_REASON if line is None else None,
            "approved_budget_changes": zero if amounts is None
            else _text(amounts["approved_budget_changes"]),
            "revised_budget": zero if amounts is None else _text(amounts["revised_budget"]),
            "committed_costs": _text(sums.committed.get(wbs, _ZERO)) if amounts is None
            else _text(amounts["committed_costs"]),
            "direct_costs": _text(sums.direct.get(wbs, _ZERO)) if amounts is None
            else _text(amounts["direct_costs"]),
        }


    # --- views and detail rows ---------------------------------------------------------------
    def _h_list_budget_views(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req) if req.param("project_id") else None
        view = self._standard_budget_view()
        query = "" if pid is None else f"?project_id={pid}"

        def answer(record: dict[str, Any]) -> dict[str, Any]:
            base = f"{self.url}/rest/v1.0/budget_views/{record['id']}"
            return {**record, "links": {"detail_rows": f"{base}/detail_rows{query}",
                                        "summary_rows": f"{base}/summary_rows{query}"}}

        return self._page(req, {view["id"]: view}, view=answer, origin_filter=False)

    @staticmethod
    def _int_filter(req: _Request, name: str) -> set[int] | None:
        values = req.query.get(f"{name}[]", []) + req.query.get(name, [])
        if not values:
            return None
        try:
            return {int(v) for part in values for v in part.split(",") if v}
        except ValueError:
            raise SandboxError(400, f"{name}[] must be integers") from None

    def _h_list_budget_detail_rows(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        if int(m["id"]) != self._standard_budget_view()["id"]:
            raise SandboxError(404, f"Budget view {m['id']} not found")
        row_type = req.param("budget_row_type") or "budgeted"
        if row_type not in BUDGET_ROW_TYPES:
            raise SandboxError(400, f"budget_row_type must be one of {', '.join(BUDGET_ROW_TYPES)}")
        sort = req.param("sort")
        if sort not in (None, "", *DETAIL_ROW_SORTS):
            raise SandboxError(400, f"sort must be one of {', '.join(DETAIL_ROW_SORTS)}")
        sums, codes = self._budget_sums(pid), self.state.cost_codes.get(pid, {})
        rows: list[dict[str, Any]] = []
        budgeted: set[int] = set()
        for line in self._live_budget_lines(pid).values():
            budgeted.add(line["wbs_code_id"])
            if row_type != "unbudgeted":
                code = codes[line["cost_code_id"]]
                rows.append(self._budget_row(pid, code, line["line_item_type_id"], line, sums))
        if row_type != "budgeted":  # WBS codes with costs (commitment or direct cost lines)
            for wbs in sorted(set(sums.committed) | set(sums.direct)):  # and no budget line
                pair = self._wbs_pair(pid, wbs)
                if wbs not in budgeted and pair is not None and pair[1] is not None:
                    rows.append(self._budget_row(pid, codes[pair[0]], pair[1], None, sums))
        filters = {key: self._int_filter(req, key) for key in
                   ("budget_line_item_id", "cost_code_id", "category_id", "root_cost_code_id")}
        billers = req.query.get("biller[]")
        rows = [row for row in rows if all(
            wanted is None or row["id" if key == "budget_line_item_id" else key] in wanted
            for key, wanted in filters.items())]
        if billers:
            wanted_billers = {tuple(sorted(part.split(","))) for part in billers}
            rows = [r for r in rows if tuple(sorted(
                (f"id={r['biller_id']}", f"type={r['biller_type']}"))) in wanted_billers]
        rows.sort(key=lambda r: tuple(str(r[k] or "") if k != "category_id" else (r[k] or 0)
                                      for k in _DEFAULT_SORT))
        if sort:
            rows.sort(key=lambda r: (str(r[sort] or "") if sort != "category_id"
                                     else r[sort] or 0))
        return self._page(req, dict(enumerate(rows)), origin_filter=False)
