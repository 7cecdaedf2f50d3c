"""GET /health: can this deployment reach its table and queues, and is it configured?"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import ConnectorError


def check() -> dict[str, Any]:
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_export_queue, get_inbound_queue, get_store

    checks: dict[str, str] = {}
    settings = get_settings()
    for name, probe in (("table", get_store().ping), ("inbound_queue", get_inbound_queue().ping),
                        ("export_queue", get_export_queue().ping)):
        try:
            probe()
            checks[name] = "ok"
        except ConnectorError as exc:
            checks[name] = exc.message
    healthy = all(v == "ok" for v in checks.values())
    return {"status": "ok" if healthy else "degraded", "stage": settings.stage,
            "checks": checks}
