"""``relay doctor``: is this machine ready to run the agent? One line per check.

Checks, in order: the config file (the one ``relay run`` reads) is valid; AWS credentials
are found, and whether they expire; the commands queue and the results queue answer
(GetQueueAttributes only: the doctor never receives, so it never takes a command from the
agent); the local clock against the Date of AWS's answers (SigV4 refuses requests signed
more than 5 minutes off); Sage answers (the embedded file opens / the real company
database connects, and one row of csttyp is read, read-only); the journal can be written.

A check that cannot run because an earlier one failed says SKIP. Exit code: 0 when no
check fails (WARN lines included), 1 otherwise. Nothing secret is printed: passwords in
URLs and ODBC strings are masked, and every line is scrubbed of the credentials in use.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from relay.config import AgentConfig, ConfigError, load_config
from relay.credentials import describe_credentials
from relay.runtime import build_session, build_sqs_client

if TYPE_CHECKING:
    import boto3

SKEW_FAIL_SECONDS = 300.0  # SigV4: AWS refuses a request signed more than 5 minutes off
SKEW_WARN_SECONDS = 60.0
SAGE_CHECK_TABLE = "cost_types"  # csttyp: every Sage company has it (nine rows)

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_ODBC_PASSWORD = re.compile(r"(?i)(pwd|password)(=|%3D)[^;&\s]*")


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.name:<15} {self.detail}"


def mask_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with URL passwords, ODBC PWD=/Password= values and ``secrets`` hidden."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _ODBC_PASSWORD.sub(r"\1\2***", text)


@dataclass
class Doctor:
    """Runs the checks; the clock and the AWS session are injectable for tests."""

    config_path: str | None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    clock: Callable[[], float] = time.time
    session_factory: Callable[[AgentConfig], boto3.Session] = build_session
    _loaded: AgentConfig | None = None
    _session: Any = None
    _secrets: list[str] = field(default_factory=list)
    _aws_dates: list[datetime] = field(default_factory=list)

    def run(self) -> list[Check]:
        checks = [self._config()]
        config = self._loaded
        if config is None:
            return checks + [Check(name, Status.SKIP, "needs a valid config") for name in
                             ("credentials", "commands queue", "results queue",
                              "clock skew", "sage", "journal")]
        credentials = self._credentials(config)
        checks.append(credentials)
        if credentials.status is Status.FAIL:
            checks += [Check(name, Status.SKIP, "needs AWS credentials")
                       for name in ("commands queue", "results queue", "clock skew")]
        else:
            try:
                sqs = build_sqs_client(config, self._session, read_timeout=10,
                                       max_attempts=2)
            except Exception as exc:  # noqa: BLE001 - e.g. an endpoint_url botocore refuses
                sqs = _Unusable(exc)
            checks.append(self._queue(sqs, "commands queue", config.commands_queue_url))
            checks.append(self._queue(sqs, "results queue", config.results_queue_url))
            checks.append(self._clock_skew())
        checks.append(self._sage(config))
        checks.append(self._journal(config))
        return [Check(check.name, check.status, mask_secrets(check.detail,
                                                             tuple(self._secrets)))
                for check in checks]

    # ---- the checks ---------------------------------------------------------------------
    def _config(self) -> Check:
        source = self.config_path or "environment variables (no config file)"
        try:
            config = load_config(self.config_path, self.env)
        except ConfigError as exc:
            return Check("config", Status.FAIL, str(exc))
        self._loaded = config
        profile = f", AWS profile {config.aws_profile}" if config.aws_profile else ""
        sage = (f"Sage database {_mask_url(config.sage_database_url)}"
                if config.sage_database_url else f"embedded Sage {config.sage_db}")
        return Check("config", Status.OK,
                     f"{source}: agent {config.agent_id}, company {config.company_id}, "
                     f"region {config.region}{profile}, {sage}")

    def _credentials(self, config: AgentConfig) -> Check:
        try:
            self._session = self.session_factory(config)
            report = describe_credentials(self._session)
        except Exception as exc:  # noqa: BLE001 - a doctor reports every failure as a line
            return Check("credentials", Status.FAIL, f"{type(exc).__name__}: {exc}")
        if report is None:
            where = (f"profile {config.aws_profile}" if config.aws_profile
                     else "boto3's chain (environment, AWS_PROFILE, instance role)")
            return Check("credentials", Status.FAIL,
                         f"no AWS credentials found in {where}: set aws_profile to the IAM "
                         "Roles Anywhere profile (docs/iam.md)")
        self._secrets.extend(report.secrets)
        return Check("credentials", Status.OK if report.temporary else Status.WARN,
                     report.describe())

    def _queue(self, sqs: Any, name: str, url: str) -> Check:
        try:
            answer = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                              "ApproximateNumberOfMessagesNotVisible"])
        except Exception as exc:  # noqa: BLE001 - a doctor reports every failure as a line
            self._note_date(getattr(exc, "response", None))
            return Check(name, Status.FAIL, f"{url} does not answer: {exc}")
        self._note_date(answer)
        attributes = answer.get("Attributes", {})
        return Check(name, Status.OK,
                     f"{url} answers ({attributes.get('ApproximateNumberOfMessages', '?')} "
                     f"waiting, {attributes.get('ApproximateNumberOfMessagesNotVisible', '?')}"
                     " in flight)")

    def _clock_skew(self) -> Check:
        if not self._aws_dates:
            return Check("clock skew", Status.SKIP, "AWS gave no answer to compare with")
        local = datetime.fromtimestamp(self.clock(), UTC)
        skew = (local - self._aws_dates[0]).total_seconds()
        side = "ahead of" if skew >= 0 else "behind"
        detail = (f"local clock {abs(skew):.0f} s {side} AWS "
                  f"({self._aws_dates[0]:%Y-%m-%d %H:%M:%SZ})")
        if abs(skew) > SKEW_FAIL_SECONDS:
            return Check("clock skew", Status.FAIL,
                         f"{detail}: over 5 minutes, AWS refuses the agent's signed "
                         "requests; sync the clock (w32tm /resync, or chrony)")
        if abs(skew) > SKEW_WARN_SECONDS:
            return Check("clock skew", Status.WARN, f"{detail}: over 60 s; sync the clock")
        return Check("clock skew", Status.OK, detail)

    def _sage(self, config: AgentConfig) -> Check:
        from relay.sage.reads import SageReads

        if config.sage_database_url is not None:
            where = f"Sage company database {_mask_url(config.sage_database_url)}"
            url = config.sage_database_url
        else:
            path = Path(config.sage_db)
            where = f"embedded Sage {path}"
            if not path.is_file():
                return Check("sage", Status.FAIL, f"{where} does not exist: create it with "
                             f"`python -m relay.sage seed --db {path}`")
            # Read-only: the doctor never creates or changes the company file.
            url = f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true"
        try:
            reads = SageReads.connect(url)
            try:
                rows, _ = reads.read(SAGE_CHECK_TABLE, after=None, limit=1)
            finally:
                reads.engine.dispose()
        except Exception as exc:  # noqa: BLE001 - a doctor reports every failure as a line
            return Check("sage", Status.FAIL, f"{where} cannot be read: {exc}")
        return Check("sage", Status.OK, f"{where} answers (read {len(rows)} row(s) of csttyp)")

    def _journal(self, config: AgentConfig) -> Check:
        path = Path(config.journal_path)
        try:
            if path.exists():
                with path.open("r+b"):  # opened for writing, nothing written
                    pass
                return Check("journal", Status.OK, f"{path} exists and is writable")
            folder = next(parent for parent in path.parents if parent.exists())
            # The agent creates the missing folders and the file: try a file where it will.
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".relay-doctor-"):
                pass
        except OSError as exc:
            return Check("journal", Status.FAIL, f"{path} is not writable: {exc}")
        return Check("journal", Status.OK, f"{path} will be created ({folder} is writable)")

    def _note_date(self, answer: Mapping[str, Any] | None) -> None:
        headers = ((answer or {}).get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        if headers.get("date"):
            try:
                self._aws_dates.append(parsedate_to_datetime(headers["date"]))
            except (TypeError, ValueError):
                pass  # a malformed Date: the skew check says there is nothing to compare


class _Unusable:
    """An SQS client that could not be made: each queue check reports why."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        raise self._error


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return mask_secrets(make_url(url).render_as_string(hide_password=True))
    except Exception:  # noqa: BLE001 - an unparsable URL is still shown, masked
        return mask_secrets(url)


def run_doctor(config_path: str | None, *, out: IO[str] | None = None,
               **options: Any) -> int:
    """Print one line per check and a summary; 0 when none failed, else 1."""
    out = out if out is not None else sys.stdout
    checks = Doctor(config_path, **options).run()
    for check in checks:
        out.write(check.line() + "\n")
    failed = [check.name for check in checks if check.status is Status.FAIL]
    warned = [check.name for check in checks if check.status is Status.WARN]
    if failed:
        out.write(f"relay doctor: {len(failed)} check(s) failed: {', '.join(failed)}\n")
        return 1
    note = f" ({len(warned)} warning(s): {', '.join(warned)})" if warned else ""
    out.write(f"relay doctor: all checks passed{note}\n")
    return 0
