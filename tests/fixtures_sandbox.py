"""Shared fixtures for tests that talk to the Procore sandbox over real loopback HTTP.

Import the fixtures you use into a test module::

    from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401

The functions end in ``_fixture`` but register under the short names (``sandbox``,
``demo``, ``webhook_receiver``): importing them does not shadow the test arguments, so
ruff's F811 stays quiet. Every server started here is stopped when its fixture ends.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devstack.procore_sandbox import ProcoreSandbox, seed_demo

CLIENT_ID = "connector-client"
CLIENT_SECRET = "connector-secret"
COMPANY_ID = 4264

# Loopback only: never let an environment proxy see test traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: Any


def http_call(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    company: int | str | None = COMPANY_ID,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    raw: bytes | None = None,
) -> HttpAnswer:
    """One plain urllib request; 4xx/5xx come back as answers, not exceptions."""
    headers = {"Accept": "application/json"}
    data: bytes | None = raw
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if raw is not None:
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if company is not None:
        headers["Procore-Company-Id"] = str(company)
    request = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            status, answer_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, answer_headers, payload = exc.code, exc.headers, exc.read()
        exc.close()
    body = json.loads(payload) if payload else None
    return HttpAnswer(status, dict(answer_headers.items()), body)


def fetch_token(base_url: str) -> str:
    answer = http_call(
        base_url,
        "POST",
        "/oauth/token",
        company=None,
        form={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert answer.status == 200, answer.body
    return str(answer.body["access_token"])


class FakeTime:
    """A clock that only moves when slept on; records every sleep.

    Starts at the real time because the sandbox's ``X-Rate-Limit-Reset`` is real epoch time.
    """

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    payload: Any
    status: int = 200  # what the receiver answered
    at: float = 0.0  # time.monotonic() when the POST arrived


#: ``forward(headers, body) -> status``: hand a delivery to the connector and answer as it did.
Forward = Callable[[dict[str, str], bytes], int]


@dataclass
class WebhookReceiver:
    """A tiny loopback HTTP server recording POSTed webhooks (every attempt, with what it
    answered). It answers, in this order: the next scripted failure (``fail_next``), else
    what ``forward`` returns when set, else ``status``."""

    server: ThreadingHTTPServer
    received: list[ReceivedWebhook] = field(default_factory=list)
    status: int = 200
    cond: threading.Condition = field(default_factory=threading.Condition)
    forward: Forward | None = None
    #: held while forwarding: a test running the connector in-process takes it too
    lock: threading.RLock = field(default_factory=threading.RLock)
    scripted: deque[tuple[int, float]] = field(default_factory=deque)
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/webhooks/procore"

    def fail_next(self, count: int, status: int = 503, *, delay: float = 0.0) -> None:
        """Answer the next ``count`` POSTs ``status`` after ``delay`` seconds (without
        forwarding them). A 2xx with a delay over the sandbox's timeout is a timeout."""
        with self.cond:
            self.scripted.extend([(status, delay)] * count)

    def statuses(self) -> list[int]:
        with self.cond:
            return [r.status for r in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"got {len(self.received)} of {count} webhooks")
                self.cond.wait(left)
            return list(self.received)


def _receiver_handler(receiver_ref: list[WebhookReceiver]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_ref[0]
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            payload = json.loads(raw or b"null")
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.cond:
                scripted = receiver.scripted.popleft() if receiver.scripted else None
            if scripted is not None:
                status, delay = scripted
                time.sleep(delay)
            elif receiver.forward is not None:
                with receiver.lock:
                    status = receiver.forward(headers, raw)
            else:
                status = receiver.status
            with receiver.cond:
                receiver.received.append(ReceivedWebhook(headers, payload, status, arrived))
                receiver.cond.notify_all()
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sandbox gave up waiting (its timeout): nobody is listening
                return

        def log_message(self, format: str, *args: Any) -> None:
            return

    return _Handler


@pytest.fixture(name="sandbox")
def sandbox_fixture() -> Iterator[ProcoreSandbox]:
    """A started, empty sandbox with default credentials and company 4264."""
    with ProcoreSandbox() as box:
        yield box


@pytest.fixture(name="demo")
def demo_fixture(sandbox: ProcoreSandbox) -> dict[str, Any]:
    """The demo dataset's ids (2 projects, 3 vendors, cost codes, 5 cost types)."""
    return seed_demo(sandbox)


def start_webhook_receiver(port: int = 0) -> WebhookReceiver:
    """A started receiver on 127.0.0.1 (``port`` 0: any free one); call ``stop()`` after."""
    ref: list[WebhookReceiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", port), _receiver_handler(ref))
    server.daemon_threads = True
    receiver = WebhookReceiver(server)
    ref.append(receiver)
    receiver.thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    receiver.thread.start()
    return receiver


def chalice_forward(client: Any) -> Forward:
    """Forward a delivery to the connector's webhook route (a ``chalice.test.Client``)."""

    def forward(headers: dict[str, str], body: bytes) -> int:
        answer = client.http.post(
            "/webhooks/procore",
            body=body,
            headers={
                "Content-Type": headers.get("content-type", "application/json"),
                "Authorization": headers.get("authorization", ""),
            },
        )
        return int(answer.status_code)

    return forward


@pytest.fixture(name="webhook_receiver")
def webhook_receiver_fixture() -> Iterator[WebhookReceiver]:
    receiver = start_webhook_receiver()
    try:
        yield receiver
    finally:
        receiver.stop()
