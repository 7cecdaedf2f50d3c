"""`make run` in a terminal: the whole stack, its startup banner, then one short human line
per connector event (devstack/console.py) while every JSON log goes to .devstack/logs/
(devstack/logfiles.py)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

from devstack import stack


def run() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    terminal = sys.stdout  # the stack sends sys.stdout itself to connector.jsonl
    lock = threading.Lock()

    held: list[str] | None = []  # events of the start-up, shown after the banner

    def show(text: str = "") -> None:
        with lock:
            print(text, file=terminal, flush=True)

    def event(text: str) -> None:
        with lock:
            if held is not None:
                held.append(text)
                return
        show(text)

    log_dir = stack.STATE_DIR / "logs"
    running = stack.Stack(log_dir=log_dir, console=event)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        running.start()
        d = json.loads((stack.STATE_DIR / "stack.json").read_text())
        show(f"\nInbox            {d['CONNECTOR_URL']}/inbox   (sign in as admin, approver, "
             "pm or viewer)")
        show(f"Connector API    {d['CONNECTOR_URL']}   (try {d['CONNECTOR_URL']}/health)")
        show(f"Procore sandbox  {d['SANDBOX_URL']}")
        show(f"AWS emulator     {d['AWS_ENDPOINT_URL']}")
        show("Tokens:          python -m devstack token approver|admin|pm|viewer")
        show("Environment:     python -m devstack env")
        show(f"Logs (JSON):     {shown_path(log_dir)}/  connector.jsonl (handlers), api.jsonl, "
             "agent.jsonl, sandbox.log, moto.log")
        show("\nready: the connector is running on 127.0.0.1 (Ctrl-C stops everything)\n")
        with lock:
            early, held = held or [], None
        for text in early:
            show(text)
        while not stopping.wait(0.5):
            pass
    finally:
        running.stop()
        (stack.STATE_DIR / "stack.json").unlink(missing_ok=True)
        show("stopped")
    return 0


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
