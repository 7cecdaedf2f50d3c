"""Vendors' tax ids (EINs, or SSNs of sole proprietors), never kept or shown in clear (pure).

What the connector keeps of a tax id is its last four digits (to show, masked:
"•••••6789"), a keyed fingerprint (to compare: HMAC-SHA256 of the digits with the
deployment's tax id key; a plain hash of a 9-digit SSN is reversed by trying all 10^9)
and its length (Sage's 20-character width). The clear value is read from its source
(Procore's company record, Sage's row in a relay result) only when it is written to the
other system, and travels through SQS only then.

``redact`` and ``redact_text`` mask tax ids in what is logged or kept verbatim: values
of keys named like a tax id, and EIN/SSN-shaped numbers in text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

MASK = "•••••"
LAST4 = "tax_id_last4"
FINGERPRINT = "tax_id_fingerprint"
LENGTH = "tax_id_length"
KEPT = (LAST4, FINGERPRINT, LENGTH)

# Keys whose values are tax ids wherever they appear (logs, quarantined bodies).
SENSITIVE_KEY = re.compile(r"^(?:.*_)?(?:tax_?id|identifier|ssn|ein|fedidn|federal_id)$",
                           re.IGNORECASE)
# EIN (12-3456789) and SSN (123-45-6789) shapes; a bare run of nine digits only where
# asked (ids of other records are nine digits too, and a quarantined body is replayed).
_SHAPED = re.compile(r"(?<![\w-])(?:\d{2}-\d{7}|\d{3}-\d{2}-\d{4})(?![\w-])")
_BARE_NINE = re.compile(r"(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])")
# "identifier": "94-1234567" (JSON) or 'tax_id': '...' (a repr) inside text.
_QUOTED_PAIR = re.compile(
    r"""(?P<key>["'](?:[A-Za-z_]*_)?(?:tax_?id|identifier|ssn|ein|fedidn|federal_id)["']"""
    r"""\s*:\s*)(?P<q>["'])(?P<value>[^"']*)(?P=q)""", re.IGNORECASE)


def digits_of(value: Any) -> str | None:
    """Digits only ("12-3456789" -> "123456789"); None when there are none."""
    digits = re.sub(r"[^0-9]", "", str(value if value is not None else ""))
    return digits or None


def is_placeholder(digits: str | None) -> bool:
    """00-0000000, 99-9999999 and the like: filled in to get past a form, they say nothing."""
    return digits is not None and len(set(digits)) == 1


def last4(value: Any) -> str | None:
    """The last four digits; None when there are four or fewer (they would be the whole id)."""
    digits = digits_of(value)
    return digits[-4:] if digits is not None and len(digits) > 4 else None


def mask(last_four: str | None) -> str:
    """How a tax id is shown: "•••••6789", or "•••••" alone when no last four is kept."""
    return MASK + (last_four or "")


def mask_value(value: Any) -> str:
    """A clear value, masked (one masked already is left as it is)."""
    if isinstance(value, str) and value.startswith(MASK):
        return value
    return mask(last4(value))


def fingerprint(value: Any, key: str) -> str | None:
    """HMAC-SHA256 of the digits under the deployment's key; None for no tax id or a
    placeholder (two placeholders are not the same vendor)."""
    digits = digits_of(value)
    if digits is None or is_placeholder(digits):
        return None
    if not key:
        raise ValueError("the tax id key is empty")
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()


def protect(value: Any, key: str) -> dict[str, Any]:
    """What is kept of a tax id instead of it: last four, fingerprint, length."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return {LAST4: None, FINGERPRINT: None, LENGTH: 0}
    return {LAST4: last4(text), FINGERPRINT: fingerprint(text, key), LENGTH: len(text)}


def protect_row(row: Mapping[str, Any], key: str, field: str = "tax_id") -> dict[str, Any]:
    """``row`` with ``field`` (a clear tax id) replaced by what is kept of it."""
    kept = {k: v for k, v in row.items() if k != field}
    return {**kept, **protect(row.get(field), key)} if field in row else kept


def present(value: Any) -> bool:
    """Whether what was kept says there is a tax id."""
    return bool(value.get(LENGTH) or value.get(LAST4) or value.get(FINGERPRINT)) \
        if isinstance(value, Mapping) else False


def shown(row: Mapping[str, Any], *, visible: bool) -> dict[str, Any]:
    """``row`` for an answer: the kept fields replaced by ``tax_id`` masked ("•••••6789",
    None when there is none), or no tax id at all when ``visible`` is False."""
    out = {k: v for k, v in row.items() if k not in KEPT and k != "tax_id"}
    if visible:
        out["tax_id"] = mask(row.get(LAST4)) if present(row) else None
    return out


def same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two kept tax ids are the same id, as far as the kept fields tell: equal
    fingerprints, or both without one and the same last four (blank = blank)."""
    if a.get(FINGERPRINT) or b.get(FINGERPRINT):
        return a.get(FINGERPRINT) == b.get(FINGERPRINT)
    return (a.get(LAST4), present(a)) == (b.get(LAST4), present(b))


# ---- redaction --------------------------------------------------------------------------------
def redact_text(text: str, *, bare_nine: bool = True) -> str:
    """``text`` with tax ids masked: quoted tax-id keys' values, EIN/SSN shapes, and (when
    ``bare_nine``) any run of exactly nine digits."""
    text = _QUOTED_PAIR.sub(
        lambda m: f"{m['key']}{m['q']}{mask_value(m['value']) if m['value'] else ''}{m['q']}",
        text)
    text = _SHAPED.sub(lambda m: mask_value(m.group(0)), text)
    if bare_nine:
        text = _BARE_NINE.sub(lambda m: mask_value(m.group(0)), text)
    return text


def redact(value: Any, *, bare_nine: bool = True) -> Any:
    """``value`` (dicts, lists, strings) with tax ids masked; keys named like a tax id have
    their (scalar) values masked whatever their shape."""
    if isinstance(value, Mapping):
        return {k: (mask_value(v) if isinstance(k, str) and SENSITIVE_KEY.match(k)
                    and isinstance(v, str | int) and not isinstance(v, bool) and v != ""
                    else redact(v, bare_nine=bare_nine))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, bare_nine=bare_nine) for v in value]
    if isinstance(value, str):
        return redact_text(value, bare_nine=bare_nine)
    return value
