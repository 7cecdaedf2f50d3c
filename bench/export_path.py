"""Export path figures, measured in one run:

- accept -> synced latency through the whole pipeline (exporter, relay command queue, the
  agent as its own process, the embedded Sage, results, origin write-back to the Procore
  sandbox), on a moto server on 127.0.0.1;
- commands per second the agent applies to the embedded Sage (journal + Sage write), and
  Procore API calls and DynamoDB writes per exported commitment.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPANY = 4264


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def agent_throughput(commands: int) -> float:
    """Commands per second: RelayAgent.handle (journal begin/finish + one Sage document)."""
    from decimal import Decimal

    from chalicelib.relay_protocol import Command, CommandType, SubcontractLine, SubcontractPayload
    from relay.agent import RelayAgent
    from relay.config import AgentConfig
    from relay.sage.embedded import EmbeddedSage

    with tempfile.TemporaryDirectory() as tmp:
        sage = EmbeddedSage(Path(tmp) / "sage.db")
        sage.init()
        sage.seed_demo()
        config = AgentConfig(agent_id="bench", company_id=COMPANY,
                             commands_queue_url="http://127.0.0.1:1/q.fifo",
                             results_queue_url="http://127.0.0.1:1/r.fifo",
                             journal_path=str(Path(tmp) / "journal.db"),
                             sage_db=str(Path(tmp) / "sage.db"))
        agent = RelayAgent(config, sage, sqs_client=None)
        lines = [SubcontractLine(line_number=n, description=f"line {n}", cost_code="3300.000",
                                 cost_type=4, amount=Decimal("100.00")) for n in range(1, 6)]
        batch = [Command(command_id=f"bench-{n}", company_id=COMPANY,
                         type=CommandType.ADD_SUBCONTRACT, item_id=f"commitment-{n}",
                         export_version=1, issued_at="2026-11-26T00:00:00Z",
                         payload=SubcontractPayload(job=24001, vendor=3001, number=f"B-{n}",
                                                    description="bench", lines=lines)
                         .model_dump(mode="json")) for n in range(commands)]
        started = time.perf_counter()
        for command in batch:
            assert agent.handle(command).ok
        elapsed = time.perf_counter() - started
        agent.close()
        assert sage.count("subcon") == commands
        return commands / elapsed


def pipeline_latency(count: int) -> dict[str, float]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    tmp = tempfile.TemporaryDirectory()
    agent = None
    sandbox = None
    stop = threading.Event()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Bench"})
        from chalicelib.auth import generate_local_keypair
        from chalicelib.domain.models import Link
        from chalicelib.domain.permissions import Level, User
        from devstack.agent_process import agent_environment, start_agent
        from devstack.procore_sandbox import ProcoreSandbox, seed_demo
        from devstack.pump import Pumps
        from devstack.resources import provision
        from relay.sage.embedded import EmbeddedSage

        resources = provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="bench")
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
        project = demo["project_ids"]["main"]
        store.put_link(Link(company_id=COMPANY, kind="project", procore_id=project,
                            sage_key="24001"))
        store.put_link(Link(company_id=COMPANY, kind="vendor",
                            procore_id=demo["vendor_ids"]["concrete"], sage_key="3001"))
        approver = User("bench", COMPANY, Level.ADMIN, True)
        sage = EmbeddedSage(Path(tmp.name) / "sage.db")
        sage.init()
        sage.seed_demo()
        agent = start_agent(agent_environment(
            endpoint_url=endpoint, commands_queue_url=resources.refs["RelayCommandsQueue"],
            results_queue_url=resources.refs["RelayResultsQueue"],
            journal=Path(tmp.name) / "journal.db", sage_db=Path(tmp.name) / "sage.db",
            company_id=COMPANY, wait_seconds=1, heartbeat_seconds=30))

        class Context:
            function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "bench"
            invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"

        def handler(function: Any) -> Any:
            return lambda event: function(event, Context())

        pumps = Pumps(boto3.client("sqs"), [
            ("exporter", resources.environment["EXPORT_QUEUE_URL"], handler(app.exporter)),
            ("results", resources.environment["RELAY_RESULTS_QUEUE_URL"],
             handler(app.results))])

        def pump_forever() -> None:
            while not stop.is_set():
                if not pumps.step():
                    stop.wait(0.02)

        threading.Thread(target=pump_forever, daemon=True).start()
        intake, items = wiring.get_intake(), wiring.get_item_service()
        procore = wiring.get_procore(COMPANY)
        writes = {"count": 0}

        def count_write(**_: Any) -> None:
            writes["count"] += 1

        for operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                          "BatchWriteItem"):
            store.client.meta.events.register(f"before-call.dynamodb.{operation}",
                                              count_write)
        writes_per_item: list[int] = []
        latencies: list[float] = []
        calls_per_item: list[int] = []
        for n in range(count + 1):  # the first one warms the agent and the clients up
            record = sandbox.create_commitment(
                "work_order_contract", project, number=f"SC-{n:03d}", title="Bench",
                status="Approved", vendor_id=demo["vendor_ids"]["concrete"])
            sandbox.add_line_item("work_order_contract", record["id"], description="Work",
                                  amount="1000", cost_code_id=demo["cost_code_ids"]["main"][
                                      "03-300"], line_item_type_id=demo["line_item_type_ids"][
                                      "S"])
            calls_before, writes_before = procore.calls_made, writes["count"]
            intake.evaluate_commitment(COMPANY, "work_order_contract", record["id"], project,
                                       actor="bench")
            started = time.perf_counter()
            items.accept(approver, f"commitment-{record['id']}")
            while True:
                item = store.get_item(COMPANY, "commitment", record["id"])
                if item.status.value in ("synced", "failed"):
                    break
                if time.perf_counter() - started > 60:
                    raise TimeoutError(f"commitment {record['id']} stuck in {item.status}")
                time.sleep(0.005)
            assert item.status.value == "synced", item.status_reason
            if n:
                latencies.append(time.perf_counter() - started)
                calls_per_item.append(procore.calls_made - calls_before)
                writes_per_item.append(writes["count"] - writes_before)
        transitions = len(store.audit_trail(COMPANY, "commitment", record["id"]))
        return {"p50": statistics.median(latencies),
                "p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1
                else latencies[0],
                "procore_calls": statistics.median(calls_per_item),
                "dynamodb_writes": statistics.median(writes_per_item),
                "transitions": float(transitions)}
    finally:
        stop.set()
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=30)
        if sandbox is not None:
            sandbox.stop()
        server.stop()
        tmp.cleanup()


def rows(items: int = 20, commands: int = 200) -> list[tuple[str, str]]:
    rate = agent_throughput(commands)
    latency = pipeline_latency(items)
    return [
        (f"accept -> synced, p50 ({items} commitments, one at a time)",
         f"{latency['p50'] * 1000:.0f} ms"),
        ("accept -> synced, p95", f"{latency['p95'] * 1000:.0f} ms"),
        (f"agent: commands applied to the embedded Sage per second ({commands}, 5 lines "
         "each)", f"{rate:.0f}"),
        ("Procore API calls per exported commitment (reads + origin write-back)",
         f"{latency['procore_calls']:.0f}"),
        ("DynamoDB write calls per item lifecycle (evaluate -> synced)",
         f"{latency['dynamodb_writes']:.0f}"),
        ("of which item transitions (one transaction each: item + audit event)",
         f"{latency['transitions']:.0f}"),
    ]


def quiet() -> None:
    import logging

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    import chalicelib.observability

    # Metrics go to stdout as EMF; a benchmark's table should not drown in them.
    chalicelib.observability.count = lambda name, value=1: None
    for noisy in ("werkzeug", "botocore", "urllib3", "devstack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    quiet()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args(argv)
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows(args.items, args.commands):
        print(f"| {name} | {value} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
