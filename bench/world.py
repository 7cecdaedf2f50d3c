"""The export path's world for a benchmark, set up and torn down in one place.

``bench_world(prefix)`` starts a moto server on 127.0.0.1 (reset to empty: moto's
in-process server shares one backend per process), provisions the table and queues, starts
the Procore sandbox with its demo company, points the connector at both (``import app``,
``wiring.reset()``), sets the company's cost code rule to "division-dash-code" (the demo
cost codes come from Procore, NN-NNN, and map onto the embedded Sage's demo codes; the
default rule is strict), links the main project to Sage job 24001 and creates the embedded
Sage (demo data). The caller adds what it measures, then starts the relay agent (its own
process) and the pumps that feed the exporter and results handlers, as Lambda would.
Leaving the block stops all of it.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

    from devstack.procore_sandbox import ProcoreSandbox
    from devstack.resources import Provisioned
    from relay.sage.embedded import EmbeddedSage

COMPANY = 4264
JOB = 24001  # the Sage job the demo's main project is linked to
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                   "BatchWriteItem")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LambdaContext:
    """What the Lambda handlers read from their context."""

    function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"


@dataclass
class World:
    endpoint: str
    resources: Provisioned
    sandbox: ProcoreSandbox | RemoteSandbox
    demo: dict[str, Any]
    app: ModuleType
    wiring: ModuleType
    store: Any
    sage: EmbeddedSage
    tmp: Path
    project: int
    pump_errors: list[str] = field(default_factory=list)
    agent: subprocess.Popen[bytes] | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def sage_db(self) -> Path:
        return self.tmp / "sage.db"

    def start_agent(self) -> None:
        """The relay agent as its own process, long-polling the moto server."""
        from devstack.agent_process import agent_environment, start_agent

        self.agent = start_agent(agent_environment(
            endpoint_url=self.endpoint,
            commands_queue_url=self.resources.refs["RelayCommandsQueue"],
            results_queue_url=self.resources.refs["RelayResultsQueue"],
            journal=self.tmp / "journal.db", sage_db=self.sage_db,
            company_id=COMPANY, wait_seconds=1, heartbeat_seconds=30))

    def handler(self, function: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
        """A Lambda handler as the pumps call it; its errors go to ``pump_errors``."""

        def run(event: Any) -> Any:
            try:
                return function(event, LambdaContext())
            except Exception as exc:  # reported by the bench, then raised to the pump
                self.pump_errors.append(f"{type(exc).__name__}: {exc}"[:500])
                raise
        return run

    def start_pumps(self) -> None:
        """Exporter and results queues fed to their handlers, in a background thread."""
        import boto3

        from devstack.pump import Pumps

        pumps = Pumps(boto3.client("sqs"), [
            ("exporter", self.resources.environment["EXPORT_QUEUE_URL"],
             self.handler(self.app.exporter)),
            ("results", self.resources.environment["RELAY_RESULTS_QUEUE_URL"],
             self.handler(self.app.results))])

        def pump_forever() -> None:
            while not self.stop.is_set():
                try:
                    busy = pumps.step()
                except Exception as exc:  # noqa: BLE001 (a pump error is a figure)
                    self.pump_errors.append(f"pump: {type(exc).__name__}: {exc}"[:500])
                    busy = False
                if not busy:
                    self.stop.wait(0.02)

        threading.Thread(target=pump_forever, daemon=True).start()

    def count_dynamodb_writes(self) -> dict[str, int]:
        """A counter (``["count"]``) of the store's DynamoDB write calls from now on."""
        writes = {"count": 0}

        def count_write(**_: Any) -> None:
            writes["count"] += 1

        for operation in DYNAMODB_WRITES:
            self.store.client.meta.events.register(f"before-call.dynamodb.{operation}",
                                                   count_write)
        return writes


class RemoteSandbox:
    """The Procore sandbox in a process of its own (its demo seeded there), reached over
    HTTP only: a bench measuring this process's memory or time then measures the
    connector's, not the stand-in's (a Procore with 100,000 direct costs is work for the
    stand-in, and real Procore is elsewhere)."""

    def __init__(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._parent, child = context.Pipe()
        self._process = context.Process(target=_serve_sandbox, args=(child,), daemon=True)
        self._process.start()
        self.url, self.demo = self._parent.recv()

    def stop(self) -> None:
        self._parent.send("stop")
        self._process.join(timeout=30)


def _serve_sandbox(pipe: Any) -> None:
    from devstack.procore_sandbox import ProcoreSandbox, seed_demo

    sandbox = ProcoreSandbox()
    sandbox.start()
    pipe.send((sandbox.url, seed_demo(sandbox)))
    pipe.recv()  # until the bench says stop
    sandbox.stop()


@contextmanager
def bench_world(prefix: str, *, sandbox_process: bool = False) -> Iterator[World]:
    """The world, its resources named with ``prefix``; stopped on the way out.
    ``sandbox_process``: the sandbox runs in a process of its own (``RemoteSandbox``)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from devstack import moto_patches

    moto_patches.apply()  # as the tests and the local stack do (FIFO order after retries)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    tmp = tempfile.TemporaryDirectory()
    sandbox: ProcoreSandbox | None = None
    world: World | None = None
    try:
        endpoint = f"http://127.0.0.1:{port}"
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            reset, timeout=10).close()
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Bench"})
        from chalicelib.auth import generate_local_keypair
        from chalicelib.domain.models import Link
        from devstack.procore_sandbox import ProcoreSandbox, seed_demo
        from devstack.resources import provision
        from relay.sage.embedded import EmbeddedSage

        resources = provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix=prefix)
        if sandbox_process:
            remote = RemoteSandbox()
            sandbox, demo = remote, remote.demo  # type: ignore[assignment]
        else:
            sandbox = ProcoreSandbox()
            sandbox.start()
            demo = seed_demo(sandbox)
        os.environ.update({**resources.environment, "STAGE": "test",
                           "PROCORE_COMPANY_ID": str(COMPANY),
                           "PROCORE_BASE_URL": sandbox.url, "PROCORE_AUTH_URL": sandbox.url,
                           "PROCORE_CLIENT_ID": "connector-client",
                           "PROCORE_CLIENT_SECRET": "connector-secret",
                           "JWT_ISSUER": "bench", "JWT_PUBLIC_KEY_PEM":
                           generate_local_keypair()[1]})
        import app
        from chalicelib import wiring

        wiring.reset()
        store = wiring.get_store()
        settings = store.get_company_settings(COMPANY)
        store.put_company_settings(COMPANY, {**settings, "advanced": {
            **settings.get("advanced", {}), "cost_code_rule": "division-dash-code"}},
            expected_version=int(settings.get("version", 0)))
        project = demo["project_ids"]["main"]
        store.put_link(Link(company_id=COMPANY, kind="project", procore_id=project,
                            sage_key=str(JOB)))
        sage = EmbeddedSage(Path(tmp.name) / "sage.db")
        sage.init()
        sage.seed_demo()
        world = World(endpoint=endpoint, resources=resources, sandbox=sandbox, demo=demo,
                      app=app, wiring=wiring, store=store, sage=sage, tmp=Path(tmp.name),
                      project=project)
        yield world
    finally:
        if world is not None:
            world.stop.set()
            world.wiring.reset()  # clients the bench wrapped for counting are not kept
            if world.agent is not None:
                world.agent.terminate()
                world.agent.wait(timeout=30)
        if sandbox is not None:
            sandbox.stop()
        server.stop()
        tmp.cleanup()
