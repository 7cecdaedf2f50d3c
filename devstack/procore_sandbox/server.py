"""The loopback HTTP server, the request pipeline and ``ProcoreSandbox`` itself.

``ProcoreSandbox`` is assembled from one mixin per concern (``auth``, ``faults``,
``webhooks``, ``seeding``) and per resource family (``resources/``). Each mixin lists its
routes; ``API_ROUTES`` and ``CONTROL_ROUTES`` join them. A request goes through ``handle``:
faults and quota (``_api``), then the first route whose path and method match
(``_route``; a path that matches only with other methods answers 405), then the webhooks
its handler queued. ``main`` runs the sandbox in the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import signal
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.procore_sandbox.auth import SERVICE_ACCOUNT_USER_ID, AuthMixin
from devstack.procore_sandbox.faults import FaultsMixin
from devstack.procore_sandbox.resources.billing_periods import BillingPeriodsMixin
from devstack.procore_sandbox.resources.budget_changes import BudgetChangesMixin
from devstack.procore_sandbox.resources.budget_modifications import BudgetModificationsMixin
from devstack.procore_sandbox.resources.budget_sync import BudgetSyncMixin
from devstack.procore_sandbox.resources.budget_views import BudgetViewsMixin
from devstack.procore_sandbox.resources.budgets import BudgetsMixin
from devstack.procore_sandbox.resources.change_events import ChangeEventsMixin
from devstack.procore_sandbox.resources.change_order_lines import ChangeOrderLinesMixin
from devstack.procore_sandbox.resources.change_orders import ChangeOrdersMixin
from devstack.procore_sandbox.resources.commitments import CommitmentsMixin
from devstack.procore_sandbox.resources.contract_payments import ContractPaymentsMixin
from devstack.procore_sandbox.resources.cost_codes import CostCodesMixin
from devstack.procore_sandbox.resources.direct_cost_lines import DirectCostLinesMixin
from devstack.procore_sandbox.resources.direct_costs import DirectCostsMixin
from devstack.procore_sandbox.resources.hooks import HooksMixin
from devstack.procore_sandbox.resources.line_items import LineItemsMixin
from devstack.procore_sandbox.resources.payment_applications import PaymentApplicationsMixin
from devstack.procore_sandbox.resources.prime_change_orders import PrimeChangeOrdersMixin
from devstack.procore_sandbox.resources.prime_contract_lines import PrimeContractLinesMixin
from devstack.procore_sandbox.resources.prime_contracts import PrimeContractsMixin
from devstack.procore_sandbox.resources.projects import ProjectsMixin
from devstack.procore_sandbox.resources.requisition_items import RequisitionItemsMixin
from devstack.procore_sandbox.resources.requisitions import RequisitionsMixin
from devstack.procore_sandbox.resources.sub_jobs import SubJobsMixin
from devstack.procore_sandbox.resources.vendors import VendorsMixin
from devstack.procore_sandbox.seeding import SeedingMixin
from devstack.procore_sandbox.state import (
    LOOPBACK_HOSTS,
    Handler,
    Route,
    SandboxError,
    SandboxState,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhooks import (
    DELIVERY_MODES,
    DISCARD_AFTER,
    PAYLOAD_VERSIONS,
    RETRY_BASE,
    RETRY_CAP,
    WEBHOOK_TIMEOUT,
    DeliveryPolicy,
    WebhooksMixin,
)

logger = logging.getLogger(__package__)  # one logger for the whole sandbox

#: Every API route, family by family. The first entry whose path and method match answers;
#: no two entries with the same method match one path, so the order of families is free.
API_ROUTES: tuple[Route, ...] = (
    *AuthMixin.ROUTES,
    *ProjectsMixin.ROUTES,
    *VendorsMixin.ROUTES,
    *CommitmentsMixin.ROUTES,
    *LineItemsMixin.ROUTES,
    *SubJobsMixin.ROUTES,
    *CostCodesMixin.ROUTES,
    *BudgetViewsMixin.ROUTES,
    *BudgetSyncMixin.ROUTES,
    *BudgetsMixin.ROUTES,
    *BudgetModificationsMixin.ROUTES,
    *BudgetChangesMixin.ROUTES,
    *ChangeOrdersMixin.ROUTES,
    *ChangeOrderLinesMixin.ROUTES,
    *ChangeEventsMixin.ROUTES,
    *BillingPeriodsMixin.ROUTES,
    *RequisitionsMixin.ROUTES,
    *RequisitionItemsMixin.ROUTES,
    *ContractPaymentsMixin.ROUTES,
    *DirectCostsMixin.ROUTES,
    *DirectCostLinesMixin.ROUTES,
    *PrimeContractsMixin.ROUTES,
    *PrimeContractLinesMixin.ROUTES,
    *PrimeChangeOrdersMixin.ROUTES,
    *PaymentApplicationsMixin.ROUTES,
    *HooksMixin.ROUTES,
)
#: ``/_sandbox/*``: no auth, no quota.
CONTROL_ROUTES: tuple[Route, ...] = (
    *FaultsMixin.CONTROL_ROUTES,
    *SeedingMixin.CONTROL_ROUTES,
    *BudgetsMixin.CONTROL_ROUTES,
    *ChangeEventsMixin.CONTROL_ROUTES,
    ("POST", r"/_sandbox/reset", "_c_reset", False),
    *WebhooksMixin.CONTROL_ROUTES,
    ("GET", r"/_sandbox/request_counts", "_c_request_counts", False),
    *AuthMixin.CONTROL_ROUTES,
)


class ProcoreSandbox(
    ProjectsMixin,
    VendorsMixin,
    CommitmentsMixin,
    LineItemsMixin,
    SubJobsMixin,
    CostCodesMixin,
    BudgetViewsMixin,
    BudgetSyncMixin,
    BudgetsMixin,
    BudgetModificationsMixin,
    BudgetChangesMixin,
    ChangeOrdersMixin,
    ChangeOrderLinesMixin,
    ChangeEventsMixin,
    BillingPeriodsMixin,
    RequisitionsMixin,
    RequisitionItemsMixin,
    ContractPaymentsMixin,
    DirectCostsMixin,
    DirectCostLinesMixin,
    PrimeContractsMixin,
    PrimeContractLinesMixin,
    PrimeChangeOrdersMixin,
    PaymentApplicationsMixin,
    HooksMixin,
    AuthMixin,
    FaultsMixin,
    WebhooksMixin,
    SeedingMixin,
):
    """In-memory Procore on a loopback ``ThreadingHTTPServer``; see the package docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = "connector-client",
        client_secret: str = "connector-secret",
        company_id: int = 4264,
        company_name: str = "Sandbox Builders Inc",
        webhook_url: str | None = None,
        webhook_authorization: str | None = None,
        payload_version: str = "v2.0",
        webhook_delivery: str = "sync",
        rate_limit: int = 3600,
        rate_window: int = 3600,
        token_ttl: int = 5400,
        delivery_timeout: float = WEBHOOK_TIMEOUT,
        retry_base: float = RETRY_BASE,
        retry_cap: float = RETRY_CAP,
        discard_after: float = DISCARD_AFTER,
    ) -> None:
        """``delivery_timeout``, ``retry_base``, ``retry_cap`` and ``discard_after`` (seconds)
        are Procore's webhook delivery policy (defaults 5, 1, 3600, 12 h); see ``webhooks``."""
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox listens on loopback only, not {host!r}")
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self.company_id = int(company_id)
        self.company_name = company_name
        self.client_id = client_id
        self.service_account_user_id = SERVICE_ACCOUNT_USER_ID
        self._clients: dict[str, tuple[str, int]] = {
            client_id: (client_secret, SERVICE_ACCOUNT_USER_ID)
        }
        self.token_ttl = token_ttl
        self.state = SandboxState()
        self.request_counts: Counter[str] = Counter()
        self.requests: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._init_webhooks(
            DeliveryPolicy(
                float(delivery_timeout), float(retry_base), float(retry_cap), float(discard_after)
            )
        )
        self.set_webhook(webhook_url, webhook_authorization, payload_version, webhook_delivery)
        self._rl_limit = rate_limit
        self._rl_window = rate_window
        self._rl_start = time.time()
        self._rl_used = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._api_routes = self._compile(API_ROUTES)
        self._control_routes = self._compile(CONTROL_ROUTES)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> ProcoreSandbox:
        """Bind and serve in a daemon thread; idempotent."""
        if self._server is not None:
            return self
        self._start_deliveries()
        server = _Server((self._host, self._port), _RequestHandler, self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="procore-sandbox",
            daemon=True,
        )
        self._thread.start()
        logger.info("procore sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, end webhook delivery, release the port; idempotent.

        The delivery thread makes no more retries; what is queued for endpoints that are not
        paused is POSTed for at most ``delivery_timeout``; the thread is joined."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._stop_deliveries()

    def __enter__(self) -> ProcoreSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox is not started")
        port = self._server.server_address[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox is not started")
        return int(self._server.server_address[1])

    def reset(self) -> None:
        """Forget all data, faults, events, counters and queued webhooks (with the delivery
        state and discards); keep clients, tokens, the webhook and the delivery policy."""
        with self.state.lock:
            tokens = self.state.tokens
            self.state = SandboxState(lock=self.state.lock, tokens=tokens)
            self.request_counts.clear()
            self.requests.clear()
            self.events.clear()
            self._rl_start, self._rl_used = time.time(), 0
        self._reset_deliveries()

    # --- request pipeline -----------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: ``(status, headers, body)``. Used by the HTTP handler."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        req = _Request(
            method=method.upper(),
            path=path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
        )
        with self.state.lock:
            self.request_counts[path] += 1
        rate_headers: dict[str, str] = {}
        try:
            if path.startswith("/_sandbox/"):
                rate_headers = self._quota_headers(consume=False)[1]
                response = self._route(self._control_routes, req)
            else:
                response, rate_headers = self._api(req)
        except SandboxError as exc:
            response = _Response(exc.status, {"errors": exc.errors}, exc.headers)
        except Exception:  # answer 500, keep serving
            logger.exception("sandbox handler failed for %s %s", method, path)
            response = _Response(500, {"errors": "internal sandbox error"})
        self._deliver(req.events)
        out_headers = {**rate_headers, **response.headers}
        payload = b""
        if response.status != 204 and response.body is not None:
            payload = json.dumps(response.body).encode()
            out_headers["Content-Type"] = "application/json; charset=utf-8"
        with self.state.lock:
            self.requests.append(
                {
                    "method": req.method,
                    "path": path,
                    "query": parts.query,
                    "status": response.status,
                    "company_header": req.headers.get("procore-company-id"),
                    "client_id": req.actor.application_id if req.actor else None,
                }
            )
        return response.status, out_headers, payload

    def _api(self, req: _Request) -> tuple[_Response, dict[str, str]]:
        counted = req.path.startswith("/rest/")
        with self.state.lock:
            fault = self._take_fault(req.method, req.path)
            allowed, rate_headers = self._quota_headers(consume=counted)
        if fault is not None and not fault.after_handling:
            return self._fault_response(fault, rate_headers)
        if not allowed:
            return _Response(429, {"errors": "Rate limit exceeded"}), rate_headers
        if fault is None:
            return self._route(self._api_routes, req), rate_headers
        with contextlib.suppress(SandboxError):  # its answer, even a refusal, is lost
            self._route(self._api_routes, req)
        return self._fault_response(fault, rate_headers)

    def _compile(self, table: Iterable[Route]) -> list[tuple[str, re.Pattern[str], Handler, bool]]:
        """Patterns anchored at the end, handler names bound to this sandbox's methods."""
        return [(m, re.compile(p + r"\Z"), getattr(self, h), auth) for m, p, h, auth in table]

    def _route(
        self, routes: list[tuple[str, re.Pattern[str], Handler, bool]], req: _Request
    ) -> _Response:
        path_known = False
        for method, pattern, handler, needs_auth in routes:
            match = pattern.match(req.path)
            if match is None:
                continue
            path_known = True
            if method != req.method:
                continue
            if needs_auth:
                self._authenticate(req)
            with self.state.lock:
                return handler(req, match)
        if path_known:
            return _Response(405, {"errors": f"{req.method} is not allowed on {req.path}"})
        return _Response(404, {"errors": f"No route matches {req.method} {req.path}"})

    # --- control endpoints ----------------------------------------------------------------
    def _c_reset(self, req: _Request, _: re.Match[str]) -> _Response:
        self.reset()
        return _Response(204)

    def _c_request_counts(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, dict(self.request_counts))


# --- HTTP plumbing ------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is routine here: log it, no stderr traceback."""
        logger.debug("request from %s failed", client_address, exc_info=True)

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sandbox: ProcoreSandbox,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "ProcoreSandbox/1.0"

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.sandbox.handle(
            self.command, self.path, dict(self.headers.items()), body
        )
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away before the answer to %s %s", self.command, self.path)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


# --- command line -------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the sandbox in the foreground until SIGINT/SIGTERM."""
    from devstack import procore_sandbox  # its docstring describes the sandbox

    doc = procore_sandbox.__doc__
    parser = argparse.ArgumentParser(
        prog="python -m devstack.procore_sandbox",
        description=doc.splitlines()[0] if doc else None,
    )
    parser.add_argument("--host", default="127.0.0.1", choices=sorted(LOOPBACK_HOSTS))
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--client-id", default="connector-client")
    parser.add_argument("--client-secret", default="connector-secret")
    parser.add_argument("--company-id", type=int, default=4264)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-authorization")
    parser.add_argument("--payload-version", default="v2.0", choices=PAYLOAD_VERSIONS)
    parser.add_argument("--webhook-delivery", default="async", choices=DELIVERY_MODES)
    parser.add_argument("--webhook-timeout", type=float, default=WEBHOOK_TIMEOUT)
    parser.add_argument("--webhook-retry-base", type=float, default=RETRY_BASE)
    parser.add_argument("--webhook-retry-cap", type=float, default=RETRY_CAP)
    parser.add_argument("--webhook-discard-after", type=float, default=DISCARD_AFTER)
    parser.add_argument("--rate-limit", type=int, default=3600)
    parser.add_argument("--seed", default="demo", choices=("demo", "none"))
    parser.add_argument(
        "--matching-vendors",
        action="store_true",
        help="seed two more directory companies for vendor name matching",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        sandbox = ProcoreSandbox(
            args.host,
            args.port,
            client_id=args.client_id,
            client_secret=args.client_secret,
            company_id=args.company_id,
            webhook_url=args.webhook_url,
            webhook_authorization=args.webhook_authorization,
            payload_version=args.payload_version,
            webhook_delivery=args.webhook_delivery,
            rate_limit=args.rate_limit,
            delivery_timeout=args.webhook_timeout,
            retry_base=args.webhook_retry_base,
            retry_cap=args.webhook_retry_cap,
            discard_after=args.webhook_discard_after,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logger.info("signal %s received; stopping", signum)
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sandbox.start()
    if args.seed == "demo":
        seeded = sandbox.seed(demo=True, matching_vendors=args.matching_vendors)
        logger.info("seeded demo data: %s", json.dumps(seeded))
    logger.info("ready: %s (company %s)", sandbox.url, sandbox.company_id)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
    logger.info("stopped")
    return 0
