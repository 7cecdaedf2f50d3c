"""The relay agent's logs: one JSON object per line on stderr, so an on-premises log shipper
(or Windows' event forwarding through a file) needs no parsing rules. Vendors' tax ids
(Sage's actpay.fedidn rides in vendor pulls and add_vendor commands) are masked in every
line, as the connector's logs mask them (chalicelib.domain.tax_ids, not part of the agent's
distribution: the same rules, kept here)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

MASK = "•••••"
# Keys whose values are tax ids; EIN/SSN shapes and nine-digit runs in any text.
_SENSITIVE_KEY = re.compile(r"^(?:.*_)?(?:tax_?id|identifier|ssn|ein|fedidn|federal_id)$",
                            re.IGNORECASE)
_SHAPED = re.compile(r"(?<![\w-])(?:\d{2}-\d{7}|\d{3}-\d{2}-\d{4})(?![\w-])"
                     r"|(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])")
_QUOTED_PAIR = re.compile(
    r"""(?P<key>["'](?:[A-Za-z_]*_)?(?:tax_?id|identifier|ssn|ein|fedidn|federal_id)["']"""
    r"""\s*:\s*)(?P<q>["'])(?P<value>[^"']*)(?P=q)""", re.IGNORECASE)


def _mask(value: Any) -> str:
    """"•••••6789": the last four digits only (none when there are four or fewer)."""
    if isinstance(value, str) and value.startswith(MASK):
        return value
    digits = re.sub(r"[^0-9]", "", str(value))
    return MASK + (digits[-4:] if len(digits) > 4 else "")


def redact(value: Any) -> Any:
    """``value`` with tax ids masked: tax-id keys' values, and the shapes in any text."""
    if isinstance(value, dict):
        return {k: _mask(v) if _SENSITIVE_KEY.match(str(k)) and isinstance(v, str | int)
                and not isinstance(v, bool) and v != "" else redact(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        value = _QUOTED_PAIR.sub(lambda m: f"{m['key']}{m['q']}"
                                 f"{_mask(m['value']) if m['value'] else ''}{m['q']}", value)
        return _SHAPED.sub(lambda m: _mask(m.group(0)), value)
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so an on-premises log shipper needs no parsing rules."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        plain = json.loads(json.dumps(line, default=str))  # objects logged, as their text
        return json.dumps(redact(plain))


def configure_logging(level: int = logging.INFO, stream: Any = None) -> None:
    """Send the ``relay`` loggers to ``stream`` (stderr by default) as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("relay")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
