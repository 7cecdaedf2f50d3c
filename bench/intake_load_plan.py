"""The intake load run (bench/intake_load.py): the company in the Procore sandbox, the
planned commitments (each with its final state and its share of the events) and the
changes that make each commitment fire its events."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.intake_load import LoadConfig

COMPANY = 4264
WOC = "work_order_contract"
POC = "purchase_order_contract"
# Statuses before approval, per commitment type (Procore's purchase orders have their own).
NOT_APPROVED = {WOC: ["Draft", "Out For Bid", "Out For Signature"],
                POC: ["Draft", "Processing", "Submitted"]}
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
