"""What `relay run`, `relay doctor` and the Windows service build from one AgentConfig.

The AWS session comes from the configured profile (``aws_profile``) or boto3's default
chain. With a profile whose ``credential_process`` is IAM Roles Anywhere's signing helper,
botocore runs the helper again before the temporary credentials expire: the session is
built once and never needs rebuilding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

    from relay.agent import RelayAgent
    from relay.config import AgentConfig


def build_session(config: AgentConfig) -> boto3.Session:
    """The agent's boto3 session: its profile, or the default chain when none is set.

    A missing profile raises botocore's ProfileNotFound (the caller reports it)."""
    import boto3

    return boto3.Session(profile_name=config.aws_profile, region_name=config.region)


def build_sqs_client(config: AgentConfig, session: boto3.Session | None = None, *,
                     read_timeout: float | None = None, max_attempts: int = 3) -> Any:
    """One client for the agent's life; the read timeout outlasts the long poll."""
    from botocore.config import Config

    session = session if session is not None else build_session(config)
    return session.client(
        "sqs",
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        config=Config(connect_timeout=5,
                      read_timeout=read_timeout if read_timeout is not None
                      else config.wait_seconds + 10,
                      retries={"mode": "standard", "max_attempts": max_attempts}),
    )


def open_agent(config: AgentConfig, *, crash_after_sage_write: bool = False) -> RelayAgent:
    """The agent over the embedded Sage file (created if new) and the profile's SQS client.

    With ``sage_database_url`` set the embedded file is not initialised: a real Sage is
    read, never written, by this agent."""
    from relay.agent import RelayAgent
    from relay.sage.embedded import EmbeddedSage

    sage = EmbeddedSage(config.sage_db)
    if config.sage_database_url is None:
        sage.init()
    return RelayAgent(config, sage, build_sqs_client(config),
                      crash_after_sage_write=crash_after_sage_write)
