"""Start the relay agent (`python -m relay run`) as its own process, as it runs on premises:
configured by environment, talking to the (emulated) AWS endpoint only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def agent_environment(*, endpoint_url: str, commands_queue_url: str, results_queue_url: str,
                      journal: Path, sage_db: Path, company_id: int,
                      agent_id: str = "local-agent", wait_seconds: int = 1,
                      heartbeat_seconds: int = 5) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "RELAY_AGENT_ID": agent_id, "RELAY_COMPANY_ID": str(company_id),
        "RELAY_COMMANDS_QUEUE_URL": commands_queue_url,
        "RELAY_RESULTS_QUEUE_URL": results_queue_url,
        "RELAY_JOURNAL": str(journal), "RELAY_SAGE_DB": str(sage_db),
        "RELAY_WAIT_SECONDS": str(wait_seconds),
        "RELAY_HEARTBEAT_SECONDS": str(heartbeat_seconds),
    }


def start_agent(environment: dict[str, str], *, log: IO[bytes] | None = None,
                extra: dict[str, str] | None = None,
                config: Path | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RELAY_"))}
    env.update(environment)
    env.update(extra or {})
    command = [sys.executable, "-m", "relay", "run"]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
