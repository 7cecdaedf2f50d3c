"""A project's Procore counterparts of Sage's cost codes, cost types and vendors.

Exact rules only (money is never guessed): a Procore cost code maps to the Sage code its
origin id names (with the phase its sub job is linked to), a Procore cost type to the
csttyp its origin id names or the company's cost type mapping, a Procore company to the
Sage vendor it is linked to. Used wherever Sage rows come to Procore (budget import, job
costs).
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import cost_codes
from chalicelib.domain.sage_mapping import cost_type_map


def cost_code_ids(store: ItemStore, procore: ProcoreClient, company_id: int,
                  project_id: int) -> dict[tuple[str, int | None], int]:
    """(Sage cost code text, phase or None) -> the project's Procore cost code id.

    A Procore code maps by its origin id, else by the company's cost code rule (the same
    rule exports use); two Procore codes landing on one Sage code and phase map neither
    (which one a Sage cost belongs to would be a guess).
    """
    rule = str(store.get_company_settings(company_id).get("advanced", {})
               .get("cost_code_rule") or cost_codes.DEFAULT_RULE)
    codes: dict[tuple[str, int | None], int] = {}
    ambiguous: set[tuple[str, int | None]] = set()
    sub_jobs = {int(link.procore_id): link.sage_key
                for link in store.list_links(company_id, "sub_job")}
    for code in procore.list_cost_codes(project_id):
        try:
            sage = cost_codes.to_sage(code, rule)
        except (cost_codes.CostCodeError, cost_codes.CostCodeRuleError):
            continue
        phase_key = sub_jobs.get(int(code.get("sub_job_id") or 0))
        phase = int(phase_key.rsplit("-", 1)[1]) if phase_key else None
        if (sage, phase) in codes and codes[(sage, phase)] != int(code["id"]):
            ambiguous.add((sage, phase))
        codes[(sage, phase)] = int(code["id"])
    return {key: value for key, value in codes.items() if key not in ambiguous}


def cost_type_ids(store: ItemStore, procore: ProcoreClient, company_id: int,
                  defaults: Mapping[str, int]) -> dict[int, int]:
    """Sage csttyp (1-9) -> Procore line item type id (the first that maps to it)."""
    advanced = store.get_company_settings(company_id).get("advanced", {})
    mapping = cost_type_map(defaults, advanced)
    types: dict[int, int] = {}
    for line_type in procore.list_line_item_types():
        origin = str(line_type.get("origin_id") or "")
        number = int(origin) if origin.isdigit() else next(
            (mapping[k] for k in (line_type.get("code"), line_type.get("name"))
             if k and k in mapping), None)
        if number is not None:
            types.setdefault(int(number), int(line_type["id"]))
    return types


def vendor_ids(store: ItemStore, company_id: int) -> dict[int, int]:
    """Sage vndnum -> the Procore company (vendor) id linked to it."""
    return {int(link.sage_key): int(link.procore_id)
            for link in store.list_links(company_id, "vendor")
            if str(link.sage_key).isdigit()}
