"""The links an ERP admin looks at: each Procore record joined to its Sage record, with the
Sage side's name from the last pulled list and who linked them when.

A read model only: linking and unlinking stay with SetupService and the Unlinker, so the
same permissions and audit hold whichever page or script asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.adapters.store_records import erp_key
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.errors import BadRequest


@dataclass(frozen=True)
class LinkKind:
    kind: str  # the stored link kind
    sage_list: str  # the pulled Sage list naming the Sage side
    sage_noun: str


# The URL's kind (as in DELETE /links/{kind}/{procore_id}) -> what it links.
LINK_KINDS: dict[str, LinkKind] = {
    "projects": LinkKind("project", "jobs", "job"),
    "vendors": LinkKind("vendor", "vendors", "vendor"),
    "sub-jobs": LinkKind("sub_job", "phases", "phase"),
}


class LinkViews:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def list(self, user: User, kind: str) -> dict[str, Any]:
        """Every link of ``kind``, newest first, with the Sage record's name (None when
        the record is no longer in the pulled list: it was deleted or renumbered in Sage,
        which the page flags)."""
        require(user, Permission.READ_INBOX)
        if kind not in LINK_KINDS:
            raise BadRequest(f"query parameter 'kind' must be one of {', '.join(LINK_KINDS)}",
                             field="kind")
        spec = LINK_KINDS[kind]
        names = {erp_key(spec.sage_list, row): row.get("name")
                 for row in self.store.list_erp_rows(user.company_id, spec.sage_list)}
        links = sorted(self.store.list_links(user.company_id, spec.kind),
                       key=lambda link: (link.created_at, link.procore_id), reverse=True)
        return {
            "kind": kind,
            "sage_noun": spec.sage_noun,
            "links": [{
                "procore_id": link.procore_id,
                "sage_key": link.sage_key,
                "sage_label": link.sage_key.replace("#", " phase "),
                "sage_name": names.get(link.sage_key),
                "in_sage_list": link.sage_key in names,
                "linked_at": link.created_at or None,
                "linked_by": link.created_by or None,
                **({"origin": link.origin} if link.origin else {}),
            } for link in links],
        }
