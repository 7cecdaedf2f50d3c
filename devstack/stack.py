"""The local stack: the whole connector on 127.0.0.1 with no AWS account.

Started by ``make run`` (``python -m devstack run``):

- an AWS emulator (moto server) with the table and queues of infra/resources.json;
- the Chalice API (``chalice local``, a child process) on the emulator;
- a pump that feeds the inbound queue to the same ``intake`` handler Lambda calls, with
  Lambda's semantics (batches of 10, partial batch failures, visibility timeout, redrive
  to the dead-letter queue), and runs the schedules;
- the Procore sandbox seeded with a demo company, firing webhooks at the API;
- the relay agent (its own process, as on premises) on the embedded Sage 100 Contractor
  company database (.devstack/sage.db) seeded with the matching jobs, vendors, cost codes
  and cost types;
- approvers (admin, approver, pm, viewer) with a locally held JWT signing key.

State: the signing key survives a restart. The emulated table and queues and the
sandbox's data are in memory, so the Sage database and the agent's journal are made anew
at each start too (a Sage that remembered exports the connector has forgotten would
refuse the demo's numbers as duplicates). The files stay in .devstack/ after Ctrl-C for
inspection: `python -m relay.sage show subcon --db .devstack/sage.db`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("DEVSTACK_STATE_DIR", ROOT / ".devstack"))
HOST = "127.0.0.1"
COMPANY_ID = 4264
WEBHOOK_TOKEN = "Bearer local-webhook-token"
CLIENT_ID = "connector-client"
CLIENT_SECRET = "connector-secret"  # the sandbox's own credential, not a real secret
# A second OAuth application in the sandbox: "the Procore web app" the demo drives.
DEMO_CLIENT = ("procore-web-demo", "demo-secret-local", 10002)
ISSUER = "http://127.0.0.1/devstack"
AUDIENCE = "connector-local"

logger = logging.getLogger("devstack")


@dataclass
class Ports:
    api: int = int(os.environ.get("DEVSTACK_API_PORT", "8000"))
    sandbox: int = int(os.environ.get("DEVSTACK_SANDBOX_PORT", "8010"))
    aws: int = int(os.environ.get("DEVSTACK_AWS_PORT", "8020"))

    @classmethod
    def free(cls) -> Ports:
        """Three ports free on 127.0.0.1 now (a stack beside the developer's, in tests)."""
        return cls(api=free_port(), sandbox=free_port(), aws=free_port())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    # Where the signing key, the Sage database, the agent's journal and logs live (tests
    # give a tmp dir, leaving the developer's .devstack/ alone).
    state_dir: Path = field(default_factory=lambda: STATE_DIR)
    # Added to the connector's environment (API and handlers): e.g. EXPORT_STALE_SECONDS.
    extra_environment: dict[str, str] = field(default_factory=dict)
    agent_heartbeat_seconds: int = 10
    # `make run`: every log to files in this directory (devstack/logfiles.py) instead of
    # the process's stdout/stderr, and one human line per event to ``console`` (the
    # terminal). Unset (tests): logs as before, the agent's in state_dir/agent.log.
    log_dir: Path | None = None
    console: Callable[[str], None] | None = None
    agent: subprocess.Popen[bytes] | None = None
    _routing: Any = field(default=None, repr=False)
    _agent_environment: dict[str, str] = field(default_factory=dict, repr=False)
    _logs: list[IO[bytes]] = field(default_factory=list, repr=False)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    environment: dict[str, str] = field(default_factory=dict)
    moto: Any = None
    sandbox: Any = None
    threads: list[threading.Thread] = field(default_factory=list)

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.log_dir is not None:
            from devstack.logfiles import LogRouting

            self._routing = LogRouting(self.log_dir, self.console)
            self._routing.start()
        private_pem, public_pem = signing_keys(self.state_dir)
        self._start_aws()
        resources = self._provision()
        aws_url = f"http://{HOST}:{self.ports.aws}"
        self.environment = {
            "AWS_ENDPOINT_URL": aws_url, "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1", "STAGE": "local",
            **resources.environment,
            "PROCORE_BASE_URL": f"http://{HOST}:{self.ports.sandbox}",
            "PROCORE_AUTH_URL": f"http://{HOST}:{self.ports.sandbox}",
            "PROCORE_CLIENT_ID": CLIENT_ID, "PROCORE_CLIENT_SECRET": CLIENT_SECRET,
            "PROCORE_COMPANY_ID": str(COMPANY_ID), "CONNECTOR_APPLICATION_ID": CLIENT_ID,
            "WEBHOOK_TOKEN": WEBHOOK_TOKEN, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
            "TAX_ID_KEY": "local-tax-id-key",  # the fingerprint key (a secret in AWS)
            "JWT_PUBLIC_KEY_PEM": public_pem, "POWERTOOLS_METRICS_NAMESPACE": "Local",
            # POST /auth/local-token signs with it (read in stages local and test only).
            "JWT_PRIVATE_KEY_PEM": private_pem,
            **self.extra_environment,
        }
        os.environ.update(self.environment)
        self._start_sandbox()
        self.environment["CONNECTOR_PROCORE_USER_ID"] = str(
            self.sandbox.service_account_user_id)
        os.environ.update(self.environment)
        self._seed_connector()
        self._start_sage_and_agent(resources)
        self._start_api()
        self._start_pump()
        self._seed_procore()
        self._write_description()

    def stop(self) -> None:
        self.stopping.set()
        if self.agent is not None and self.agent not in self.processes:
            self.processes.append(self.agent)
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.moto is not None:
            self.moto.stop()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._routing is not None:
            self._routing.stop()
            self._routing = None

    def mint(self, subject: str, ttl_seconds: int = 8 * 3600) -> str:
        """A bearer token (without "Bearer ") for a seeded user, signed with this stack's key."""
        return mint(subject, ttl_seconds, state_dir=self.state_dir)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def sage_db(self) -> Path:
        return self.state_dir / "sage.db"

    @property
    def agent_log(self) -> Path:
        if self.log_dir is not None:
            return self.log_dir / "agent.jsonl"
        return self.state_dir / "agent.log"

    # ---- pieces ----------------------------------------------------------------------
    def _start_aws(self) -> None:
        from moto.server import ThreadedMotoServer

        from devstack import moto_patches

        moto_patches.apply()  # FIFO groups come back in order after a timeout, as in SQS

        self.moto = ThreadedMotoServer(ip_address=HOST, port=self.ports.aws, verbose=False)
        self.moto.start()
        # moto's in-process backend is one per process: a stack started after another (or
        # after a test's emulator) in the same process starts from empty.
        reset = urllib.request.Request(f"http://{HOST}:{self.ports.aws}/moto-api/reset",
                                       method="POST")
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            reset, timeout=10).close()

    def _provision(self) -> Any:
        import boto3

        from devstack.resources import provision

        endpoint = f"http://{HOST}:{self.ports.aws}"
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1",
                  "aws_access_key_id": "local", "aws_secret_access_key": "local"}
        return provision(boto3.client("dynamodb", **kwargs), boto3.client("sqs", **kwargs),
                         prefix="local")

    def _start_sandbox(self) -> None:
        from devstack.procore_sandbox import ProcoreSandbox

        self.sandbox = ProcoreSandbox(
            HOST, self.ports.sandbox, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            company_id=COMPANY_ID, webhook_url=f"http://{HOST}:{self.ports.api}/webhooks/procore",
            webhook_authorization=WEBHOOK_TOKEN, webhook_delivery="async")
        self.sandbox.start()
        self.sandbox.add_client(*DEMO_CLIENT)
        self.demo = self.sandbox.seed(demo=True, matching_vendors=True)

    def _seed_connector(self) -> None:
        from chalicelib.domain.models import Link
        from chalicelib.wiring import get_store, reset

        reset()
        store = get_store()
        for user in demo_users():
            store.put_user(user)
        # Until the job/vendor workflows exist, the demo project and two vendors are linked
        # to the Sage job and vendors the embedded Sage company will hold.
        project = self.demo["project_ids"]["main"]
        store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=project,
                            sage_key="24001", created_by="devstack"))
        for vendor, key in (("concrete", "3001"), ("steel", "3003")):
            store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                                procore_id=self.demo["vendor_ids"][vendor], sage_key=key,
                                created_by="devstack"))
        # The demo's Procore cost codes were made in Procore (no origin id) and follow
        # NN-NNN, the embedded Sage's codes being 03-300 -> 3300.000: the one exact rule.
        settings = store.get_company_settings(COMPANY_ID)
        store.put_company_settings(
            COMPANY_ID, {**settings, "advanced": {**settings.get("advanced", {}),
                                                  "cost_code_rule": "division-dash-code"}},
            expected_version=int(settings.get("version", 0)), updated_by="devstack")

    def _start_sage_and_agent(self, resources: Any) -> None:
        from devstack.agent_process import agent_environment
        from relay.sage.embedded import EmbeddedSage

        for name in ("sage.db", "sage.db-wal", "sage.db-shm", "journal.db", "journal.db-wal",
                     "journal.db-shm"):
            (self.state_dir / name).unlink(missing_ok=True)
        if self.log_dir is not None:
            self.agent_log.unlink(missing_ok=True)  # the logs of this run only
        sage = EmbeddedSage(self.sage_db)
        sage.init()
        sage.seed_demo()
        self._agent_environment = agent_environment(
            endpoint_url=f"http://{HOST}:{self.ports.aws}",
            commands_queue_url=resources.refs["RelayCommandsQueue"],
            results_queue_url=resources.refs["RelayResultsQueue"],
            journal=self.state_dir / "journal.db", sage_db=self.sage_db,
            company_id=COMPANY_ID, wait_seconds=1,
            heartbeat_seconds=self.agent_heartbeat_seconds)
        self.start_agent()

    def start_agent(self) -> subprocess.Popen[bytes]:
        """Start the relay agent process (again): same journal, same Sage database."""
        from devstack.agent_process import start_agent

        if self.agent is not None and self.agent.poll() is None:
            return self.agent
        self.agent_log.parent.mkdir(parents=True, exist_ok=True)
        log = self.agent_log.open("ab")
        self._logs.append(log)
        self.agent = start_agent(self._agent_environment, log=log)
        return self.agent

    def stop_agent(self, timeout: float = 30) -> int | None:
        """Stop the relay agent process (SIGTERM, as a service stop); its exit code."""
        if self.agent is None:
            return None
        if self.agent.poll() is None:
            self.agent.terminate()
        try:
            code = self.agent.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            code = self.agent.wait(timeout=10)
        self.agent = None
        return code

    def _start_api(self) -> None:
        chalice = Path(sys.executable).with_name("chalice")
        output: dict[str, Any] = {}
        if self._routing is not None:  # JSON lines to api.jsonl, read back for the console
            output = {"stdout": self._routing.open("api"),
                      "stderr": self._routing.open("api_stderr")}
        process = subprocess.Popen(
            [str(chalice), "local", "--host", HOST, "--port", str(self.ports.api),
             "--stage", "local", "--no-autoreload"],
            cwd=ROOT, env={**os.environ, **self.environment, "PYTHONUNBUFFERED": "1"},
            **output)
        self.processes.append(process)
        if self._routing is not None and self.console is not None:
            from devstack.logfiles import JsonlFollower

            self.threads.append(JsonlFollower(self._routing.path("api"), self.console,
                                              self.stopping).start())
        wait_for(f"http://{HOST}:{self.ports.api}/health", process)

    def _start_pump(self) -> None:
        thread = threading.Thread(target=self._pump_loop, name="pump", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _pump_loop(self) -> None:
        import boto3

        import app
        from devstack.pump import Pumps

        def handler(function: Any, name: str) -> Any:
            return lambda event: function(event, LambdaContext(name))

        env = self.environment
        pumps = Pumps(boto3.client("sqs"), [
            ("intake", env["INBOUND_QUEUE_URL"], handler(app.intake, "intake")),
            ("exporter", env["EXPORT_QUEUE_URL"], handler(app.exporter, "exporter")),
            ("results", env["RELAY_RESULTS_QUEUE_URL"], handler(app.results, "results")),
        ])
        next_schedule = time.monotonic() + 300
        while not self.stopping.is_set():
            try:
                if not pumps.step():
                    self.stopping.wait(0.1)
                if time.monotonic() >= next_schedule:  # the 5-minute schedules
                    app.sweep_exports({})
                    app.reconcile_commitments({})
                    next_schedule = time.monotonic() + 300
            except Exception:  # the pump must outlive one bad round (logged whole)
                logger.exception("pump round failed")
                self.stopping.wait(1)

    def _seed_procore(self) -> None:
        """Demo commitments, made after the API is up so their webhooks land."""
        project = self.demo["project_ids"]["main"]
        codes = self.demo["cost_code_ids"]["main"]
        types = self.demo["line_item_type_ids"]
        ready = self.sandbox.create_commitment(
            "work_order_contract", project, number="SC-001", title="Site concrete",
            status="Approved", vendor_id=self.demo["vendor_ids"]["concrete"])
        self.sandbox.add_line_item("work_order_contract", ready["id"], description="Footings",
                                   amount="48000", cost_code_id=codes["03-300"],
                                   line_item_type_id=types["S"])
        draft = self.sandbox.create_commitment(
            "purchase_order_contract", project, number="PO-001", title="Rebar",
            status="Draft", vendor_id=self.demo["vendor_ids"]["steel"])
        self.sandbox.add_line_item("purchase_order_contract", draft["id"],
                                   description="#5 rebar", amount="12500",
                                   cost_code_id=codes["05-120"], line_item_type_id=types["M"])

    def _write_description(self) -> None:
        description = {
            "CONNECTOR_URL": f"http://{HOST}:{self.ports.api}",
            "SANDBOX_URL": f"http://{HOST}:{self.ports.sandbox}",
            "AWS_ENDPOINT_URL": self.environment["AWS_ENDPOINT_URL"],
            "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "PROCORE_COMPANY_ID": str(COMPANY_ID),
            "TABLE_NAME": self.environment["TABLE_NAME"],
            "INBOUND_QUEUE_URL": self.environment["INBOUND_QUEUE_URL"],
            "EXPORT_QUEUE_URL": self.environment["EXPORT_QUEUE_URL"],
            "SAGE_DB": str(self.sage_db),
            "DEMO_CLIENT_ID": DEMO_CLIENT[0], "DEMO_CLIENT_SECRET": DEMO_CLIENT[1],
            "AGENT_LOG": str(self.agent_log),
            "LOG_DIR": str(self.log_dir or self.state_dir),
            "pid": os.getpid(),
        }
        (self.state_dir / "stack.json").write_text(json.dumps(description, indent=2))


class LambdaContext:
    """What the handlers read from Lambda's context object."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = f"local-{time.time_ns()}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def demo_users() -> list[Any]:
    from chalicelib.domain.permissions import Level, User

    return [
        User("admin", COMPANY_ID, Level.ADMIN, True,
             {"commitments": Level.ADMIN, "directory": Level.ADMIN},
             name="Ada Admin (ERP admin, can push to accounting)"),
        User("approver", COMPANY_ID, Level.STANDARD, True, name="Avery Approver"),
        User("pm", COMPANY_ID, Level.READ_ONLY, False,
             {"commitments": Level.ADMIN, "budget": Level.ADMIN, "invoicing": Level.ADMIN,
              "reports": Level.READ_ONLY},
             name="Pat Project-Manager (admin on Commitments, Budget and Invoicing; "
                  "reads Reports)"),
        User("viewer", COMPANY_ID, Level.READ_ONLY, False, name="Vic Viewer"),
    ]


def signing_keys(state_dir: Path | None = None) -> tuple[str, str]:
    """The local stack's JWT signing key pair, made once and kept under .devstack/ (or the
    given state directory)."""
    from chalicelib.auth import generate_local_keypair

    state_dir = state_dir or STATE_DIR
    private, public = state_dir / "jwt-private.pem", state_dir / "jwt-public.pem"
    if not private.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_local_keypair()
        private.write_text(private_pem)
        private.chmod(0o600)
        public.write_text(public_pem)
    return private.read_text(), public.read_text()


def mint(subject: str, ttl_seconds: int = 8 * 3600, *, state_dir: Path | None = None) -> str:
    from chalicelib.auth import mint_local_token

    private_pem, _ = signing_keys(state_dir)
    return mint_local_token(private_pem, issuer=ISSUER, audience=AUDIENCE, subject=subject,
                            username=subject, ttl_seconds=ttl_seconds)


def wait_for(url: str, process: subprocess.Popen[bytes] | None = None,
             timeout: float = 60) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            with opener.open(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def run() -> int:
    """`make run` (devstack/terminal.py: the banner, the event lines, the log files)."""
    from devstack.terminal import run as run_in_terminal

    return run_in_terminal()
