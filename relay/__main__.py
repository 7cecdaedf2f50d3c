"""``relay run|doctor|service`` (or ``python -m relay ...``): the relay agent's commands.

- ``run [--config FILE]``: apply commands from the cloud until SIGTERM/SIGINT.
- ``doctor [--config FILE]``: check the configuration, credentials, queues, clock, Sage
  and the journal, one line per check (relay/doctor.py).
- ``service install|update|remove|start|stop|restart|debug``: the Windows service
  (relay/windows_service.py, pywin32's command line).

Without --config the file is RELAY_CONFIG, else on Windows the service's
%ProgramData%\\ProcoreSageRelay\\relay.toml when it exists (environment variables override
it). AWS credentials come from the configured profile or the standard boto3 chain, never
from the config file. Exit codes: 0 clean stop / all checks pass, 1 a doctor check failed,
2 bad configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from relay.config import ConfigError, load_config, resolve_config_path
from relay.logs import configure_logging

log = logging.getLogger("relay.main")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog,
                                     description="Procore <-> Sage 100 Contractor relay agent")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="apply commands from the cloud until stopped")
    run.add_argument("--config", help="TOML settings file (environment variables override)")
    doctor = commands.add_parser("doctor", help="check config, credentials, queues, clock, "
                                                "Sage and the journal; exit 1 if one fails")
    doctor.add_argument("--config", help="TOML settings file (the one `run` reads)")
    commands.add_parser("service", add_help=False,
                        help="install|update|remove|start|stop|restart|debug the Windows "
                             "service (pywin32's options, e.g. --startup delayed, go first)")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m relay") -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["service"]:  # pywin32 parses its own options (getopt, before the verb)
        from relay.windows_service import handle_command_line

        return handle_command_line(argv[1:], prog=f"{prog} service")
    args = _parser(prog).parse_args(argv)
    path = resolve_config_path(args.config)
    if args.command == "doctor":
        from relay.doctor import run_doctor

        return run_doctor(path)

    configure_logging()
    try:
        config = load_config(path)
    except ConfigError as exc:
        sys.stderr.write(f"relay: {exc}\n")  # CLI output: logging is not set up yet
        return 2

    # The agent (boto3, SQLAlchemy) is imported by `run` only: --help and `service` stay
    # quick, and the doctor imports what each check needs.
    from relay.agent import AGENT_VERSION
    from relay.runtime import open_agent

    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"fields": {"signal": signal.Signals(signum).name}})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    agent = open_agent(config, crash_after_sage_write=os.environ.get(
        "RELAY_CRASH_AFTER_SAGE_WRITE") == "1")
    log.info("agent started", extra={"fields": {
        "agent_id": config.agent_id, "company_id": config.company_id,
        "agent_version": AGENT_VERSION, "commands_queue_url": config.commands_queue_url,
        "results_queue_url": config.results_queue_url, "region": config.region,
        "endpoint_url": config.endpoint_url, "journal": config.journal_path,
        "sage_db": config.sage_db, "aws_profile": config.aws_profile}})
    try:
        agent.run(stop)
    finally:
        agent.close()
    return 0


def console() -> int:
    """The ``relay`` console command (relay/pyproject.toml's entry point)."""
    return main(sys.argv[1:], prog="relay")


if __name__ == "__main__":
    sys.exit(main())
