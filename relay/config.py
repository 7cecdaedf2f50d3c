"""The relay agent's settings: a TOML file, overridden by environment variables.

The file lives on the customer's server next to the agent; environment variables let a
service manager (systemd, Windows service wrapper) or a test override any value.

AWS credentials are never settings here: boto3 finds them through its normal chain
(environment, shared credentials file/profile, instance role). ``aws_profile`` names the
profile the agent's session is built from, e.g. one whose ``credential_process`` is IAM
Roles Anywhere's signing helper (docs/iam.md): boto3 then refreshes the temporary
credentials itself. The agent's IAM identity should allow nothing but receive/delete on
its command queue and send on the results queue. A config file that names a credential is
refused, so one is not left on disk.

Sage: ``sage_db`` is the embedded stand-in's SQLite file. ``sage_database_url`` (optional)
is a real Sage 100 Contractor company database, e.g.
``mssql+pyodbc://SAGESRV\\SAGE100CON/AcmeConstruction?driver=ODBC+Driver+18+for+SQL+Server``
(no user: Windows authentication as the service account). When it is set, pulls read from
it; it is read-only for the agent, which then refuses writes (a real Sage is written
through Sage's own API, which this agent does not have yet). A URL holding a password is
refused in the file, as any credential is: give it in the environment variable instead,
or use Windows authentication.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# setting -> environment variable that overrides it (file < environment).
ENV_VARS: dict[str, str] = {
    "agent_id": "RELAY_AGENT_ID",
    "company_id": "RELAY_COMPANY_ID",
    "commands_queue_url": "RELAY_COMMANDS_QUEUE_URL",
    "results_queue_url": "RELAY_RESULTS_QUEUE_URL",
    "region": "AWS_REGION",
    "aws_profile": "RELAY_AWS_PROFILE",
    "endpoint_url": "AWS_ENDPOINT_URL",
    "journal_path": "RELAY_JOURNAL",
    "sage_db": "RELAY_SAGE_DB",
    "sage_database_url": "RELAY_SAGE_DATABASE_URL",
    "wait_seconds": "RELAY_WAIT_SECONDS",
    "heartbeat_seconds": "RELAY_HEARTBEAT_SECONDS",
    "max_attempts": "RELAY_MAX_ATTEMPTS",
}

# Keys that would put a credential in the file; refused with a pointer to the boto3 chain.
CREDENTIAL_KEYS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "access_key",
    "secret_key", "secret_access_key", "session_token", "password", "credentials",
})


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and where it comes from."""


class AgentConfig(BaseModel):
    """Everything the agent needs to run; validated once at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_id: str = Field(min_length=1, max_length=64)
    company_id: int = Field(gt=0)
    commands_queue_url: str
    results_queue_url: str
    region: str = "us-east-1"
    # A profile of the AWS config file (credential_process: IAM Roles Anywhere's signing
    # helper); None: boto3's default chain (AWS_PROFILE, environment, instance role).
    aws_profile: str | None = Field(None, min_length=1, max_length=128)
    endpoint_url: str | None = None  # e.g. the local moto server; None = real AWS
    journal_path: str = Field(min_length=1)
    sage_db: str = Field(min_length=1)  # the embedded stand-in's file
    # A real Sage company database for reads (SQLAlchemy URL); None: reads use sage_db.
    sage_database_url: str | None = None
    wait_seconds: int = Field(20, ge=0, le=20)  # SQS long poll; 20 is SQS's maximum
    visibility_timeout: int = Field(120, ge=1, le=43200)
    heartbeat_seconds: float = Field(30, gt=0)
    max_attempts: int = Field(4, ge=1, le=20)  # per command, for retryable Sage errors
    backoff_base: float = Field(0.5, gt=0)
    backoff_cap: float = Field(30, gt=0)

    @field_validator("commands_queue_url", "results_queue_url")
    @classmethod
    def _fifo_url(cls, value: str) -> str:
        # Per-job ordering and result deduplication both rely on FIFO queues.
        if not value.startswith(("http://", "https://")) or not value.endswith(".fifo"):
            raise ValueError("must be the URL of a FIFO queue (https://.../name.fifo)")
        return value

    @field_validator("sage_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("must be a database URL, e.g. mssql+pyodbc://server/db?..."
                             ) from None
        if backend not in ("mssql", "sqlite"):
            raise ValueError(f"must be a SQL Server (mssql+pyodbc://...) or SQLite URL, "
                             f"not {backend}")
        return value


# Where `relay run`, `relay doctor` and the Windows service find the file when no
# --config is given: RELAY_CONFIG, else (Windows) the service's file under ProgramData.
CONFIG_ENV_VAR = "RELAY_CONFIG"
SERVICE_DIR_NAME = "ProcoreSageRelay"


def windows_config_path(env: Mapping[str, str] = os.environ) -> Path:
    """%ProgramData%\\ProcoreSageRelay\\relay.toml, the Windows service's config file."""
    program_data = env.get("ProgramData") or env.get("PROGRAMDATA") or r"C:\ProgramData"
    return Path(program_data) / SERVICE_DIR_NAME / "relay.toml"


def resolve_config_path(explicit: str | None, env: Mapping[str, str] = os.environ, *,
                        platform: str = sys.platform) -> str | None:
    """The file to read: --config, else RELAY_CONFIG, else the service's file on Windows
    when it exists; None (environment variables only) otherwise."""
    if explicit:
        return explicit
    if env.get(CONFIG_ENV_VAR, "").strip():
        return env[CONFIG_ENV_VAR].strip()
    if platform == "win32" and windows_config_path(env).is_file():
        return str(windows_config_path(env))
    return None


def load_config(path: str | None, env: Mapping[str, str] = os.environ) -> AgentConfig:
    """Read ``path`` (TOML, optional), apply environment overrides, validate."""
    values: dict[str, Any] = {}
    if path:
        values.update(_read_toml(Path(path)))
    sources = {key: f"{path} key {key!r}" for key in values}
    for setting, variable in ENV_VARS.items():
        raw = env.get(variable)
        if raw is not None and raw.strip() != "":
            values[setting] = raw.strip()
            sources[setting] = f"environment variable {variable}"
    try:
        return AgentConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, sources)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    data = data.get("relay", data)  # allow either top-level keys or a [relay] table
    leaked = sorted(key for key in data if key.lower() in CREDENTIAL_KEYS)
    if leaked:
        raise ConfigError(
            f"config file {path} names credentials ({', '.join(leaked)}): remove them; "
            "AWS credentials come from the standard boto3 chain (environment, profile, "
            "instance role), never from this file"
        )
    url = data.get("sage_database_url")
    if isinstance(url, str) and _has_password(url):
        raise ConfigError(
            f"config file {path} puts a password in sage_database_url: remove it; give the "
            "URL in the environment variable RELAY_SAGE_DATABASE_URL instead, or use Windows "
            "authentication (trusted_connection=yes)"
        )
    return data


def _has_password(url: str) -> bool:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False  # reported as an invalid setting
    odbc = " ".join(str(value) for value in parsed.query.values()).lower()
    return parsed.password is not None or "pwd=" in odbc or "password=" in odbc


def _describe(exc: ValidationError, sources: Mapping[str, str]) -> str:
    problems = []
    for error in exc.errors():
        setting = str(error["loc"][0]) if error["loc"] else "?"
        if error["type"] == "missing":
            hint = f"set {setting!r} in the config file"
            if setting in ENV_VARS:
                hint += f" or the environment variable {ENV_VARS[setting]}"
            problems.append(f"missing setting {setting}: {hint}")
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown setting {setting} ({sources.get(setting, 'input')})")
        else:
            where = sources.get(setting, "default")
            problems.append(f"invalid setting {setting} from {where}: {error['msg']}")
    return "relay agent configuration: " + "; ".join(problems)
