"""The Windows service, on Linux: pywin32's modules are fakes injected through sys.modules.

What pywin32 does itself (the SCM, pythonservice.exe) is not run here; what the service
does is: where it finds its config, how it logs, that the agent runs in a thread and stops
within a bounded time, that a bad config stops it cleanly and a dead agent with an error,
and that ``relay service ...`` hands its arguments to HandleCommandLine. One test runs
the real agent (moto SQS, the embedded Sage) inside the service class.
"""

from __future__ import annotations

import json
import logging
import pickle
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from relay import windows_service
from relay.__main__ import main
from relay.sage.embedded import EmbeddedSage
from relay.windows_service import (
    LOG_FILE_NAME,
    SERVICE_NAME,
    EventLogHandler,
    ServiceRunner,
    new_runner,
    registry_config_path,
    run_service,
    service_class,
    service_config_path,
)

SERVICE_STOP_PENDING = 3


class FakePywin32:
    """servicemanager, win32service and win32serviceutil, recording what is asked."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []  # (kind, message) sent to the event log
        self.status: list[tuple[int, dict[str, Any]]] = []  # ReportServiceStatus calls
        self.command_lines: list[tuple[type, list[str]]] = []
        fake = self

        servicemanager = types.ModuleType("servicemanager")
        for kind in ("Info", "Warning", "Error"):
            setattr(servicemanager, f"Log{kind}Msg",
                    lambda message, kind=kind: fake.events.append((kind, message)))
        win32service = types.ModuleType("win32service")
        win32service.SERVICE_STOP_PENDING = SERVICE_STOP_PENDING  # type: ignore[attr-defined]

        class ServiceFramework:
            def __init__(self, args: Any) -> None:
                self.args = args

            def ReportServiceStatus(self, status: int, **kwargs: Any) -> None:
                fake.status.append((status, kwargs))

        def handle_command_line(cls: type, argv: list[str] | None = None, **_: Any) -> int:
            fake.command_lines.append((cls, list(argv or [])))
            return 0

        win32serviceutil = types.ModuleType("win32serviceutil")
        win32serviceutil.ServiceFramework = ServiceFramework  # type: ignore[attr-defined]
        win32serviceutil.HandleCommandLine = handle_command_line  # type: ignore[attr-defined]
        self.modules = {"servicemanager": servicemanager, "win32service": win32service,
                        "win32serviceutil": win32serviceutil}


@pytest.fixture
def relay_logging() -> Iterator[None]:
    """The service replaces the ``relay`` logger's handlers: put them back after."""
    root = logging.getLogger("relay")
    saved = (root.handlers[:], root.level, root.propagate)
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def pywin32(monkeypatch: pytest.MonkeyPatch, relay_logging: None) -> Iterator[FakePywin32]:
    fake = FakePywin32()
    for name, module in fake.modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    service_class.cache_clear()
    yield fake
    service_class.cache_clear()


class FakeAgent:
    """Runs until the stop event (or, ``stubborn``, until released); records close()."""

    def __init__(self, *, stubborn: bool = False, crash: bool = False) -> None:
        self.running = threading.Event()
        self.release = threading.Event()
        self.closed = False
        self.stubborn = stubborn
        self.crash = crash

    def run(self, stop: threading.Event) -> None:
        self.running.set()
        if self.crash:
            raise RuntimeError("Sage company file vanished")
        (self.release if self.stubborn else stop).wait(30)

    def close(self) -> None:
        self.closed = True


def _config(tmp_path: Path, **overrides: Any) -> Path:
    settings: dict[str, Any] = {
        "agent_id": "sage-server-1", "company_id": 4264,
        "commands_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/c.fifo",
        "results_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/r.fifo",
        "journal_path": str(tmp_path / "journal.db"), "sage_db": str(tmp_path / "sage.db"),
    }
    settings.update(overrides)
    path = tmp_path / "ProcoreSageRelay" / "relay.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    return path


# ---- importable without pywin32 -------------------------------------------------------------
def test_the_module_needs_no_pywin32_until_the_service_is_used() -> None:
    # GIVEN Linux, where pywin32 does not exist
    assert "win32serviceutil" not in sys.modules
    service_class.cache_clear()

    # THEN the class cannot be built, and `relay service` says why with exit 2
    with pytest.raises(ImportError):
        service_class()
    assert main(["service", "install"]) == 2


def test_relay_service_hands_its_arguments_to_pywin32(pywin32: FakePywin32) -> None:
    # WHEN `relay service --startup delayed install` runs (pywin32's options go first)
    code = main(["service", "--startup", "delayed", "install"], prog="relay")

    # THEN HandleCommandLine gets the service class and exactly those arguments
    assert code == 0
    [(cls, argv)] = pywin32.command_lines
    assert argv == ["relay service", "--startup", "delayed", "install"]
    assert cls._svc_name_ == SERVICE_NAME == "ProcoreSageRelay"
    assert cls is service_class()


def test_pythonservice_finds_the_class_by_its_module_path(pywin32: FakePywin32) -> None:
    # pywin32 registers "<module>.<class>" (pickle.whichmodule) and pythonservice.exe
    # imports it back: the module attribute must be that very class.
    cls = windows_service.RelayService
    assert cls is service_class()
    assert f"{pickle.whichmodule(cls, cls.__name__)}.{cls.__name__}" == (
        "relay.windows_service.RelayService")
    with pytest.raises(AttributeError):
        _ = windows_service.NotThere


# ---- where the config is --------------------------------------------------------------------
def test_config_path_registry_then_environment_then_programdata(tmp_path: Path) -> None:
    env = {"ProgramData": str(tmp_path)}
    assert service_config_path(env) == tmp_path / "ProcoreSageRelay" / "relay.toml"
    assert service_config_path({**env, "RELAY_CONFIG": "D:/relay/relay.toml"}) == Path(
        "D:/relay/relay.toml")
    assert service_config_path({**env, "RELAY_CONFIG": "D:/relay/relay.toml"},
                               registry_value="E:/svc/relay.toml") == Path("E:/svc/relay.toml")


def test_registry_value_is_read_from_the_services_parameters_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    winreg = types.ModuleType("winreg")
    winreg.HKEY_LOCAL_MACHINE = "HKLM"  # type: ignore[attr-defined]
    values = {"ConfigFile": " E:/svc/relay.toml "}

    class Key:
        def __enter__(self) -> Key:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def open_key(root: str, path: str) -> Key:
        opened.append(f"{root}\\{path}")
        return Key()

    def query(_key: Key, name: str) -> tuple[str, int]:
        if name not in values:
            raise FileNotFoundError(name)
        return values[name], 1

    winreg.OpenKey = open_key  # type: ignore[attr-defined]
    winreg.QueryValueEx = query  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "winreg", winreg)

    assert registry_config_path() == "E:/svc/relay.toml"
    assert opened == [r"HKLM\SYSTEM\CurrentControlSet\Services\ProcoreSageRelay\Parameters"]
    values.clear()
    assert registry_config_path() is None


# ---- start, stop, failures ------------------------------------------------------------------
def test_the_agent_runs_in_a_thread_and_stops_when_asked(tmp_path: Path) -> None:
    agent = FakeAgent()
    runner = ServiceRunner(_config(tmp_path), env={}, open_agent=lambda _config: agent,
                           stop_timeout=5)

    assert runner.start() is True
    assert agent.running.wait(5)
    waiter = threading.Thread(target=runner.wait, kwargs={"poll_seconds": 0.05})
    waiter.start()
    runner.request_stop()  # what SvcStop does
    waiter.join(5)

    assert not waiter.is_alive()
    assert runner.thread is not None and not runner.thread.is_alive()
    assert agent.closed and runner.error is None


def test_a_stop_waits_at_most_the_stop_timeout(tmp_path: Path, relay_logging: None,
                                               caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN an agent that does not stop (stuck in a Sage call)
    logging.getLogger("relay").propagate = True
    agent = FakeAgent(stubborn=True)
    runner = ServiceRunner(_config(tmp_path), env={}, open_agent=lambda _config: agent,
                           stop_timeout=0.2)
    runner.start()
    assert agent.running.wait(5)

    # WHEN the service is stopped
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="relay.service"):
        stopped = runner.stop()

    # THEN it gives up after the timeout and says so
    assert stopped is False
    assert time.monotonic() - started < 2
    assert "agent did not stop in time" in caplog.text
    agent.release.set()


def test_a_bad_config_stops_the_service_cleanly_with_an_event_log_error(
        tmp_path: Path, pywin32: FakePywin32) -> None:
    # GIVEN a config file with a missing setting
    path = _config(tmp_path)
    path.write_text('agent_id = "sage-server-1"\n')
    opened: list[Any] = []

    # WHEN the service starts
    runner = new_runner(sys.modules["servicemanager"], env={"RELAY_CONFIG": str(path)},
                        registry_value="", open_agent=opened.append)
    run_service(runner)  # returns: no exception, so no restart loop

    # THEN no agent was opened, and the event log and the log file say why
    assert opened == []
    [(kind, message)] = pywin32.events
    assert kind == "Error"
    assert "bad configuration" in message and "missing setting company_id" in message
    log_file = path.parent / "logs" / LOG_FILE_NAME
    assert "missing setting company_id" in log_file.read_text()


def test_an_agent_that_dies_stops_the_service_with_an_error(tmp_path: Path,
                                                            relay_logging: None) -> None:
    # GIVEN an agent that raises; WHEN the service runs it
    runner = ServiceRunner(_config(tmp_path), env={},
                           open_agent=lambda _config: FakeAgent(crash=True))

    # THEN SvcDoRun's body raises, so Windows' recovery actions restart the service
    with pytest.raises(RuntimeError, match="Sage company file vanished"):
        run_service(runner)


def test_event_log_handler_maps_levels(pywin32: FakePywin32) -> None:
    logger = logging.getLogger("relay.test_event_log")
    logger.handlers[:] = [EventLogHandler(sys.modules["servicemanager"], level=logging.INFO)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("started")
        logger.warning("slow")
        logger.error("broken", extra={"fields": {"job": 24001}})
    finally:
        logger.handlers.clear()

    assert [kind for kind, _ in pywin32.events] == ["Info", "Warning", "Error"]
    assert json.loads(pywin32.events[2][1])["job"] == 24001


# ---- the service class with the real agent --------------------------------------------------
def test_the_service_runs_the_agent_and_stops_on_svcstop(
        tmp_path: Path, pywin32: FakePywin32, monkeypatch: pytest.MonkeyPatch) -> None:
    EmbeddedSage(tmp_path / "sage.db").init()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = {"FifoQueue": "true"}
        commands = sqs.create_queue(QueueName="svc-commands.fifo", Attributes=fifo)["QueueUrl"]
        results = sqs.create_queue(QueueName="svc-results.fifo", Attributes=fifo)["QueueUrl"]
        path = _config(tmp_path, commands_queue_url=commands, results_queue_url=results,
                       wait_seconds=0, heartbeat_seconds=60)
        monkeypatch.setenv("RELAY_CONFIG", str(path))

        # GIVEN the service as pythonservice.exe would make it
        service = windows_service.RelayService(["ProcoreSageRelay"])
        runs = threading.Thread(target=service.SvcDoRun)

        # WHEN it starts: the agent comes up and sends its heartbeat
        runs.start()
        beat = _receive_one(sqs, results)
        assert json.loads(beat)["agent_id"] == "sage-server-1"

        # AND the SCM asks it to stop
        service.SvcStop()
        runs.join(10)

    # THEN SvcDoRun returned (the agent stopped), after reporting STOP_PENDING with a hint
    assert not runs.is_alive()
    assert pywin32.status == [(SERVICE_STOP_PENDING, {"waitHint": 65000})]
    assert ("Info", "ProcoreSageRelay starting") in pywin32.events
    log_lines = [json.loads(line) for line in
                 (path.parent / "logs" / LOG_FILE_NAME).read_text().splitlines()]
    assert [line["event"] for line in log_lines if line["logger"] == "relay.service"] == [
        "service started", "service stopped"]


def _receive_one(sqs: Any, url: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        if got:
            return str(got[0]["Body"])
        time.sleep(0.05)
    raise AssertionError("no heartbeat from the service's agent")


def test_an_agent_that_cannot_open_stops_the_service_with_an_error(
        tmp_path: Path, relay_logging: None, caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("relay").propagate = True

    def cannot_open(_config: Any) -> Any:
        raise PermissionError("journal.db: access denied")

    runner = ServiceRunner(_config(tmp_path), env={}, open_agent=cannot_open)
    with caplog.at_level(logging.ERROR, logger="relay.service"), \
            pytest.raises(PermissionError):
        run_service(runner)
    assert "the agent could not open" in caplog.text
