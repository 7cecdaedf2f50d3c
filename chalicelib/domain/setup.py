"""Procore projects and companies as Sage 100 Contractor jobs and vendors (pure).

A job is created in one system and then added to the other, never in both; vendors can
start on either side. So before anything is sent, a project or company is checked for an
existing link and for Sage's field widths (actrec/actpay), and a link preview shows where
the Procore record and the Sage record it would be tied to disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from chalicelib.domain import tax_ids
from chalicelib.domain.sage_mapping import MappingError
from chalicelib.relay_protocol import JobPayload, VendorPayload

# Sage 100 Contractor widths (actrec / actpay; see relay_protocol.JobPayload).
JOB_NAME_MAX = 75
SHORT_NAME_MAX = 30
ADDRESS_MAX = 50
CITY_MAX = 50
STATE_MAX = 2
ZIP_MAX = 10
TAX_ID_MAX = 20
JOB_NUMBER_MAX = 9_999_999_999  # actrec.recnum: at most 10 digits
VENDOR_NAME_MAX = 30  # Procore's Sage connector refuses longer company names (the policy)
SAGE_VENDOR_NAME_MAX = 75  # actpay.vndnme: what Sage itself can hold


def _text(value: Any) -> str | None:
    """Stripped text, None when blank, so "" and None compare and hash the same."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _short(name: str) -> str:
    return name[:SHORT_NAME_MAX].rstrip()


# ---- projects -> jobs ----------------------------------------------------------------------
def proposed_job_number(project_number: str | None) -> int | None:
    """Procore's project number as a Sage job number ("2024-001" -> 2024001), if it can be one.

    Only a suggestion: the approver types the job number at export.
    """
    digits = re.sub(r"[^0-9]", "", str(project_number or "")).lstrip("0")
    if not digits or len(digits) > 10:
        return None
    return int(digits)


def project_snapshot(project: Mapping[str, Any]) -> dict[str, Any]:
    """The project fields a Sage job is made from; nothing that changes on its own."""
    return {
        "id": project.get("id"),
        "name": _text(project.get("name")) or "",
        "project_number": _text(project.get("project_number")),
        "address": _text(project.get("address")),
        "city": _text(project.get("city")),
        "state_code": _text(project.get("state_code")),
        "zip": _text(project.get("zip")),
        "active": project.get("active") is not False,
        "origin_id": _text(project.get("origin_id")),
        "proposed_job_number": proposed_job_number(project.get("project_number")),
    }


def _width_reasons(snapshot: Mapping[str, Any], where: str) -> list[str]:
    reasons: list[str] = []
    for key, label, limit in (("address", "Address", ADDRESS_MAX), ("city", "City", CITY_MAX),
                              ("zip", "ZIP code", ZIP_MAX)):
        value = snapshot.get(key) or ""
        if len(value) > limit:
            reasons.append(f"{label} '{value}' is {len(value)} characters; Sage 100 Contractor "
                           f"takes at most {limit}. Shorten it in {where}.")
    state = snapshot.get("state_code") or ""
    if len(state) > STATE_MAX:
        reasons.append(f"State '{state}' is {len(state)} characters; Sage 100 Contractor takes "
                       f"a {STATE_MAX}-letter state code. Fix it in {where}.")
    return reasons


def project_reasons(snapshot: Mapping[str, Any], *, linked_job: int | None) -> list[str]:
    """Every reason the project cannot be sent to Sage as a new job yet, for a PM."""
    reasons: list[str] = []
    if linked_job is not None:
        reasons.append(f"Project is already linked to Sage job {linked_job}; a job is created "
                       "in one system and then added to the other, never twice.")
    name = snapshot.get("name") or ""
    if not name:
        reasons.append(f"The project has no name; Sage jobs need one (up to {JOB_NAME_MAX} "
                       "characters).")
    elif len(name) > JOB_NAME_MAX:
        reasons.append(f"Project name '{name}' is {len(name)} characters; Sage 100 Contractor "
                       f"jobs take at most {JOB_NAME_MAX}. Shorten it in the project's "
                       "settings.")
    return reasons + _width_reasons(snapshot, "the project's address")


def _payload_error(exc: ValidationError) -> MappingError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return MappingError(f"{where}: {first['msg']}")


def build_job_payload(snapshot: Mapping[str, Any], job_number: int) -> JobPayload:
    """The add_job payload; MappingError when the number or the project can't be a job."""
    if (isinstance(job_number, bool) or not isinstance(job_number, int)
            or not 1 <= job_number <= JOB_NUMBER_MAX):
        raise MappingError(f"Job number {job_number!r} cannot be used; Sage job numbers are "
                           f"whole numbers from 1 to {JOB_NUMBER_MAX}.")
    problems = project_reasons(snapshot, linked_job=None)
    if problems:
        raise MappingError(" ".join(problems))
    name = snapshot["name"]
    try:
        return JobPayload(job=job_number, name=name, short_name=_short(name),
                          address=snapshot.get("address"), city=snapshot.get("city"),
                          state=snapshot.get("state_code"), zip_code=snapshot.get("zip"))
    except ValidationError as exc:
        raise _payload_error(exc) from exc


# ---- companies -> vendors ------------------------------------------------------------------
def procore_tax_id(vendor: Mapping[str, Any]) -> str | None:
    """The clear tax id of a Procore company record (its business register's identifier)."""
    register = vendor.get("business_register")
    return _text(register.get("identifier")) if isinstance(register, Mapping) else None


def vendor_snapshot(vendor: Mapping[str, Any], tax_id_key: str) -> dict[str, Any]:
    """The Directory company fields a Sage vendor is made from; of the tax id only its last
    four, keyed fingerprint and length (the clear value is re-read at export)."""
    return {
        "id": vendor.get("id"),
        "name": _text(vendor.get("name")) or "",
        "abbreviated_name": _text(vendor.get("abbreviated_name")),
        "address": _text(vendor.get("address")),
        "city": _text(vendor.get("city")),
        "state_code": _text(vendor.get("state_code")),
        "zip": _text(vendor.get("zip")),
        "is_active": vendor.get("is_active") is not False,
        **tax_ids.protect(procore_tax_id(vendor), tax_id_key),
        "origin_id": _text(vendor.get("origin_id")),
    }


def _vendor_data_reasons(snapshot: Mapping[str, Any], name_max: int) -> list[str]:
    reasons: list[str] = []
    name = snapshot.get("name") or ""
    if not name:
        reasons.append("The company has no name in the Directory; Sage vendors need one.")
    elif len(name) > name_max:
        reasons.append(f"Company name '{name}' is {len(name)} characters; Sage 100 Contractor "
                       f"vendors take at most {name_max} (Procore's connector refuses it "
                       "too). Shorten it in the Directory or link it to an existing Sage "
                       "vendor.")
    reasons += _width_reasons(snapshot, "the company's Directory entry")
    length = int(snapshot.get(tax_ids.LENGTH) or 0)
    if length > TAX_ID_MAX:
        reasons.append(f"Tax id {tax_ids.mask(snapshot.get(tax_ids.LAST4))} is {length} "
                       f"characters; Sage 100 Contractor takes at most {TAX_ID_MAX}. Fix it "
                       "in the company's Directory entry.")
    return reasons


def vendor_reasons(snapshot: Mapping[str, Any], *, linked_vendor: int | None,
                   name_max: int = VENDOR_NAME_MAX) -> list[str]:
    """Every reason the company cannot be exported as a new Sage vendor yet, for a PM."""
    reasons: list[str] = []
    name = snapshot.get("name") or ""
    if linked_vendor is not None:
        reasons.append(f"Company '{name or snapshot.get('id')}' is already linked to Sage "
                       f"vendor {linked_vendor}; exporting it again would make a duplicate "
                       "vendor.")
    reasons += _vendor_data_reasons(snapshot, name_max)
    if snapshot.get("is_active") is False:
        reasons.append(f"Company '{name or snapshot.get('id')}' is inactive in the Directory; "
                       "make it active before sending it to Sage.")
    return reasons


def build_vendor_payload(snapshot: Mapping[str, Any], vendor_number: int | None, *,
                         tax_id: str | None = None,
                         name_max: int = SAGE_VENDOR_NAME_MAX) -> VendorPayload:
    """The add_vendor payload (None = Sage's next free number); MappingError if it can't be.

    ``tax_id``: the clear value, re-read from Procore by the caller when the snapshot says
    there is one (the snapshot keeps only its last four and fingerprint). Checks only what
    Sage itself would refuse; the stricter 30-character policy belongs to vendor_reasons,
    so a company whose limit was raised in settings can still be built.
    """
    if vendor_number is not None and (isinstance(vendor_number, bool)
                                      or not isinstance(vendor_number, int)
                                      or vendor_number < 1):
        raise MappingError(f"Vendor number {vendor_number!r} cannot be used; Sage vendor "
                           "numbers are whole numbers from 1 up.")
    problems = _vendor_data_reasons(snapshot, name_max)
    if problems:
        raise MappingError(" ".join(problems))
    name = snapshot["name"]
    try:
        return VendorPayload(vendor=vendor_number, name=name,
                             short_name=_short(snapshot.get("abbreviated_name") or name),
                             address=snapshot.get("address"), city=snapshot.get("city"),
                             state=snapshot.get("state_code"), zip_code=snapshot.get("zip"),
                             tax_id=tax_id)
    except ValidationError as exc:
        raise _payload_error(exc) from exc


# ---- link previews -------------------------------------------------------------------------
def _same_text(a: Any, b: Any) -> bool:
    """Equal apart from case and spacing; blank and missing are the same."""
    return " ".join(str(a or "").split()).casefold() == " ".join(str(b or "").split()).casefold()


def _differences(pairs: list[tuple[str, Any, Any, bool]]) -> list[dict[str, Any]]:
    return [{"field": field, "procore": procore, "sage": sage}
            for field, procore, sage, same in pairs if not same]


def _address_pairs(snapshot: Mapping[str, Any],
                   sage: Mapping[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    pairs = []
    for field, ours, theirs in (("address", "address", "address"), ("city", "city", "city"),
                                ("state", "state_code", "state"), ("zip", "zip", "zip_code")):
        procore, sage_value = snapshot.get(ours), sage.get(theirs)
        pairs.append((field, procore, sage_value, _same_text(procore, sage_value)))
    return pairs


def _same_number(project_number: Any, job: Any) -> bool:
    if _same_text(project_number, job):
        return True
    proposed = proposed_job_number(project_number)
    return proposed is not None and str(job or "").strip() == str(proposed)


def job_differences(project_snapshot: Mapping[str, Any],
                    sage_job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Where a project and the Sage job it would be linked to disagree, values as written.

    The number counts as the same when the project number's digits are the job number
    ("2024-001" and 2024001).
    """
    number, job = project_snapshot.get("project_number"), sage_job.get("job")
    return _differences([
        ("name", project_snapshot.get("name"), sage_job.get("name"),
         _same_text(project_snapshot.get("name"), sage_job.get("name"))),
        ("number", number, job, _same_number(number, job)),
        *_address_pairs(project_snapshot, sage_job),
    ])


def _masked(kept: Mapping[str, Any]) -> str | None:
    return tax_ids.mask(kept.get(tax_ids.LAST4)) if tax_ids.present(kept) else None


def vendor_differences(vendor_snapshot: Mapping[str, Any],
                       sage_vendor: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Where a company and the Sage vendor it would be linked to disagree, values as written.

    Tax ids compare by their keyed fingerprints (both sides keep only the last four, shown
    masked, and the fingerprint); the short name only when Procore has an abbreviated
    name; active only when the Sage row says whether it is inactive.
    """
    pairs: list[tuple[str, Any, Any, bool]] = [
        ("name", vendor_snapshot.get("name"), sage_vendor.get("name"),
         _same_text(vendor_snapshot.get("name"), sage_vendor.get("name"))),
    ]
    abbreviated = vendor_snapshot.get("abbreviated_name")
    if abbreviated:
        pairs.append(("short_name", abbreviated, sage_vendor.get("short_name"),
                      _same_text(abbreviated, sage_vendor.get("short_name"))))
    pairs.append(("tax_id", _masked(vendor_snapshot), _masked(sage_vendor),
                  tax_ids.same(vendor_snapshot, sage_vendor)))
    pairs += _address_pairs(vendor_snapshot, sage_vendor)
    if "inactive" in sage_vendor:
        active = vendor_snapshot.get("is_active") is not False
        sage_active = not sage_vendor["inactive"]
        pairs.append(("active", active, sage_active, active == sage_active))
    return _differences(pairs)
