"""Intake under load: many webhook deliveries, duplicated and shuffled, through the real
receiver and the real intake consumer.

What runs:

- the Procore sandbox on 127.0.0.1 holds ``commitments`` subcontracts and purchase orders
  spread over a few projects; they are created, get lines, and are changed (header edits,
  line edits, lines added and removed, edits that change nothing) in rounds interleaved
  with the deliveries, each change firing the event Procore would fire (commitment and
  line item create/update/delete, payload v2.0 by default). Each commitment ends in a
  known state: Approved and ready, or with one kind of readiness problem (draft, vendor
  not linked, a line without cost code, title or number too long, project not linked);
- every event is delivered once, and ``duplicate_share`` of the deliveries are the same
  event again (Procore delivers at least once), late by a random number of rounds; the
  order of each round is shuffled (seeded: the same seed makes the same run);
- each delivery is POSTed to ``/webhooks/procore`` of the Chalice app (chalice.test
  Client), and the inbound FIFO queue is fed to the ``intake`` Lambda handler in batches
  of 10, as the event source mapping does: reported batchItemFailures come back after a
  (shortened) visibility timeout, and the dead-letter queue is checked at the end;
- DynamoDB and SQS are moto in-process (``mock_aws``), made from infra/ by
  ``devstack.resources.provision``.

What is checked, on the stored items (``get_item``, ``audit_trail``, ``list_items``):

- lost: a commitment without an item, or whose item's snapshot differs from what the
  sandbox holds now, or whose status does not match its readiness (ready_to_export with
  no reason, or not_ready with the reasons its final state calls for);
- doubled: an item with more versions (audit events) than content states the commitment
  went through in the sandbox, or a version that brought no new snapshot: duplicate and
  redundant deliveries must add nothing.

Figures: deliveries per second through receiver + intake (one process, sequential;
sandbox changes and checks are not timed), DynamoDB write requests per delivery (a
botocore ``before-call`` hook on the connector's client), Procore GETs per delivery
(counted by the sandbox's HTTP handler).

``python -m bench.intake_load --deliveries 300 --commitments 20`` runs a small one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.intake_load_drive import (
    CLIENT_ID,
    CLIENT_SECRET,
    WEBHOOK_TOKEN,
    WRITE_OPERATIONS,
    LoadResult,
    _environment,
    _light_transaction_backups,
    _quiet_logger,
    _Run,
)
from bench.intake_load_plan import (
    COMPANY,
    COST_CODES,
    LINE_TYPES,
    LINKED_VENDORS,
    MIN_EVENTS_PER_COMMITMENT,
    NOT_APPROVED,
    POC,
    PROFILES,
    TITLES,
    UNLINKED_VENDOR,
    WOC,
    PlannedCommitment,
)

__all__ = [
    "CLIENT_ID", "CLIENT_SECRET", "COMPANY", "COST_CODES", "LINE_TYPES", "LINKED_VENDORS",
    "MIN_EVENTS_PER_COMMITMENT", "NOT_APPROVED", "POC", "PROFILES", "TITLES",
    "UNLINKED_VENDOR", "WEBHOOK_TOKEN", "WOC", "WRITE_OPERATIONS", "LoadConfig",
    "LoadResult", "PlannedCommitment", "describe", "main", "rows", "run",
]


@dataclass(frozen=True)
class LoadConfig:
    deliveries: int = 10_000
    commitments: int = 200
    duplicate_share: float = 0.30
    seed: int = 20261126
    projects: int | None = None  # default: one per 20 commitments, at least 2
    rounds: int | None = None  # change rounds between deliveries; 1: all changes first
    pump_every: int = 50  # deliveries received between two polls of the inbound queue
    payload_version: str = "v2.0"
    visibility_timeout: int = 1  # seconds until a failed message is retried (AWS: 180)
    light_moto_rollback: bool = True  # see _light_transaction_backups
    # A negative control for the checks: never deliver each commitment's last change.
    skip_final_changes: bool = False
    progress: bool = False  # a line on stderr every 1000 deliveries

    @property
    def distinct_events(self) -> int:
        return self.deliveries - self.duplicate_deliveries

    @property
    def duplicate_deliveries(self) -> int:
        return round(self.deliveries * self.duplicate_share)

    @property
    def project_count(self) -> int:
        return self.projects or max(2, self.commitments // 20)

    @property
    def round_count(self) -> int:
        return max(1, self.rounds if self.rounds is not None else self.deliveries // 50)


# ---- the run -----------------------------------------------------------------------------
def run(config: LoadConfig | None = None,
        inspect: Callable[[Any, Any, list[PlannedCommitment]], None] | None = None,
        ) -> LoadResult:
    """One load run from scratch (moto, sandbox, app); everything it starts is stopped.

    ``inspect(store, sandbox, commitments)`` is called at the end, while the table and the
    sandbox are still up (tests check the stored items themselves)."""
    config = config or LoadConfig()
    aws_env: dict[str, str | None] = {
        "AWS_ENDPOINT_URL": None, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": None,
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_PROFILE": None}
    with _environment(aws_env), _quiet_logger() as warnings:
        import boto3
        from moto import mock_aws

        from devstack import moto_patches
        from devstack.procore_sandbox import ProcoreSandbox
        from devstack.resources import provision

        moto_patches.apply()  # as the tests and the local stack do (FIFO order after retries)
        sandbox_options = {"rate_limit": 10**9, "payload_version": config.payload_version}
        with mock_aws(), _light_transaction_backups(config.light_moto_rollback), \
                ProcoreSandbox(**sandbox_options) as sandbox:
            resources = provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="load")
            app_env: dict[str, str | None] = {
                **resources.environment, "STAGE": "test",
                "PROCORE_COMPANY_ID": str(COMPANY), "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
                "PROCORE_BASE_URL": sandbox.url, "PROCORE_AUTH_URL": sandbox.url,
                "PROCORE_CLIENT_ID": CLIENT_ID, "PROCORE_CLIENT_SECRET": CLIENT_SECRET,
                "CONNECTOR_APPLICATION_ID": CLIENT_ID,
                "CONNECTOR_PROCORE_USER_ID": str(sandbox.service_account_user_id),
                "POWERTOOLS_METRICS_NAMESPACE": os.environ.get(
                    "POWERTOOLS_METRICS_NAMESPACE") or "IntakeLoad"}
            with _environment(app_env):
                from chalicelib import wiring

                wiring.reset()
                try:
                    load = _Run(config, sandbox, resources)
                    result = load.go()
                    if inspect is not None:
                        inspect(load.store, sandbox, load.plans)
                finally:
                    wiring.reset()
    result.warnings = warnings
    return result


# ---- report ------------------------------------------------------------------------------
def rows(config: LoadConfig | None = None) -> list[tuple[str, str]]:
    """The table rows of one run (``python -m bench``)."""
    return _rows_of(run(config))


def _rows_of(result: LoadResult) -> list[tuple[str, str]]:
    config = result.config
    run_name = (f"{config.deliveries} deliveries ({config.duplicate_deliveries} duplicates, "
                f"shuffled, payload {config.payload_version}) over {config.commitments} "
                "commitments")
    writes = result.dynamodb_write_requests
    return [
        (f"intake load, {run_name}: lost (no item, snapshot not what Procore holds, or "
         "status not its readiness)",
         f"{result.lost_count} of {result.commitments} ({result.ready} ready, "
         f"{result.not_ready} not ready)"),
        ("intake load: doubled (more versions than content states seen in Procore, or a "
         "version without new content)",
         f"{result.doubled_count} of {result.items} items ({result.item_versions} versions "
         f"for {result.content_states} content states)"),
        ("intake load: deliveries per second through receiver + intake (one process, "
         "sequential)", f"{result.deliveries_per_second:.0f}"),
        ("intake load: the same, less the time inside moto's DynamoDB and SQS calls",
         f"{result.deliveries_per_second_outside_aws:.0f}"),
        ("intake load: DynamoDB write requests per delivery (items written)",
         f"{result.per_delivery(writes):.2f} "
         f"({result.per_delivery(result.dynamodb_write_items):.2f})"),
        ("intake load: DynamoDB read requests per delivery",
         f"{result.per_delivery(result.dynamodb_read_requests):.2f}"),
        ("intake load: Procore GETs per delivery",
         f"{result.per_delivery(result.procore_gets):.2f}"),
        ("intake load: messages the intake handled (SQS deduplication drops the rest); "
         "retried failures; dead letters",
         f"{result.intake_messages}; {result.intake_failures}; {result.dead_letters}"),
    ]


def describe(result: LoadResult) -> str:
    """Everything measured, for a person (the table keeps the headline figures)."""
    lines = [f"config: {result.config}",
             f"receiver answers: {dict(result.receiver_answers)}",
             f"receiver {result.receiver_seconds:.1f} s, intake {result.intake_seconds:.1f} s, "
             f"of which in DynamoDB/SQS calls {result.aws_seconds:.1f} s",
             f"dynamodb calls: {dict(result.dynamodb_calls)}",
             f"procore requests: {dict(result.procore_requests)}",
             f"left on the inbound queue: {result.left_on_queue}",
             f"connector warnings: {dict(result.warnings)}"]
    lines += [f"LOST {entry}" for entry in result.lost[:20]]
    lines += [f"DOUBLED {entry}" for entry in result.doubled[:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from bench.export_path import quiet

    quiet()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    defaults = LoadConfig()
    parser.add_argument("--deliveries", type=int, default=defaults.deliveries)
    parser.add_argument("--commitments", type=int, default=defaults.commitments)
    parser.add_argument("--duplicates", type=float, default=defaults.duplicate_share,
                        help="share of the deliveries that repeat an event")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--projects", type=int)
    parser.add_argument("--rounds", type=int, help="1: every change before any delivery")
    parser.add_argument("--payload-version", default=defaults.payload_version,
                        choices=("v2.0", "v3.0", "v4.0"))
    parser.add_argument("--verbose", action="store_true", help="print every count too")
    args = parser.parse_args(argv)
    config = LoadConfig(deliveries=args.deliveries, commitments=args.commitments,
                        duplicate_share=args.duplicates, seed=args.seed,
                        projects=args.projects, rounds=args.rounds,
                        payload_version=args.payload_version, progress=args.verbose)
    result = run(config)
    print("| measure | value |")
    print("|---|---|")
    for name, value in _rows_of(result):
        print(f"| {name} | {value} |")
    if args.verbose or result.lost or result.doubled:
        print(describe(result), file=sys.stderr)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
