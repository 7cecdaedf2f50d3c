"""Logger and metrics shared by every handler.

The Logger's service name differs from Chalice's app_name on purpose: when they are
equal, Chalice's own log handler and Powertools' both print every line.
Metrics are imported lazily (only handlers that count something pay for them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

SERVICE = "connector"
NAMESPACE = "ProcoreSageConnector"

logger = Logger(service=SERVICE)


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
