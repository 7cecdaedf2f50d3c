"""An imported vendor's tax id, from Sage to Procore without being kept.

The Sage vendor list cache keeps no clear tax id (chalicelib.domain.tax_ids), so importing
a Sage vendor into Procore's Directory asks the relay agent for the vendor list again
(item id ``import:vendor_tax_id:<procore company>:<sage vendor>``); its pages travel
through SQS only, and the page holding the vendor's row sets the tax id in Procore::

    import: company created/adopted -> linked -> vendor list requested
    a page arrives -> the row found -> still linked, Procore has no tax id -> POST register
                                        ^ a redelivered page finds it set: nothing sent

The register POST is never resent after a lost answer (Procore may have acted): the
redelivery of the page reads the company first and finds the tax id there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain import setup, tax_ids
from chalicelib.observability import logger
from chalicelib.relay_protocol import Result

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient

TAX_ID_READ = "import:vendor_tax_id:"


class VendorTaxIdRead:
    def __init__(self, store: ItemStore,
                 procore_for: Callable[[int], ProcoreClient]) -> None:
        self.store = store
        self.procore_for = procore_for

    def handle(self, result: Result) -> str:
        """One page of the vendor list read for an imported vendor's tax id: the row's
        clear value goes to the Procore company it was imported as, if that company is
        still linked to the vendor and has no tax id yet."""
        procore_id, _, vendor = result.item_id.removeprefix(TAX_ID_READ).partition(":")
        if not result.ok:
            logger.warning("tax id read failed", sage_vendor=vendor,
                           error=result.error.code if result.error else None)
            return "tax_id_read_failed"
        row = next((r for r in result.rows() if str(r.get("vendor")) == vendor), None)
        if row is None or not str(row.get("tax_id") or "").strip():
            return "tax_id_not_on_page"
        link = self.store.get_link(result.company_id, "vendor", int(procore_id))
        if link is None or link.sage_key != vendor:
            logger.info("tax id read for a vendor no longer linked", sage_vendor=vendor,
                        procore_id=procore_id)
            return "tax_id_unlinked"
        procore = self.procore_for(result.company_id)
        if setup.procore_tax_id(procore.get_vendor(int(procore_id))):
            return "tax_id_already_set"
        procore.set_vendor_tax_id(int(procore_id), "ein", str(row["tax_id"]).strip())
        logger.info("tax id set from Sage", sage_vendor=vendor, procore_id=procore_id)
        return "tax_id_set"


def without_tax_id(company: dict[str, Any]) -> dict[str, Any]:
    """A Procore company for an answer: its register's identifier masked."""
    register = company.get("business_register")
    if not isinstance(register, dict) or not register.get("identifier"):
        return company
    return {**company, "business_register": {
        **register, "identifier": tax_ids.mask_value(register["identifier"])}}
