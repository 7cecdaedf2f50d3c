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
import contextlib
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

COMPANY = 4264
WEBHOOK_TOKEN = "Bearer intake-load-token"
CLIENT_ID = "connector-client"
CLIENT_SECRET = "connector-secret"
WOC = "work_order_contract"
POC = "purchase_order_contract"
# Statuses before approval, per commitment type (Procore's purchase orders have their own).
NOT_APPROVED = {WOC: ["Draft", "Out For Bid", "Out For Signature"],
                POC: ["Draft", "Processing", "Submitted"]}
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                    "BatchWriteItem")
COST_CODES = [("01-100", "General Conditions"), ("03-300", "Cast-in-Place Concrete"),
              ("05-120", "Structural Steel"), ("09-900", "Painting"), ("26-000", "Electrical")]
LINE_TYPES = [("Labor", "L", "labor"), ("Material", "M", "materials"),
              ("Equipment", "E", "equipment"), ("Subcontract", "S", "commitment"),
              ("Other", "O", "other")]
LINKED_VENDORS = ["Granite Bay Concrete", "Summit Steel Supply", "Delta Drywall",
                  "Pacific Glazing"]
UNLINKED_VENDOR = "Northern California Electrical Contractors Incorporated"
TITLES = ["Concrete", "Steel erection", "Drywall", "Glazing", "Electrical rough-in",
          "Roofing", "Paving", "Painting"]
# Final states: about half ready, the rest with one kind of readiness problem each.
PROFILES = ["ready", "draft", "ready", "vendor_unlinked", "ready", "uncoded", "ready",
            "long_title", "ready", "long_number"]
MIN_EVENTS_PER_COMMITMENT = 3  # create, one line, the final update


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


@dataclass
class LoadResult:
    config: LoadConfig
    deliveries: int = 0  # POSTed to the receiver
    commitments: int = 0
    items: int = 0
    ready: int = 0
    not_ready: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    item_versions: int = 0
    content_states: int = 0  # distinct consecutive content states, summed over commitments
    receiver_answers: Counter[str] = field(default_factory=Counter)
    intake_messages: int = 0  # messages the intake handled (duplicates past SQS included)
    intake_failures: int = 0  # batch item failures reported (retried)
    dead_letters: int = 0
    left_on_queue: int = 0
    receiver_seconds: float = 0.0
    intake_seconds: float = 0.0
    aws_seconds: float = 0.0  # of which inside DynamoDB/SQS calls (moto, in-process)
    dynamodb_calls: Counter[str] = field(default_factory=Counter)
    dynamodb_write_items: int = 0
    procore_requests: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # the connector's, by message

    @property
    def lost_count(self) -> int:
        return len(self.lost)

    @property
    def doubled_count(self) -> int:
        return len(self.doubled)

    @property
    def deliveries_per_second(self) -> float:
        return self.deliveries / (self.receiver_seconds + self.intake_seconds)

    @property
    def deliveries_per_second_outside_aws(self) -> float:
        """The same, less the time spent inside the (emulated) DynamoDB and SQS calls."""
        return self.deliveries / (
            self.receiver_seconds + self.intake_seconds - self.aws_seconds)

    @property
    def dynamodb_write_requests(self) -> int:
        return sum(self.dynamodb_calls[op] for op in WRITE_OPERATIONS)

    @property
    def dynamodb_read_requests(self) -> int:
        return sum(self.dynamodb_calls.values()) - self.dynamodb_write_requests

    @property
    def procore_gets(self) -> int:
        return self.procore_requests["GET"]

    def per_delivery(self, value: float) -> float:
        return value / self.deliveries


# ---- the commitments and their changes ----------------------------------------------------
@dataclass
class PlannedCommitment:
    """One commitment of the run: its final state (``profile``) and what happened to it."""

    index: int
    kind: str
    project: int
    profile: str
    budget: int  # events it fires in the whole run
    first_lines: int
    final_status: str = "Approved"
    procore_id: int = 0
    step: int = 0
    lines: list[int] = field(default_factory=list)
    uncoded_line: int | None = None
    hashes: list[str] = field(default_factory=list)  # content hash after each change

    @property
    def number(self) -> str:
        prefix = "SC" if self.kind == WOC else "PO"
        if self.profile == "long_number":
            return f"{prefix}-2026-{self.index:06d}"  # 14 characters; Sage takes 12
        return f"{prefix}-{self.index:04d}"

    @property
    def base_title(self) -> str:
        return TITLES[self.index % len(TITLES)]

    @property
    def content_states(self) -> int:
        return sum(1 for n, h in enumerate(self.hashes) if n == 0 or h != self.hashes[n - 1])


class _Company:
    """The sandbox's dataset: projects (all linked but the last), vendors, codes, types."""

    def __init__(self, sandbox: Any, projects: int) -> None:
        self.sandbox = sandbox
        self.projects: list[int] = []
        self.codes: dict[int, list[int]] = {}
        for n in range(projects):
            project = sandbox.add_project(f"Load Project {n + 1}", project_number=f"L-{n + 1}")
            self.projects.append(project["id"])
            self.codes[project["id"]] = [sandbox.add_cost_code(project["id"], code, name)["id"]
                                         for code, name in COST_CODES]
        self.types = [sandbox.add_line_item_type(name, code, base)["id"]
                      for name, code, base in LINE_TYPES]
        self.linked_vendors = [sandbox.add_vendor(name)["id"] for name in LINKED_VENDORS]
        self.unlinked_vendor = sandbox.add_vendor(UNLINKED_VENDOR)["id"]
        self.unlinked_project = self.projects[-1]
        self.linked_projects = self.projects[:-1] or self.projects

    def link(self, store: Any) -> None:
        from chalicelib.domain.models import Link

        for n, project in enumerate(self.projects):
            if project != self.unlinked_project:
                store.put_link(Link(company_id=COMPANY, kind="project", procore_id=project,
                                    sage_key=str(24001 + n)))
        for n, vendor in enumerate(self.linked_vendors):
            store.put_link(Link(company_id=COMPANY, kind="vendor", procore_id=vendor,
                                sage_key=str(3001 + n)))
        # The sandbox's cost codes are NN-NNN without origin ids: the one exact rule.
        settings = store.get_company_settings(COMPANY)
        store.put_company_settings(
            COMPANY, {**settings, "advanced": {**settings.get("advanced", {}),
                                               "cost_code_rule": "division-dash-code"}},
            expected_version=int(settings.get("version", 0)))


def _plan(config: LoadConfig, company: _Company, rng: random.Random) -> list[PlannedCommitment]:
    """The commitments, each with its final state and its share of the events."""
    count, events = config.commitments, config.distinct_events
    if count < 1 or events < MIN_EVENTS_PER_COMMITMENT * count:
        raise ValueError(f"{events} distinct events cannot cover {count} commitments "
                         f"({MIN_EVENTS_PER_COMMITMENT} each at least)")
    weights = [0.5 + rng.random() for _ in range(count)]
    extra = events - MIN_EVENTS_PER_COMMITMENT * count
    shares = [int(extra * w / sum(weights)) for w in weights]
    for n in rng.sample(range(count), extra - sum(shares)):
        shares[n] += 1
    profiles = [PROFILES[n % len(PROFILES)] for n in range(count)]
    rng.shuffle(profiles)
    plans = []
    for n in range(count):
        budget = MIN_EVENTS_PER_COMMITMENT + shares[n]
        plan = PlannedCommitment(index=n + 1, kind=WOC if rng.random() < 0.6 else POC,
                           project=(company.unlinked_project if rng.random() < 0.1
                                    else rng.choice(company.linked_projects)),
                           profile=profiles[n],
                           budget=budget, first_lines=min(rng.randint(1, 3), budget - 2))
        if plan.profile == "draft":
            plan.final_status = rng.choice(NOT_APPROVED[plan.kind])
        plans.append(plan)
    return plans


def _money(rng: random.Random) -> str:
    return str(rng.randrange(4, 400) * 50)


class _Changes:
    """Applies each commitment's changes to the sandbox, one event per change."""

    def __init__(self, sandbox: Any, company: _Company, rng: random.Random) -> None:
        self.sandbox = sandbox
        self.company = company
        self.rng = rng

    def coded(self, c: PlannedCommitment) -> dict[str, Any]:
        return {"cost_code_id": self.rng.choice(self.company.codes[c.project]),
                "line_item_type_id": self.rng.choice(self.company.types)}

    def final_fields(self, c: PlannedCommitment) -> dict[str, Any]:
        title = c.base_title
        if c.profile == "long_title":
            title = f"{c.base_title} - phase {c.index} with all supplementary scope"
        vendor = (self.company.unlinked_vendor if c.profile == "vendor_unlinked"
                  else self.rng.choice(self.company.linked_vendors))
        return {"status": c.final_status, "title": title, "vendor_id": vendor,
                "number": c.number}

    def apply_next(self, c: PlannedCommitment) -> None:
        from chalicelib.domain.commitments import build_snapshot
        from chalicelib.domain.models import content_hash

        sandbox, rng, step = self.sandbox, self.rng, c.step
        if step == 0:
            record = sandbox.create_commitment(
                c.kind, c.project, number=c.number, title=c.base_title, status="Draft",
                vendor_id=rng.choice(self.company.linked_vendors))
            c.procore_id = record["id"]
        elif step <= c.first_lines:
            fields: dict[str, Any] = {"description": f"Scope {step}", "amount": _money(rng)}
            if not (c.profile == "uncoded" and step == 1):
                fields.update(self.coded(c))
            line = sandbox.add_line_item(c.kind, c.procore_id, **fields)
            c.lines.append(line["id"])
            if c.profile == "uncoded" and step == 1:
                c.uncoded_line = line["id"]
        elif step == c.budget - 1:
            sandbox.update_commitment(c.kind, c.procore_id, **self.final_fields(c))
        else:
            self.middle_change(c)
        c.step += 1
        snapshot = build_snapshot(c.kind, sandbox.get_commitment(c.kind, c.procore_id),
                                  sandbox.list_line_items(c.kind, c.procore_id))
        c.hashes.append(content_hash(snapshot))

    def middle_change(self, c: PlannedCommitment) -> None:
        sandbox, rng = self.sandbox, self.rng
        removable = [line for line in c.lines if line != c.uncoded_line]
        roll = rng.random()
        if roll < 0.35:  # the header: title, status, vendor, description, or the same again
            current = sandbox.get_commitment(c.kind, c.procore_id)
            fields: dict[str, Any] = rng.choice([
                {"title": f"{c.base_title} r{c.step}"},
                {"status": rng.choice([*NOT_APPROVED[c.kind], "Approved"])},
                {"vendor_id": rng.choice([*self.company.linked_vendors,
                                          self.company.unlinked_vendor])},
                {"description": f"Revision {c.step}"},
                {"title": current["title"]},  # saved without a change
            ])
            sandbox.update_commitment(c.kind, c.procore_id, **fields)
        elif roll < 0.50 and len(c.lines) < 6:
            line = sandbox.add_line_item(c.kind, c.procore_id, description=f"Extra {c.step}",
                                         amount=_money(rng), **self.coded(c))
            c.lines.append(line["id"])
        elif roll < 0.60 and len(c.lines) > 1 and removable:
            line_id = rng.choice(removable)
            sandbox.delete_line_item(c.kind, c.procore_id, line_id)
            c.lines.remove(line_id)
        else:  # a line: amount, description, cost code, or the same again
            line_id = rng.choice(c.lines)
            current = next(line for line in sandbox.list_line_items(c.kind, c.procore_id)
                           if line["id"] == line_id)
            options: list[dict[str, Any]] = [{"amount": _money(rng)},
                                             {"description": f"Scope rev {c.step}"},
                                             {"amount": current["amount"]}]
            if line_id != c.uncoded_line:
                options.append(self.coded(c))
            sandbox.update_line_item(c.kind, c.procore_id, line_id, **rng.choice(options))


# ---- the run -----------------------------------------------------------------------------
@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, remove) environment variables; put them back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Tally(logging.Handler):
    """Counts the connector's warnings by message (they are not printed during the run)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[record.getMessage()] += 1


@contextlib.contextmanager
def _quiet_logger() -> Iterator[Counter[str]]:
    """The connector logs every event at INFO: thousands of lines would time the logger.
    Warnings are counted instead of printed (errors are still printed)."""
    from chalicelib.observability import logger

    level = logger.log_level
    printer = getattr(logger, "registered_handler", None)
    printer_level = printer.level if printer is not None else logging.NOTSET
    tally = _Tally()
    logger.setLevel("WARNING")
    logger.addHandler(tally)
    if printer is not None:
        printer.setLevel(logging.ERROR)
    try:
        yield tally.messages
    finally:
        logger.removeHandler(tally)
        logger.setLevel(level)
        if printer is not None:
            printer.setLevel(printer_level)


@contextlib.contextmanager
def _light_transaction_backups(enabled: bool = True) -> Iterator[None]:
    """moto backs up every table a TransactWriteItems touches with a deep copy of the whole
    table, for its rollback: O(table) per transaction, so a long run turns quadratic and
    times the emulator, not the connector; and the copy is never freed (moto's BaseModel
    tracks every instance it makes until the mock ends: about 12 GB over 10,000
    deliveries). A transaction of Put, Delete and ConditionCheck operations only replaces
    or removes items (never changes an Item object in place), so an untracked copy of the
    table's key -> item index restores exactly the same state; transactions with an Update
    keep moto's deep copy. The connector's code is not touched."""
    if not enabled:
        yield
        return
    import copy as real_copy
    from collections import defaultdict

    from moto.dynamodb import models

    light = {"on": False}

    class _Copy:
        copy = staticmethod(real_copy.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if light["on"] and isinstance(value, models.Table):
                # object.__new__: moto's BaseModel.__new__ would track the copy for ever.
                clone = object.__new__(type(value))
                clone.__dict__.update(value.__dict__)
                clone.items = defaultdict(dict, {
                    key: dict(entry) if isinstance(entry, dict) else entry
                    for key, entry in value.items.items()})
                return clone
            return real_copy.deepcopy(value, memo)

    backend = models.DynamoDBBackend
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        light["on"] = all(next(iter(op)) in ("Put", "Delete", "ConditionCheck")
                          for op in transact_items)
        try:
            return original(self, transact_items)
        finally:
            light["on"] = False

    saved_copy = models.copy
    models.copy = _Copy  # type: ignore[assignment]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.copy = saved_copy
        backend.transact_write_items = original  # type: ignore[method-assign]


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


class _Run:
    def __init__(self, config: LoadConfig, sandbox: Any, resources: Any) -> None:
        import boto3

        from chalicelib import wiring

        self.config = config
        self.sandbox = sandbox
        self.sqs = boto3.client("sqs")
        self.inbound_url = resources.refs["InboundEventsQueue"]
        self.dead_letter_url = resources.refs["InboundEventsDeadLetterQueue"]
        self.store = wiring.get_store()
        self.result = LoadResult(config)
        self.rng = random.Random(config.seed)
        self.counting = False
        self.received = 0
        self.plans: list[PlannedCommitment] = []

    # -- counters ------------------------------------------------------------------------
    def _count_request(self, model: Any, **_: Any) -> None:
        """before-call: one request sent to DynamoDB (before any retry of it)."""
        if self.counting:
            self.result.dynamodb_calls[model.name] += 1

    def _count_items(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """before-parameter-build: the records a write request writes."""
        if not self.counting or model.name not in WRITE_OPERATIONS:
            return
        if model.name == "TransactWriteItems":
            self.result.dynamodb_write_items += len(params.get("TransactItems", []))
        elif model.name == "BatchWriteItem":
            self.result.dynamodb_write_items += sum(
                len(v) for v in params.get("RequestItems", {}).values())
        else:
            self.result.dynamodb_write_items += 1

    def _time_aws(self, client: Any) -> None:
        """Time spent inside each DynamoDB/SQS call (request, moto, answer)."""
        started: list[float] = []

        def before(**_: Any) -> None:
            started.append(time.perf_counter())

        def after(**_: Any) -> None:
            if started:
                elapsed = time.perf_counter() - started.pop()
                if self.counting:
                    self.result.aws_seconds += elapsed

        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after)
        client.meta.events.register("after-call-error", after)

    def _count_procore(self) -> None:
        original = self.sandbox.handle

        def handle(method: str, target: str, headers: Any, body: bytes) -> Any:
            if self.counting:
                label = method.upper() if target.startswith("/rest/") else f"{method} {target}"
                self.result.procore_requests[label] += 1
            return original(method, target, headers, body)

        self.sandbox.handle = handle

    # -- the run -------------------------------------------------------------------------
    def go(self) -> LoadResult:
        from chalice.test import Client

        from app import app
        from chalicelib import wiring

        config, rng = self.config, self.rng
        company = _Company(self.sandbox, config.project_count)
        self.unlinked_project = company.unlinked_project
        company.link(self.store)
        plans = self.plans = _plan(config, company, rng)
        changes = _Changes(self.sandbox, company, rng)
        # One slot per change, shuffled: each commitment's changes stay in order, but
        # commitments interleave, and they start and finish at different times.
        order = [c for c in plans for _ in range(c.budget)]
        rng.shuffle(order)
        extra_copies = Counter(rng.choices(range(len(order)), k=config.duplicate_deliveries))
        rounds = min(config.round_count, len(order))
        schedule: list[list[dict[str, Any]]] = [[] for _ in range(rounds)]
        events = self.store.client.meta.events
        events.register("before-call.dynamodb.*", self._count_request)
        events.register("before-parameter-build.dynamodb.*", self._count_items)
        self._count_procore()
        for client in {id(c): c for c in (self.store.client, self.sqs,
                                          wiring.get_inbound_queue().client)}.values():
            self._time_aws(client)
        with Client(app, stage_name="test") as client:
            self.client = client
            first = fired = len(self.sandbox.events)
            final_changes: set[int] = set()
            for r in range(rounds):
                for c in order[r * len(order) // rounds:(r + 1) * len(order) // rounds]:
                    last = c.step == c.budget - 1
                    changes.apply_next(c)
                    if last:
                        final_changes.add(len(self.sandbox.events) - 1 - first)
                for n, payload in enumerate(self.sandbox.events[fired:], start=fired - first):
                    if config.skip_final_changes and n in final_changes:
                        continue
                    # Delivered this round or a little later; its repeats later still.
                    schedule[min(rounds - 1, r + int(rng.expovariate(1.0)))].append(payload)
                    for _ in range(extra_copies[n]):
                        late = r + int(rng.expovariate(1 / 3))
                        schedule[min(rounds - 1, late)].append(payload)
                fired = len(self.sandbox.events)
                batch = schedule[r]
                rng.shuffle(batch)
                self.counting = True
                for payload in batch:
                    self._deliver(payload)
                self.counting = False
            if fired - first != len(order):
                raise RuntimeError(f"{len(order)} changes fired {fired - first} events")
            self.counting = True
            self._drain(final=True)
            self.counting = False
        self._check(plans)
        return self.result

    def _deliver(self, payload: dict[str, Any]) -> None:
        started = time.perf_counter()
        answer = self.client.http.post(
            "/webhooks/procore", body=json.dumps(payload),
            headers={"Content-Type": "application/json", "Authorization": WEBHOOK_TOKEN})
        self.result.receiver_seconds += time.perf_counter() - started
        status = ""
        with contextlib.suppress(ValueError, AttributeError):
            status = json.loads(answer.body).get("status", "")
        self.result.receiver_answers[f"{answer.status_code} {status}".strip()] += 1
        self.received += 1
        self.result.deliveries = self.received
        if self.received % self.config.pump_every == 0:
            self._drain(final=False)
        if self.config.progress and self.received % 1000 == 0:
            print(f"{self.received} deliveries, receiver {self.result.receiver_seconds:.0f} s, "
                  f"intake {self.result.intake_seconds:.0f} s", file=sys.stderr, flush=True)

    def _invoke(self, event: dict[str, Any]) -> Any:
        return self.client.lambda_.invoke("intake", event).payload

    def _drain(self, *, final: bool) -> None:
        """Poll the inbound queue like the event source mapping until it is empty; at the
        end also wait for failed messages to come back (or go to the dead letters)."""
        from devstack.pump import pump_once

        deadline = time.monotonic() + 60 + 6 * self.config.visibility_timeout
        while True:
            started = time.perf_counter()
            handled, failed = pump_once(self.sqs, self.inbound_url, self._invoke,
                                        visibility_timeout=self.config.visibility_timeout)
            self.result.intake_seconds += time.perf_counter() - started
            self.result.intake_messages += handled
            self.result.intake_failures += failed
            if handled or failed:
                continue
            if not final or self._depth(self.inbound_url) == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"])
        values = attributes["Attributes"]
        return int(values["ApproximateNumberOfMessages"]) + int(
            values["ApproximateNumberOfMessagesNotVisible"])

    # -- the checks ----------------------------------------------------------------------
    def _check(self, plans: list[PlannedCommitment]) -> None:
        from chalicelib.domain.commitments import build_snapshot
        from chalicelib.domain.state_machine import Status

        result, sandbox, store = self.result, self.sandbox, self.store
        result.commitments = len(plans)
        result.dead_letters = self._depth(self.dead_letter_url)
        result.left_on_queue = self._depth(self.inbound_url)
        stored, cursor = [], None
        while True:
            page, cursor = store.list_items(COMPANY, limit=100, cursor=cursor)
            stored += page
            if cursor is None:
                break
        result.items = len(stored)
        expected_ids = {c.procore_id for c in plans}
        for item in stored:
            if item.kind != "commitment" or item.procore_id not in expected_ids:
                result.doubled.append(f"{item.item_id}: an item no commitment explains")
        for c in plans:
            name = f"commitment-{c.procore_id} ({c.profile})"
            record = sandbox.get_commitment(c.kind, c.procore_id)
            lines = sandbox.list_line_items(c.kind, c.procore_id)
            item = store.get_item(COMPANY, "commitment", c.procore_id)
            result.content_states += c.content_states
            if item is None:
                result.lost.append(f"{name}: no item")
                continue
            result.ready += item.status is Status.READY_TO_EXPORT
            result.not_ready += item.status is Status.NOT_READY
            problems = self._lost_problems(c, item, record, lines,
                                           build_snapshot(c.kind, record, lines))
            if problems:
                result.lost.append(f"{name}: " + "; ".join(problems))
            trail = store.audit_trail(COMPANY, "commitment", c.procore_id)
            result.item_versions += item.version
            problems = []
            if [e.version for e in trail] != list(range(1, item.version + 1)):
                problems.append(f"audit versions {[e.version for e in trail]} for version "
                                f"{item.version}")
            if [e.snapshot_version for e in trail] != list(range(1, len(trail) + 1)):
                problems.append("a version without a new snapshot: snapshot versions "
                                f"{[e.snapshot_version for e in trail]}")
            if item.version > c.content_states:
                problems.append(f"{item.version} versions for {c.content_states} content "
                                "states in Procore")
            if problems:
                result.doubled.append(f"{name}: " + "; ".join(problems))

    def _lost_problems(self, c: PlannedCommitment, item: Any, record: dict[str, Any],
                       lines: list[dict[str, Any]], expected: dict[str, Any]) -> list[str]:
        from chalicelib.domain.state_machine import Status

        problems = []
        snapshot = item.snapshot
        if snapshot != expected:
            differing = sorted(k for k in {*snapshot, *expected}
                               if snapshot.get(k) != expected.get(k))
            problems.append(f"snapshot differs from Procore in {differing}")
        # The same, field by field against the sandbox record (not through the builder).
        vendor = (snapshot.get("vendor") or {}).get("id")
        if (snapshot.get("title"), snapshot.get("number"), snapshot.get("status"), vendor,
                snapshot.get("grand_total")) != (
                record["title"], record["number"], record["status"],
                (record.get("vendor") or {}).get("id"), record["grand_total"]):
            problems.append("header differs from Procore")
        if sorted(ln["id"] for ln in snapshot.get("lines", [])) != sorted(
                ln["id"] for ln in lines):
            problems.append("lines differ from Procore")
        if item.deleted_in_procore:
            problems.append("marked deleted")
        wanted = self._expected_reasons(c)
        text = " | ".join(item.reasons)
        if not wanted:
            if item.status is not Status.READY_TO_EXPORT or item.reasons:
                problems.append(f"should be ready_to_export, is {item.status.value} "
                                f"({text})")
        elif item.status is not Status.NOT_READY or not all(w in text for w in wanted):
            problems.append(f"should be not_ready for {wanted}, is {item.status.value} "
                            f"({text})")
        return problems

    def _expected_reasons(self, c: PlannedCommitment) -> list[str]:
        wanted = {"ready": [], "draft": [f"is {c.final_status}."],
                  "vendor_unlinked": ["is not linked to a Sage vendor"],
                  "uncoded": ["has no cost code", "has no cost type"],
                  "long_title": ["takes at most 30"],
                  "long_number": ["takes at most 12"]}[c.profile]
        if c.project == self.unlinked_project:
            wanted = [*wanted, "is not linked to a Sage 100 Contractor job"]
        return wanted


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
