"""The prime contract import's record: one per project, versioned (conditional writes).

``PK=IMPORT#{company}``, ``SK=prime_contract#{project}`` beside the budget imports
(``store_records``), in the connector table.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.store_base import TableAdapter, _n, _s
from chalicelib.adapters.store_records import _version, _version_condition


class PrimeContractImports(TableAdapter):
    def get(self, company_id: int, project_id: int) -> dict[str, Any]:
        """The project's import, with its ``version`` (0: never asked for)."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True,
                            Key=self._key(company_id, project_id))
        raw = answer.get("Item")
        return {**json.loads(raw["doc"]["S"]), "version": _version(raw)} if raw else {
            "version": 0}

    def put(self, company_id: int, project_id: int, doc: dict[str, Any], *,
            expected_version: int) -> int:
        """Write over the version read (StaleItem when it changed meanwhile)."""
        body = {k: v for k, v in doc.items() if k != "version"}
        self._call("put_item", _conditional=True, TableName=self.table_name, Item={
            **self._key(company_id, project_id), "version": _n(expected_version + 1),
            "doc": _s(json.dumps(body, default=str))}, **_version_condition(expected_version))
        return expected_version + 1

    @staticmethod
    def _key(company_id: int, project_id: int) -> dict[str, Any]:
        return {"PK": _s(f"IMPORT#{company_id}"), "SK": _s(f"prime_contract#{project_id}")}
