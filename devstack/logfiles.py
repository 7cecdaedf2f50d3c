"""Where the local stack's logs go when it runs for a person (`make run`): files under
.devstack/logs/, the terminal keeping the banner and one human line per event
(devstack/console.py).

    connector.jsonl  the connector's handlers run by the pump in the stack's process
                     (intake, exporter, results, schedules): powertools JSON lines, and
                     the metrics (EMF) they print
    api.jsonl        the connector's API (`chalice local`, a child process): JSON lines
                     (and chalice's "Serving on" line); api.log: its stderr
    agent.jsonl      the relay agent process (JSON lines)
    sandbox.log      the Procore sandbox (webhook deliveries)
    moto.log         the AWS emulator
    devstack.log     the stack itself (the pump, ...) and any other library

The API runs in its own process, so its events (webhook queued, accepted) are read back
from api.jsonl as it grows (``JsonlFollower``, JSON parsed, never matched as text); the
in-process ones come from the connector's logger (``console.ConsoleHandler``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from devstack import console

LOG_FILES = {"connector": "connector.jsonl", "api": "api.jsonl", "api_stderr": "api.log",
             "agent": "agent.jsonl", "sandbox": "sandbox.log", "moto": "moto.log",
             "devstack": "devstack.log"}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Python loggers of the libraries in the stack's process -> their file.
ROUTES = {"devstack.procore_sandbox": "sandbox", "werkzeug": "moto", "moto": "moto"}


class LogRouting:
    """Sends the stack process's logs to files (``start``) and puts everything back
    (``stop``): the connector's powertools handler, sys.stdout (EMF metrics are printed),
    the root logger and the sandbox's and moto's loggers."""

    def __init__(self, log_dir: Path, sink: Callable[[str], None] | None = None) -> None:
        self.log_dir = log_dir
        self.sink = sink
        self._files: dict[str, IO[str]] = {}
        self._undo: list[Callable[[], None]] = []

    def path(self, name: str) -> Path:
        return self.log_dir / LOG_FILES[name]

    def open(self, name: str) -> IO[str]:
        """The file (made anew at each start: the stack's state is too), line-buffered."""
        if name not in self._files:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._files[name] = self.path(name).open("w", buffering=1, encoding="utf-8")
        return self._files[name]

    def start(self) -> None:
        from chalicelib.observability import logger as connector

        connector_file = self.open("connector")
        handler = connector.registered_handler
        if isinstance(handler, logging.StreamHandler):
            previous = handler.setStream(connector_file)
            self._undo.append(lambda: handler.setStream(previous))
        named = logging.getLogger(connector.name)
        propagate = named.propagate
        named.propagate = False  # not twice, through the root logger's handler
        self._undo.append(lambda: setattr(named, "propagate", propagate))
        if self.sink is not None:
            console_handler = console.ConsoleHandler(self.sink)
            named.addHandler(console_handler)
            self._undo.append(lambda: named.removeHandler(console_handler))
        stdout = sys.stdout
        sys.stdout = connector_file
        self._undo.append(lambda: setattr(sys, "stdout", stdout))
        self._route(logging.getLogger(), "devstack")
        for name, file in ROUTES.items():
            self._route(logging.getLogger(name), file, propagate=False)

    def _route(self, target: logging.Logger, name: str, *, propagate: bool = True) -> None:
        handler = logging.StreamHandler(self.open(name))
        handler.setFormatter(logging.Formatter(FORMAT))
        handlers, previous = target.handlers[:], target.propagate
        target.handlers[:] = [handler]
        target.propagate = propagate
        if target is logging.getLogger() and target.level > logging.INFO:
            level = target.level
            target.setLevel(logging.INFO)
            self._undo.append(lambda: target.setLevel(level))

        def undo() -> None:
            target.handlers[:] = handlers
            target.propagate = previous

        self._undo.append(undo)

    def stop(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        for file in self._files.values():
            file.close()
        self._files.clear()


class JsonlFollower:
    """Follows a JSON-lines file another process writes, handing each event's human line
    to ``sink`` (lines that are not JSON objects are skipped)."""

    def __init__(self, path: Path, sink: Callable[[str], None], stopping: threading.Event,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self.path = path
        self.sink = sink
        self.stopping = stopping
        self.clock = clock
        self._partial = ""

    def feed(self, text: str) -> None:
        """Whole lines of ``text`` (with what an earlier call left unfinished)."""
        *lines, self._partial = (self._partial + text).split("\n")
        for raw in lines:
            fields = parse(raw)
            if fields is not None:
                shown = console.line(fields, self.clock())
                if shown is not None:
                    self.sink(shown)

    def run(self, interval: float = 0.2) -> None:
        while not self.path.exists() and not self.stopping.wait(interval):
            pass
        if self.stopping.is_set():
            return
        with self.path.open(encoding="utf-8", errors="replace") as stream:
            while True:
                text = stream.read()
                if text:
                    self.feed(text)
                elif self.stopping.wait(interval):
                    self.feed(stream.read())
                    return

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"follow {self.path.name}",
                                  daemon=True)
        thread.start()
        return thread


def parse(raw: str) -> dict[str, Any] | None:
    """A JSON object line's fields; None for anything else."""
    raw = raw.strip()
    if not raw.startswith("{"):
        return None
    try:
        fields = json.loads(raw)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None
