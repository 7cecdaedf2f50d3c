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
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.world import COMPANY, bench_world


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
    from chalicelib.domain.models import Link
    from chalicelib.domain.permissions import Level, User

    with bench_world("bench") as world:
        store, sandbox, demo, project = world.store, world.sandbox, world.demo, world.project
        store.put_link(Link(company_id=COMPANY, kind="vendor",
                            procore_id=demo["vendor_ids"]["concrete"], sage_key="3001"))
        approver = User("bench", COMPANY, Level.ADMIN, True)
        world.start_agent()
        world.start_pumps()
        intake, items = world.wiring.get_intake(), world.wiring.get_item_service()
        procore = world.wiring.get_procore(COMPANY)
        writes = world.count_dynamodb_writes()
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
                    raise TimeoutError(f"commitment {record['id']} stuck in {item.status}; "
                                       f"pump errors: {world.pump_errors[-3:]}")
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


def print_table(rows: list[tuple[str, str]]) -> None:
    """The figures as the Markdown table RESULTS.md holds."""
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    quiet()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args(argv)
    print_table(rows(args.items, args.commands))


if __name__ == "__main__":
    main()
