"""Which AWS credentials the agent's session holds, and whether they expire.

The agent should run on temporary credentials: an AWS profile whose ``credential_process``
is IAM Roles Anywhere's ``aws_signing_helper`` (docs/iam.md), which botocore runs again
before they expire. Long-lived access keys (a user's key in the environment or the shared
credentials file) still work, since refusing them would stop a running agent, but
``relay doctor`` warns about them loudly and names the rotation steps.

Nothing here returns or logs a secret: an access key id is shown by its last four
characters only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import boto3

# botocore's credential methods whose keys are temporary by construction (a session token
# comes with them and the provider refreshes them before they expire).
TEMPORARY_METHODS = frozenset({
    "custom-process", "assume-role", "assume-role-with-web-identity", "sso",
    "container-role", "iam-role", "login",
})
ROTATION_HINT = ("move the agent to IAM Roles Anywhere (aws_profile whose credential_process "
                 "is the signing helper), or rotate the key at least every 90 days: create "
                 "a second key, put it in the profile, restart the agent, run relay doctor, "
                 "then deactivate and delete the old key (docs/iam.md)")


@dataclass(frozen=True)
class CredentialReport:
    """The credentials a session resolved: how, whether temporary, until when."""

    method: str  # botocore's provider name: 'custom-process', 'env', ...
    temporary: bool  # a session token came with them
    expires_at: datetime | None  # refreshable credentials only
    key_hint: str  # '****WXYZ', never the whole key id
    secrets: tuple[str, ...]  # the secret key and token, so callers can scrub text

    def describe(self) -> str:
        """One line for people; no secret in it."""
        if self.temporary:
            until = (f", expire {self.expires_at:%Y-%m-%d %H:%M:%SZ} and are refreshed by "
                     "boto3" if self.expires_at is not None else "")
            return f"temporary credentials ({self.method}, key {self.key_hint}{until})"
        return (f"LONG-LIVED access key {self.key_hint} from {self.method} (no session "
                f"token, never expires): {ROTATION_HINT}")


def describe_credentials(session: boto3.Session) -> CredentialReport | None:
    """What ``session`` signs with; None when boto3 finds no credentials at all.

    Resolving runs the profile's credential_process, so its failure (a missing signing
    helper, a revoked certificate) raises botocore's CredentialRetrievalError here."""
    credentials = session.get_credentials()
    if credentials is None:
        return None
    frozen = credentials.get_frozen_credentials()
    method = getattr(credentials, "method", None) or "unknown"
    token = frozen.token or ""
    return CredentialReport(
        method=method,
        temporary=bool(token) or (method in TEMPORARY_METHODS and _expiry(credentials)
                                  is not None),
        expires_at=_expiry(credentials),
        key_hint=mask_key(frozen.access_key or ""),
        secrets=tuple(value for value in (frozen.secret_key, token) if value),
    )


def mask_key(access_key: str) -> str:
    """'****' and the last four characters (an access key id says which key it is)."""
    return "****" + access_key[-4:] if len(access_key) > 8 else "****"


def _expiry(credentials: object) -> datetime | None:
    # RefreshableCredentials keeps its expiry in a private attribute; botocore has no
    # public accessor, and only refreshable (temporary) credentials have one.
    expiry = getattr(credentials, "_expiry_time", None)
    if not isinstance(expiry, datetime):
        return None
    return expiry.astimezone(UTC) if expiry.tzinfo else expiry.replace(tzinfo=UTC)
