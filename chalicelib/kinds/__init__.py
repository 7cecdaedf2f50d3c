"""What differs per item kind, found through one registry.

The item lifecycle (``services.items``), the exporter and the results consumer are the
same for every kind; a kind module says what is its own: how an accepted snapshot becomes
a Sage command, which Sage record it became, how Procore learns the origin ids, and what
a change after sync does. Adding a kind adds a module and one line in ``_load``.

Budgets, commitment change orders, subcontractor invoices, cost codes and sub jobs are
modules; commitments, projects and vendors
predate the registry and are still served by the
branches in ``services.exporter`` / ``services.results`` (docs/decisions.md: "One
registry for item kinds").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient
    from chalicelib.adapters.store import ItemStore
    from chalicelib.domain.models import Item, Link
    from chalicelib.domain.observations import AfterSyncRule
    from chalicelib.relay_protocol import Command


@dataclass(frozen=True)
class ExportContext:
    """What a kind may read to build its command (read by the exporter)."""

    project_link: Link | None
    cost_types: Mapping[str, int]
    advanced: Mapping[str, Any] = field(default_factory=dict)
    # The table, for kinds that build on other records (a CCO on its commitment's item).
    store: ItemStore | None = None


class ItemKindModule(Protocol):
    name: str
    link_kind: str
    after_sync: AfterSyncRule

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        """The accepted snapshot as one Sage command; MappingError when it cannot be."""

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        """(Sage key kept as the link and origin id, visible origin code)."""

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        """Tell Procore which Sage record each part became; Procore's refusal or None."""

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        """Unlink: Procore forgets the Sage records; Procore's refusal or None."""


_REGISTRY: dict[str, ItemKindModule] = {}


def _load() -> None:
    from chalicelib.kinds import budget, cco, cost_code, sub_job, subcontractor_invoice

    for module in (budget.KIND, cco.KIND, subcontractor_invoice.KIND, cost_code.KIND,
                   sub_job.KIND):
        _REGISTRY[module.name] = module
    from chalicelib.kinds import owner_invoice  # owner invoices (Sage AR)

    _REGISTRY[owner_invoice.KIND.name] = owner_invoice.KIND
    from chalicelib.kinds import pcco  # prime contract change orders (prmchg + pmcgln)

    _REGISTRY[pcco.KIND.name] = pcco.KIND


def kind_module(name: str) -> ItemKindModule | None:
    """The kind's module, or None for the kinds served by the older branches."""
    if not _REGISTRY:
        _load()
    return _REGISTRY.get(name)
