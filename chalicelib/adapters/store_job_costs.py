"""The connector table's job cost records (key layout: ``store``'s docstring).

    JOBCOST#{company}            SYNC#{project}        the project's job cost sync (versioned)
    JOBCOST#{company}#{project}  ROWS#{bucket:010}     jobcst rows as synced, 1,000 recnums
                                                       per record, zlib-compressed (versioned)

A big job has hundreds of thousands of jobcst rows: one record per row would cost a write
each; a bucket of 1,000 consecutive recnums costs one, and a page of new rows (Sage numbers
them in order) touches one or two buckets. A bucket compresses to ~30-60 KB, far under
DynamoDB's 400 KB.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.store_base import TableAdapter, _n, _s
from chalicelib.adapters.store_records import _version_condition

BUCKET_SIZE = 1000


def bucket_of(record: int) -> int:
    return int(record) // BUCKET_SIZE


class JobCostRecords(TableAdapter):
    # ---- the project's sync state ------------------------------------------------------
    def get_job_cost_sync(self, company_id: int, project_id: int) -> dict[str, Any]:
        """The project's job cost sync, with its ``version`` (0: never enabled)."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True, Key={
            "PK": _s(f"JOBCOST#{company_id}"), "SK": _s(f"SYNC#{project_id}")})
        raw = answer.get("Item")
        return ({**json.loads(raw["doc"]["S"]), "version": int(raw["version"]["N"])}
                if raw else {"version": 0, "project_id": project_id, "enabled": False})

    def put_job_cost_sync(self, company_id: int, project_id: int, doc: dict[str, Any], *,
                          expected_version: int) -> int:
        """Write over the version read (StaleItem when it changed meanwhile)."""
        body = {k: v for k, v in doc.items() if k != "version"}
        self._call("put_item", _conditional=True, TableName=self.table_name, Item={
            "PK": _s(f"JOBCOST#{company_id}"), "SK": _s(f"SYNC#{project_id}"),
            "version": _n(expected_version + 1), "doc": _s(json.dumps(body, default=str))},
            **_version_condition(expected_version))
        return expected_version + 1

    def list_job_cost_syncs(self, company_id: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeValues": {":pk": _s(f"JOBCOST#{company_id}"),
                                          ":sk": _s("SYNC#")}}
        found: list[dict[str, Any]] = []
        while True:
            answer = self._call("query", **kwargs)
            found += [{**json.loads(r["doc"]["S"]), "version": int(r["version"]["N"])}
                      for r in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return found
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # ---- rows as synced -----------------------------------------------------------------
    def get_job_cost_bucket(self, company_id: int, project_id: int,
                            bucket: int) -> tuple[dict[str, dict[str, Any]], int]:
        """(rows by recnum text, version) of one bucket; ({}, 0) when none was written."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True, Key={
            "PK": _s(f"JOBCOST#{company_id}#{project_id}"), "SK": _s(_bucket_sk(bucket))})
        raw = answer.get("Item")
        if not raw:
            return {}, 0
        return _unpack(raw["rows"]["B"]), int(raw["version"]["N"])

    def put_job_cost_bucket(self, company_id: int, project_id: int, bucket: int,
                            rows: dict[str, dict[str, Any]], *, expected_version: int) -> None:
        """Write the bucket over the version read (StaleItem when it changed meanwhile:
        two deliveries of one page, or a run and a retry, each read it)."""
        self._call("put_item", _conditional=True, TableName=self.table_name, Item={
            "PK": _s(f"JOBCOST#{company_id}#{project_id}"), "SK": _s(_bucket_sk(bucket)),
            "version": _n(expected_version + 1), "rows": {"B": _pack(rows)}},
            **_version_condition(expected_version))

    def iter_job_cost_rows(self, company_id: int, project_id: int) -> Iterator[dict[str, Any]]:
        """Every row the project's sync kept, bucket by bucket (one bucket in memory)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"JOBCOST#{company_id}#{project_id}")},
            "Limit": 10}
        while True:
            answer = self._call("query", **kwargs)
            for raw in answer["Items"]:
                yield from _unpack(raw["rows"]["B"]).values()
            if "LastEvaluatedKey" not in answer:
                return
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _bucket_sk(bucket: int) -> str:
    return f"ROWS#{int(bucket):010d}"


def _pack(rows: dict[str, dict[str, Any]]) -> bytes:
    return zlib.compress(json.dumps(rows, separators=(",", ":"), default=str).encode(), 6)


def _unpack(blob: bytes | str) -> dict[str, dict[str, Any]]:
    raw = base64.b64decode(blob) if isinstance(blob, str) else blob
    rows: dict[str, dict[str, Any]] = json.loads(zlib.decompress(raw))
    return rows


