"""Shapes of the API's request bodies (400 names the field that does not fit)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a rejection needs a reason the sender can act on")
        return value.strip()


class SendBody(BaseModel):
    """Send a Procore record for accounting acceptance (what Procore's "Send to ERP" does):
    a commitment (with its type and project), a commitment change order (with its
    project), a project, a company (vendor), a project's budget (``project_id`` alone:
    one budget per project), or a project's cost code or sub job (with its project) to be
    added to Sage."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["commitment", "project", "vendor", "budget", "cco",
                  "subcontractor_invoice", "cost_code", "sub_job", "owner_invoice", "pcco"]
    commitment_type: Literal["subcontract", "purchase_order"] | None = None
    procore_id: int | None = Field(default=None, gt=0)
    project_id: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _each_kind_names_its_record(self) -> SendBody:
        if self.kind == "budget":
            if self.project_id is None:
                raise ValueError("a budget needs 'project_id'")
            if self.procore_id not in (None, self.project_id):
                raise ValueError("a budget's 'procore_id' is its project id; send "
                                 "'project_id' alone")
            return self
        if self.procore_id is None:
            raise ValueError(f"a {self.kind} needs 'procore_id'")
        if self.kind == "commitment" and (self.commitment_type is None or
                                          self.project_id is None):
            missing = "commitment_type" if self.commitment_type is None else "project_id"
            raise ValueError(f"a commitment needs '{missing}'")
        if self.kind in ("cco", "subcontractor_invoice", "cost_code", "sub_job",
                         "owner_invoice", "pcco") and \
                self.project_id is None:
            raise ValueError(f"a {self.kind.replace('_', ' ')} needs 'project_id'")
        return self


class AcceptBody(BaseModel):
    """What an approver may add when accepting: the Sage number of a new job or vendor."""

    model_config = ConfigDict(extra="forbid")

    sage_job_number: int | None = Field(default=None, ge=1, le=9_999_999_999)
    sage_vendor_number: int | None = Field(default=None, ge=1, le=9_999_999_999)


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procore_id: int = Field(gt=0)
    sage_key: int = Field(gt=0)
    preview: bool = False


class CostTypesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cost_types: list[int] = Field(min_length=1, max_length=9)
    # The settings version the client edited (GET /settings answers it): a save over a
    # newer version is refused with 409 instead of reverting someone else's change.
    version: int | None = Field(default=None, ge=0)

    @field_validator("cost_types")
    @classmethod
    def _one_to_nine(cls, value: list[int]) -> list[int]:
        if any(not 1 <= t <= 9 for t in value):
            raise ValueError("Sage cost types are 1-9")
        return value


class SubJobBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: int = Field(ge=0)


class ScheduleBody(BaseModel):
    """Minutes between scheduled pulls per Sage list (0 turns the schedule off)."""

    model_config = ConfigDict(extra="forbid")

    jobs: int | None = Field(default=None, ge=0, le=10080)
    vendors: int | None = Field(default=None, ge=0, le=10080)
    cost_codes: int | None = Field(default=None, ge=0, le=10080)
    cost_types: int | None = Field(default=None, ge=0, le=10080)
    phases: int | None = Field(default=None, ge=0, le=10080)
    budgets: int | None = Field(default=None, ge=0, le=10080)
    payments: int | None = Field(default=None, ge=0, le=10080)
    receipts: int | None = Field(default=None, ge=0, le=10080)  # owner invoice receipts
    commitments: int | None = Field(default=None, ge=0, le=10080)
    receivables: int | None = Field(default=None, ge=0, le=10080)  # owner side totals
    job_costs: int | None = Field(default=None, ge=0, le=10080)  # per enabled project
    # The settings version the client edited (GET /settings answers it): a save over a
    # newer version is refused with 409 instead of reverting someone else's change.
    version: int | None = Field(default=None, ge=0)


class DirectExportsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    # The settings version the client edited (GET /settings answers it): a save over a
    # newer version is refused with 409 instead of reverting someone else's change.
    version: int | None = Field(default=None, ge=0)


class AdvancedBody(BaseModel):
    """Advanced settings: the cost type mapping and Sage limits the connector enforces."""

    model_config = ConfigDict(extra="forbid")

    cost_type_map: dict[str, int] | None = None
    vendor_name_max: int | None = Field(default=None, ge=1, le=75)
    commitment_number_max: int | None = Field(default=None, ge=1, le=20)
    commitment_title_max: int | None = Field(default=None, ge=1, le=50)
    # How a Procore cost code without an origin id maps to Sage (chalicelib/domain/cost_codes).
    cost_code_rule: Literal["none", "division-dash-code", "sage-decimal"] | None = None
    # The Sage cost code owner invoices bill (AR line), e.g. "1100.000" (domain/owner_invoices).
    owner_invoice_cost_code: str | None = Field(default=None,
                                                pattern=r"^[1-9]\d{0,11}(\.\d{1,3})?$")
    # The settings version the client edited (GET /settings answers it): a save over a
    # newer version is refused with 409 instead of reverting someone else's change.
    version: int | None = Field(default=None, ge=0)

    @field_validator("cost_type_map")
    @classmethod
    def _types(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None and any(not 1 <= t <= 9 for t in value.values()):
            raise ValueError("Sage cost types are 1-9")
        return value


LevelName = Literal["none", "read_only", "standard", "admin"]
ToolName = Literal["commitments", "change_orders", "budget", "prime_contract", "invoicing",
                   "directory", "reports", "projects"]


class UserBody(BaseModel):
    """A connector user's levels (the ERP Integrations tool and the Procore tools)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    erp_level: LevelName
    can_push_to_accounting: bool = False
    tool_levels: dict[ToolName, LevelName] = Field(default_factory=dict)
    privileges: list[Literal["create_new_project"]] = Field(default_factory=list)
    # Approver e-mails: sent only to accounting approvers with an address and not "off".
    email: str | None = Field(default=None, max_length=254,
                              pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    notify: Literal["immediate", "daily", "off"] = "off"

    @model_validator(mode="after")
    def _email_when_notified(self) -> UserBody:
        if self.notify != "off" and not self.email:
            raise ValueError(f"notify {self.notify!r} needs an email address")
        return self


class JobCostSyncBody(BaseModel):
    """Turn a project's job cost syncing on or off."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool


class JobCostRunBody(BaseModel):
    """Sync job costs now: one project, or (without it) every enabled one."""

    model_config = ConfigDict(extra="forbid")

    project_id: int | None = Field(default=None, gt=0)
