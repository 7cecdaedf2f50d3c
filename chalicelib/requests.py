"""Shapes of the API's request bodies (400 names the field that does not fit)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    """Send a Procore record for accounting acceptance (what Procore's "Send to ERP" does)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["commitment"]
    commitment_type: Literal["subcontract", "purchase_order"]
    procore_id: int = Field(gt=0)
    project_id: int = Field(gt=0)


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
