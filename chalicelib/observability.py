"""Logger and metrics shared by every handler.

The Logger's service name differs from Chalice's app_name on purpose: when they are
equal, Chalice's own log handler and Powertools' both print every line.
Metrics are imported lazily (only handlers that count something pay for them).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from chalicelib.domain.tax_ids import redact, redact_text

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

SERVICE = "connector"
NAMESPACE = "ProcoreSageConnector"

# Attributes every LogRecord has; the others are the keys a call logged (extra=...).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime"}


class TaxIdRedaction(logging.Filter):
    """Vendors' tax ids never reach a log in clear: the message and every key logged are
    masked (tax-id keys' values, EIN/SSN shapes, nine-digit runs; domain.tax_ids), and an
    exception's text. On the logger and on its handler (records of child loggers pass the
    handler, not the logger's filters), so every handler after it (pytest's caplog at the
    root) sees the masked record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or record.args:
            record.msg, record.args = record.getMessage(), None
        record.msg = redact_text(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES:
                setattr(record, name, redact({name: value})[name])
        return True


def _redacted_json(log: dict[str, Any]) -> str:
    # Keys appended to every line (append_keys) and exceptions pass here, not the filter.
    plain = json.loads(json.dumps(log, default=str))  # exceptions etc. as their text
    return json.dumps(redact(plain), separators=(",", ":"))


logger = Logger(service=SERVICE, json_serializer=_redacted_json)
logger.addFilter(TaxIdRedaction())
logger.registered_handler.addFilter(TaxIdRedaction())


@lru_cache(maxsize=1)
def get_metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str, value: int = 1) -> None:
    """Add ``value`` to the counter ``name`` (flushed as EMF at the end of the invocation)."""
    from aws_lambda_powertools.metrics import MetricUnit

    get_metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush_metrics() -> None:
    metrics = get_metrics()
    if metrics.metric_set:
        metrics.flush_metrics()
