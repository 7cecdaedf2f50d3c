"""The relay agent as a Windows service (pywin32's service framework).

``relay service install|update|remove|start|stop|restart|debug`` hands its arguments to
pywin32's ``win32serviceutil.HandleCommandLine``; the service class is
``relay.windows_service.RelayService``, hosted by pywin32's pythonservice.exe (which pywin32
copies into the venv on install, so the installed ``relay`` package is importable).

The service's work is in plain functions and ``ServiceRunner`` so it runs and is tested on
Linux with fake win32 modules; the class itself is built on first use (``service_class``,
or the module attribute ``RelayService``), so importing this module needs no pywin32.

- Start: the config file is the registry value ``ConfigFile`` under the service's
  ``Parameters`` key, else RELAY_CONFIG, else %ProgramData%\\ProcoreSageRelay\\relay.toml.
  Logs go to ``logs\\relay-agent.log`` beside it (JSON lines, rotated) and, warnings and
  errors, to the Windows event log. The agent runs in a thread.
- Stop: the stop event is set (the agent finishes the command in hand) and the thread is
  waited for, at most ``STOP_TIMEOUT_SECONDS``; past that the process ends anyway, which
  the journal makes safe (the command in hand comes back from SQS and is not written twice).
- A bad config stops the service cleanly with an event log error (no restart loop); an
  agent that dies raises out of SvcDoRun, so the service stops with an error and the
  recovery actions (``sc failure``, docs/relay-agent.md) restart it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from relay.config import CONFIG_ENV_VAR, ConfigError, load_config, windows_config_path
from relay.logs import JsonFormatter

SERVICE_NAME = "ProcoreSageRelay"
DISPLAY_NAME = "Procore Sage Relay agent"
DESCRIPTION = ("Applies the Procore connector's commands to Sage 100 Contractor and reports "
               "the results (outbound HTTPS to Amazon SQS only).")
PARAMETERS_KEY = rf"SYSTEM\CurrentControlSet\Services\{SERVICE_NAME}\Parameters"
STOP_TIMEOUT_SECONDS = 60.0  # a long poll (20 s) plus the command in hand
LOG_FILE_NAME = "relay-agent.log"
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_COUNT = 5

log = logging.getLogger("relay.service")


# ---- where the config and the logs are --------------------------------------------------
def registry_config_path() -> str | None:
    """HKLM\\...\\Services\\ProcoreSageRelay\\Parameters ``ConfigFile``; None if unset."""
    try:
        import winreg
    except ImportError:  # not Windows
        return None
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, PARAMETERS_KEY) as key:
            value, _kind = winreg.QueryValueEx(key, "ConfigFile")
    except OSError:  # no Parameters key or no value: the default applies
        return None
    return str(value).strip() or None


def service_config_path(env: Mapping[str, str] = os.environ,
                        registry_value: str | None = None) -> Path:
    """The service's config file: the registry value, RELAY_CONFIG, or ProgramData's."""
    if registry_value:
        return Path(registry_value)
    if env.get(CONFIG_ENV_VAR, "").strip():
        return Path(env[CONFIG_ENV_VAR].strip())
    return windows_config_path(env)


class EventLogHandler(logging.Handler):
    """Log records to the Windows event log through pywin32's ``servicemanager``."""

    def __init__(self, servicemanager: Any, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._servicemanager = servicemanager
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            if record.levelno >= logging.ERROR:
                self._servicemanager.LogErrorMsg(message)
            elif record.levelno >= logging.WARNING:
                self._servicemanager.LogWarningMsg(message)
            else:
                self._servicemanager.LogInfoMsg(message)
        except Exception:  # noqa: BLE001 - logging must never stop the service
            self.handleError(record)


def configure_service_logging(log_file: Path, event_log: Any | None = None,
                              level: int = logging.INFO) -> None:
    """The ``relay`` loggers to a rotating JSON-lines file and, if given, the event log."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = []
    rotating = RotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES,
                                   backupCount=LOG_FILE_COUNT, encoding="utf-8")
    rotating.setFormatter(JsonFormatter())
    handlers.append(rotating)
    if event_log is not None:
        handlers.append(EventLogHandler(event_log))
    root = logging.getLogger("relay")
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    root.propagate = False


# ---- the service's work, without pywin32 ------------------------------------------------
def _open_agent(config: Any) -> Any:
    from relay.runtime import open_agent

    return open_agent(config)


class ServiceRunner:
    """Start the agent in a thread, wait for it, stop it within a bounded time."""

    def __init__(self, config_path: Path, *, env: Mapping[str, str] = os.environ,
                 open_agent: Callable[[Any], Any] = _open_agent,
                 stop_timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        self.config_path = config_path
        self._env = env
        self._open_agent = open_agent
        self.stop_timeout = stop_timeout
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None  # what ended the agent, if it died

    def start(self) -> bool:
        """Load the config and start the agent's thread; False (logged) on a bad config."""
        try:
            config = load_config(str(self.config_path), self._env)
        except ConfigError as exc:
            log.error("service not started: bad configuration", extra={"fields": {
                "config": str(self.config_path), "error": str(exc)}})
            return False
        try:
            agent = self._open_agent(config)
        except Exception:
            # e.g. a journal it cannot write: the service stops with an error and the
            # recovery actions try again (the cause may be passing, a locked file).
            log.exception("service not started: the agent could not open")
            raise
        self.thread = threading.Thread(target=self._run, args=(agent,), name="relay-agent",
                                       daemon=True)  # a stop that times out ends the process
        self.thread.start()
        log.info("service started", extra={"fields": {
            "config": str(self.config_path), "agent_id": config.agent_id}})
        return True

    def _run(self, agent: Any) -> None:
        try:
            agent.run(self.stop_event)
        except BaseException as exc:
            self.error = exc
            log.exception("agent stopped by an error")
        finally:
            agent.close()

    def request_stop(self) -> None:
        """From the service control handler: ask the agent to stop; returns at once."""
        self.stop_event.set()

    def wait(self, poll_seconds: float = 1.0) -> bool:
        """Block until the agent ends or a stop is asked, then give it ``stop_timeout``
        to finish. True when it ended in time."""
        thread = self.thread
        if thread is None:
            return True
        while thread.is_alive() and not self.stop_event.is_set():
            thread.join(poll_seconds)
        return self.stop()

    def stop(self) -> bool:
        """Set the stop event and wait at most ``stop_timeout``; True when it ended."""
        self.stop_event.set()
        if self.thread is None:
            return True
        self.thread.join(self.stop_timeout)
        if self.thread.is_alive():
            log.warning("agent did not stop in time; the service ends anyway (the journal "
                        "keeps the command in hand from being written twice)",
                        extra={"fields": {"stop_timeout": self.stop_timeout}})
            return False
        log.info("service stopped")
        return True


def run_service(runner: ServiceRunner) -> None:
    """SvcDoRun's body: run until stopped; raise when the agent died (recovery restarts)."""
    if not runner.start():
        return  # a bad config: stopped cleanly, the event log says why
    runner.wait()
    if runner.error is not None:
        raise RuntimeError(f"the relay agent stopped by an error: {runner.error!r}")


def new_runner(event_log: Any | None = None, *, env: Mapping[str, str] = os.environ,
               registry_value: str | None = None, **options: Any) -> ServiceRunner:
    """The runner the service uses: its config path and logging set up."""
    path = service_config_path(env, registry_value if registry_value is not None
                               else registry_config_path())
    configure_service_logging(path.parent / "logs" / LOG_FILE_NAME, event_log)
    return ServiceRunner(path, env=env, **options)


# ---- the pywin32 class and command line -------------------------------------------------
@functools.cache
def service_class() -> type:
    """``RelayService`` (win32serviceutil.ServiceFramework); ImportError without pywin32."""
    import servicemanager
    import win32service
    import win32serviceutil

    class RelayService(win32serviceutil.ServiceFramework):
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self.runner: ServiceRunner | None = None

        def SvcDoRun(self) -> None:  # pywin32 calls it by this name
            servicemanager.LogInfoMsg(f"{SERVICE_NAME} starting")
            self.runner = new_runner(servicemanager)
            run_service(self.runner)

        def SvcStop(self) -> None:  # pywin32 calls it by this name
            wait_ms = int((STOP_TIMEOUT_SECONDS + 5) * 1000)
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=wait_ms)
            if self.runner is not None:
                self.runner.request_stop()

    RelayService.__module__ = __name__  # pythonservice.exe imports it by this path
    RelayService.__qualname__ = "RelayService"
    return RelayService


def __getattr__(name: str) -> Any:
    # pythonservice.exe looks up relay.windows_service.RelayService: built on first use.
    if name == "RelayService":
        return service_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def handle_command_line(args: list[str], prog: str = "relay service") -> int:
    """``relay service ...``: pywin32's install/update/remove/start/stop/restart/debug."""
    try:
        cls = service_class()
    except ImportError:
        sys.stderr.write(f"{prog}: the Windows service needs Windows and pywin32 "
                         "(pip install -r relay/requirements.txt on Windows installs it)\n")
        return 2
    import win32serviceutil

    return int(win32serviceutil.HandleCommandLine(cls, argv=[prog, *args]) or 0)
