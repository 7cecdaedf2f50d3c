"""End-to-end harness: moto server, the Procore sandbox, the Chalice app, the relay agent
as its own process and the embedded Sage, all on 127.0.0.1 and all stopped afterwards."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.models import Link
from devstack.agent_process import agent_environment, start_agent
from devstack.pump import Pumps
from devstack.resources import provision
from tests.conftest import (
    AUDIENCE,
    CONNECTOR_APP_ID,
    ISSUER,
    WEBHOOK_TOKEN,
    AwsHandles,
)
from tests.fixtures_sandbox import (  # noqa: F401
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID, seed_personas, use_division_dash_codes

WOC, POC = "work_order_contract", "purchase_order_contract"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PausableProxy:
    """A TCP proxy on 127.0.0.1 that can drop and refuse connections: "AWS unreachable"."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.resume()

    def resume(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        self.thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self.thread.start()

    def pause(self) -> None:
        with self.lock:
            if self.listener is not None:
                self.listener.close()
                self.listener = None
            for conn in self.connections:
                conn.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            a.close()
            b.close()


class ExportStack:
    def __init__(self, tmp: Path, aws: AwsHandles, endpoint: str, sandbox: Any,
                 demo: dict[str, Any], receiver: Any, client: Any, mint: Any) -> None:
        from relay.sage.embedded import EmbeddedSage

        self.tmp, self.aws, self.endpoint = tmp, aws, endpoint
        self.sandbox, self.demo, self.receiver, self.client = sandbox, demo, receiver, client
        self.mint = mint
        self.project = demo["project_ids"]["main"]
        self.codes = demo["cost_code_ids"]["main"]
        self.types = demo["line_item_type_ids"]
        self.sage = EmbeddedSage(tmp / "sage.db")
        self.sage.init()
        self.sage.seed_demo()
        self.delivered = 0
        self.agent: Any = None
        self.agent_log = tmp / "agent.log"
        refs = aws.resources.refs
        self.pumps = Pumps(aws.sqs, [
            ("intake", refs["InboundEventsQueue"], self._invoker("intake")),
            ("exporter", refs["ExportsQueue"], self._invoker("exporter")),
            ("results", refs["RelayResultsQueue"], self._invoker("results")),
        ])
        (tmp / "agent.toml").write_text("visibility_timeout = 2\nbackoff_cap = 1\n")

    def _invoker(self, name: str) -> Callable[[dict[str, Any]], Any]:
        return lambda event: self.client.lambda_.invoke(name, event).payload

    # ---- the agent ---------------------------------------------------------------------
    def start_agent(self, *, endpoint: str | None = None, **extra: str) -> Any:
        refs = self.aws.resources.refs
        env = agent_environment(
            endpoint_url=endpoint or self.endpoint,
            commands_queue_url=refs["RelayCommandsQueue"],
            results_queue_url=refs["RelayResultsQueue"], journal=self.tmp / "journal.db",
            sage_db=self.tmp / "sage.db", company_id=COMPANY_ID, heartbeat_seconds=1)
        log = self.agent_log.open("ab")
        self.agent = start_agent(env, log=log, extra=extra, config=self.tmp / "agent.toml")
        return self.agent

    def stop_agent(self) -> int | None:
        if self.agent is None:
            return None
        if self.agent.poll() is None:
            self.agent.terminate()
        code = self.agent.wait(timeout=30)
        self.agent = None
        return code

    # ---- Procore side ------------------------------------------------------------------
    def link(self, vendor: str = "concrete", vendor_key: str = "3001") -> None:
        from chalicelib.wiring import get_store

        store = get_store()
        if store.get_link(COMPANY_ID, "project", self.project) is None:
            store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=self.project,
                                sage_key="24001"))
        store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                            procore_id=self.demo["vendor_ids"][vendor], sage_key=vendor_key))

    def commitment(self, kind: str = WOC, *, number: str = "SC-001", vendor: str = "concrete",
                   lines: list[tuple[str, str, str, str]] | None = None) -> dict[str, Any]:
        record = self.sandbox.create_commitment(
            kind, self.project, number=number, title="Site concrete", status="Approved",
            vendor_id=self.demo["vendor_ids"][vendor], retainage_percent="10")
        for description, amount, code, cost_type in lines or [
                ("Footings", "48000", "03-300", "S"), ("Slab", "12500.50", "03-300", "L")]:
            self.sandbox.add_line_item(kind, record["id"], description=description,
                                       amount=amount, cost_code_id=self.codes[code],
                                       line_item_type_id=self.types[cost_type])
        return record

    # ---- connector side ----------------------------------------------------------------
    def deliver_webhooks(self) -> None:
        fresh = self.receiver.received[self.delivered:]
        self.delivered = len(self.receiver.received)
        for hook in fresh:
            response = self.client.http.post(
                "/webhooks/procore", body=json.dumps(hook.payload),
                headers={"Content-Type": "application/json",
                         "Authorization": hook.headers.get("authorization", "")})
            assert response.status_code == 202

    def item(self, procore_id: int) -> Any:
        from chalicelib.wiring import get_store

        return get_store().get_item(COMPANY_ID, "commitment", procore_id)

    def call(self, method: str, path: str, who: str, payload: Any = None) -> Any:
        response = getattr(self.client.http, method)(
            path, body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": self.mint(who), "Content-Type": "application/json"})
        return response.status_code, json.loads(response.body) if response.body else None

    def until(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Pump every queue until ``condition()`` is truthy (the agent runs meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.deliver_webhooks()
            self.pumps.step()
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        log = self.agent_log.read_text()[-3000:] if self.agent_log.exists() else ""
        raise AssertionError(f"condition not met within {timeout:.0f} s; agent log:\n{log}")

    def status(self, procore_id: int, *statuses: str) -> Callable[[], Any]:
        def check() -> Any:
            item = self.item(procore_id)
            return item if item is not None and item.status.value in statuses else None
        return check


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Any,
          demo: dict[str, Any], webhook_receiver: Any, signing_keys: tuple[str, str],
          mint: Any) -> Iterator[ExportStack]:
    import boto3
    from chalice.test import Client
    from moto.server import ThreadedMotoServer

    from devstack import moto_patches

    moto_patches.apply()

    from app import app
    from chalicelib import wiring

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's in-process server shares one backend per process: start from empty.
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(reset, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    resources = provision(dynamodb, sqs, prefix="e2e")
    for key, value in {
        **resources.environment, "STAGE": "test", "PROCORE_COMPANY_ID": str(COMPANY_ID),
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN, "CONNECTOR_APPLICATION_ID": CONNECTOR_APP_ID,
        "TAX_ID_KEY": "e2e-tax-id-key",
        "CONNECTOR_PROCORE_USER_ID": str(sandbox.service_account_user_id),
        "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWT_PUBLIC_KEY_PEM": signing_keys[1],
        "PROCORE_CLIENT_ID": CONNECTOR_APP_ID, "PROCORE_CLIENT_SECRET": "connector-secret",
        "PROCORE_BASE_URL": sandbox.url, "PROCORE_AUTH_URL": sandbox.url,
    }.items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    sandbox.set_webhook(webhook_receiver.url, WEBHOOK_TOKEN)
    seed_personas()
    use_division_dash_codes()
    with Client(app, stage_name="test") as client:
        built = ExportStack(tmp_path, AwsHandles(dynamodb, sqs, resources), endpoint, sandbox,
                            demo, webhook_receiver, client, mint)
        try:
            yield built
        finally:
            built.stop_agent()
            wiring.reset()
            server.stop()
