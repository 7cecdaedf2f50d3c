"""``python -m relay run [--config FILE]``: run the relay agent until SIGTERM/SIGINT.

AWS credentials come from the standard boto3 chain (environment, profile, instance
role), never from the config file. Exit codes: 0 clean stop, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from relay.agent import AGENT_VERSION, RelayAgent
from relay.config import AgentConfig, ConfigError, load_config
from relay.logs import configure_logging

log = logging.getLogger("relay.main")


def build_sqs_client(config: AgentConfig) -> Any:
    """One client for the agent's life; the read timeout outlasts the long poll."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        config=Config(connect_timeout=5, read_timeout=config.wait_seconds + 10,
                      retries={"mode": "standard", "max_attempts": 3}),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relay",
                                     description="Procore <-> Sage 100 Contractor relay agent")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="apply commands from the cloud until stopped")
    run.add_argument("--config", help="TOML settings file (environment variables override)")
    args = parser.parse_args(argv)

    configure_logging()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"relay: {exc}\n")  # CLI output: logging is not set up yet
        return 2

    from relay.sage.embedded import EmbeddedSage

    sage = EmbeddedSage(config.sage_db)
    if config.sage_database_url is None:  # a real Sage is read, never written, here
        sage.init()
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"fields": {"signal": signal.Signals(signum).name}})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    agent = RelayAgent(config, sage, build_sqs_client(config),
                       crash_after_sage_write=os.environ.get("RELAY_CRASH_AFTER_SAGE_WRITE")
                       == "1")
    log.info("agent started", extra={"fields": {
        "agent_id": config.agent_id, "company_id": config.company_id,
        "agent_version": AGENT_VERSION, "commands_queue_url": config.commands_queue_url,
        "results_queue_url": config.results_queue_url, "region": config.region,
        "endpoint_url": config.endpoint_url, "journal": config.journal_path,
        "sage_db": config.sage_db}})
    try:
        agent.run(stop)
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
