"""Reports on job costs: the ERP job costs report, the unsyncable direct costs report and
the reconciliation report (Procore vs Sage, every difference with both values).

Sources, each read once per report:
  * Procore: the project's standard budget view detail rows (per cost code x cost type:
    revised budget, committed costs, direct costs), read live;
  * Sage: the job cost rows the job cost sync keeps (``store_job_costs``), Sage's budget
    lines of the job (the ``budgets`` pull) and its commitments' totals, invoiced and
    paid (the ``commitments`` pull; ``commitment_reconcile``), and the owner side: jobs'
    contracts, approved prime changes and receivable invoices (the ``receivables`` pull;
    ``owner_reconcile``), each as of its last read (answered beside).
Cells are keyed by Sage's cost code and cost type through the same exact mapping the
syncs use (``sage_codes``): a Procore row whose cost code or type has no Sage counterpart
is listed under its Procore name, never merged into another cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import job_costs
from chalicelib.domain.budgets import money
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.errors import NotFound
from chalicelib.services import sage_codes
from chalicelib.services.budget_intake import sage_budget_lines
from chalicelib.services.commitment_reconcile import commitment_measures
from chalicelib.services.owner_reconcile import owner_measures

ZERO = Decimal("0.00")
JOB_COST_COLUMNS = ("project_id", "job", "cost_code", "cost_type", "budget", "committed",
                    "sage_job_cost", "sage_direct_costs", "procore_direct_costs",
                    "unsynced")
UNSYNCABLE_COLUMNS = ("project_id", "record", "date", "journal", "transaction", "vendor",
                      "commitment", "cost_code", "cost_type", "amount", "status",
                      "reason_code", "reason")
RECONCILIATION_COLUMNS = ("project_id", "job", "scope", "key", "measure", "procore", "sage",
                          "difference")
# Posted rows that are no direct cost (the rest are, synced yet or waiting for a mapping).
NOT_DIRECT = frozenset({job_costs.COMMITMENT_COST, job_costs.JOURNAL_NOT_SYNCED})
Cell = tuple[str, str]  # (cost code, cost type) as Sage names them (or Procore's names)


class JobCostReports:
    def __init__(self, store: ItemStore, procore_for: Callable[[int], ProcoreClient],
                 cost_types: Mapping[str, int]) -> None:
        self.store = store
        self.procore_for = procore_for
        self.cost_types = cost_types

    # ---- ERP job costs ---------------------------------------------------------------------
    def job_costs(self, user: User, project_id: int | None) -> list[dict[str, Any]]:
        """Per cost code and cost type: budget, committed, Sage job cost (every posted
        row), the part of it that is direct cost, Procore's direct costs, and what is
        not yet in Procore. Company level (ERP admin): every project with job costs."""
        require(user, Permission.VIEW_JOB_COSTS_REPORT_COMPANY)
        if project_id is not None:  # "to view at the project level, users ALSO require"
            require(user, Permission.VIEW_JOB_COSTS_REPORT_PROJECT)
            projects = [self._state(user.company_id, project_id)]
        else:
            projects = [s for s in self.store.list_job_cost_syncs(user.company_id)
                        if s.get("job")]
        rows: list[dict[str, Any]] = []
        for state in projects:
            rows += self._project_job_costs(user.company_id, state)
        return rows

    def _project_job_costs(self, company_id: int, state: Mapping[str, Any]
                           ) -> list[dict[str, Any]]:
        project_id = int(state["project_id"])
        procore = self._procore_cells(company_id, project_id)
        sage, direct = _sage_cells(self.store.iter_job_cost_rows(company_id, project_id))
        rows = []
        for cell in sorted(set(procore) | set(sage)):
            held = procore.get(cell, {})
            procore_direct = held.get("direct_costs", ZERO)
            rows.append({"project_id": project_id, "job": state.get("job"),
                         "cost_code": cell[0], "cost_type": cell[1],
                         "budget": str(held.get("budget", ZERO)),
                         "committed": str(held.get("committed", ZERO)),
                         "sage_job_cost": str(sage.get(cell, ZERO)),
                         "sage_direct_costs": str(direct.get(cell, ZERO)),
                         "procore_direct_costs": str(procore_direct),
                         "unsynced": str(direct.get(cell, ZERO) - procore_direct)})
        return rows

    # ---- unsyncable direct costs --------------------------------------------------------
    def unsyncable(self, user: User, project_id: int) -> list[dict[str, Any]]:
        require(user, Permission.VIEW_UNSYNCABLE_DIRECT_COSTS)
        self._state(user.company_id, project_id)
        rows = [r for r in self.store.iter_job_cost_rows(user.company_id, project_id)
                if r.get("unsyncable")]
        return [{"project_id": project_id, "record": r["record"], "date": r.get("date"),
                 "journal": r.get("journal"), "transaction": r.get("transaction"),
                 "vendor": r.get("vendor"), "commitment": r.get("commitment"),
                 "cost_code": r["cost_code"], "cost_type": r["cost_type"],
                 "amount": r["amount"], "status": "void" if int(r["status"]) ==
                 job_costs.VOID else "posted", "reason_code": r["unsyncable"],
                 "reason": r.get("reason")}
                for r in sorted(rows, key=lambda r: int(r["record"]))]

    # ---- reconciliation ----------------------------------------------------------------------
    def reconciliation(self, user: User, project_id: int) -> dict[str, Any]:
        """Every measure compared, per job (cost code x cost type), per commitment and on
        the owner side (prime contract, owner invoices: owner_reconcile); the rows are the
        differences, each with both values."""
        require(user, Permission.VIEW_RECONCILIATION_REPORT)
        state = self._state(user.company_id, project_id)
        job = state.get("job")
        procore = self._procore_cells(user.company_id, project_id)
        _, direct = _sage_cells(self.store.iter_job_cost_rows(user.company_id, project_id))
        budgets = _sage_budget_cells(sage_budget_lines(self.store, user.company_id, job))
        compared: list[dict[str, Any]] = []
        for cell in sorted(set(procore) | set(direct) | set(budgets)):
            held = procore.get(cell, {})
            key = f"{cell[0]} / {cell[1]}"
            if budgets or held.get("budget"):
                compared.append(_measure(project_id, job, "cost code", key, "budget",
                                         held.get("budget", ZERO), budgets.get(cell, ZERO)))
            compared.append(_measure(project_id, job, "cost code", key, "direct costs",
                                     held.get("direct_costs", ZERO), direct.get(cell, ZERO)))
        compared += self._commitments(user.company_id, project_id, job)
        compared += owner_measures(self.store, self.procore_for(user.company_id),
                                   user.company_id, project_id, job, _measure)
        differences = [row for row in compared if row["difference"] != "0.00"]
        pulls = {name: (self.store.get_pull_state(user.company_id, name) or {})
                 .get("completed_at") for name in ("budgets", "commitments", "receivables")}
        return {"project_id": project_id, "job": job, "compared": len(compared),
                "differences": len(differences),
                "sage_as_of": {**pulls, "job_costs": (state.get("last_run") or {})
                               .get("finished_at")},
                "rows": differences}

    def _commitments(self, company_id: int, project_id: int,
                     job: str | None) -> list[dict[str, Any]]:
        return commitment_measures(self.store, self.procore_for(company_id), company_id,
                                   project_id, job, _measure)

    # ---- parts ---------------------------------------------------------------------------
    def _state(self, company_id: int, project_id: int) -> dict[str, Any]:
        state = self.store.get_job_cost_sync(company_id, project_id)
        if not state.get("job"):
            link = self.store.get_link(company_id, "project", project_id)
            if link is None:
                raise NotFound(f"project {project_id} is not linked to a Sage job")
            state["job"] = link.sage_key
        return state

    def _procore_cells(self, company_id: int, project_id: int) -> dict[Cell, dict[str, Decimal]]:
        procore = self.procore_for(company_id)
        code_names = {cid: code for (code, phase), cid in
                      sage_codes.cost_code_ids(self.store, procore, company_id,
                                               project_id).items() if phase is None}
        type_names = {tid: str(number) for number, tid in
                      sage_codes.cost_type_ids(self.store, procore, company_id,
                                               self.cost_types).items()}
        cells: dict[Cell, dict[str, Decimal]] = {}
        for row in procore.list_budget_rows(project_id, row_type="all"):
            cell = (code_names.get(row.get("cost_code_id"), f"Procore {row.get('cost_code')}"),
                    type_names.get(row.get("category_id"), f"Procore {row.get('category')}"))
            held = cells.setdefault(cell, {})
            for name, field in (("budget", "revised_budget"), ("committed", "committed_costs"),
                                ("direct_costs", "direct_costs")):
                held[name] = held.get(name, ZERO) + (money(row.get(field)) or ZERO)
        return cells


def _sage_cells(rows: Iterable[Mapping[str, Any]]
                ) -> tuple[dict[Cell, Decimal], dict[Cell, Decimal]]:
    """(every posted row, the posted rows that are direct costs, in Procore yet or not)
    per cell."""
    every: dict[Cell, Decimal] = {}
    direct: dict[Cell, Decimal] = {}
    for row in rows:
        if int(row["status"]) != job_costs.POSTED:
            continue
        cell = (str(row["cost_code"]), str(row["cost_type"]))
        amount = money(row["amount"]) or ZERO
        every[cell] = every.get(cell, ZERO) + amount
        if row.get("unsyncable") not in NOT_DIRECT:
            direct[cell] = direct.get(cell, ZERO) + amount
    return every, direct


def _sage_budget_cells(lines: Iterable[Mapping[str, Any]]) -> dict[Cell, Decimal]:
    cells: dict[Cell, Decimal] = {}
    for line in lines:
        for cost_type, amount in (line.get("amounts") or {}).items():
            cell = (str(line["cost_code"]), str(cost_type))
            cells[cell] = cells.get(cell, ZERO) + (money(amount) or ZERO)
    return cells


def _measure(project_id: int, job: str | None, scope: str, key: str, measure: str,
             procore: Decimal, sage: Decimal) -> dict[str, Any]:
    return {"project_id": project_id, "job": job, "scope": scope, "key": key,
            "measure": measure, "procore": str(procore), "sage": str(sage),
            "difference": str(sage - procore)}
