"""The one settings model.

Values come from environment variables (set per stage in .chalice/config.json, by
infra, or by the local stack). Secrets are never plain settings outside the local stack:
in AWS they are read through Powertools parameters (SSM SecureString or Secrets Manager)
by name, cached for ``secret_max_age`` seconds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.errors import ConfigurationError

Stage = Literal["local", "test", "dev", "prod"]
# Stages where a secret may be given as a plain value (the local stack and tests).
PLAIN_SECRET_STAGES = frozenset({"local", "test"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    stage: Stage = "local"
    aws_region: str = Field("us-east-1", alias="AWS_REGION")

    # Storage and queues (names/urls come from the CloudFormation template outputs).
    table_name: str = "connector"
    inbound_queue_url: str = ""
    export_queue_url: str = ""
    relay_commands_queue_url: str = ""
    relay_results_queue_url: str = ""
    # An item exporting longer than this says it is waiting for the relay agent.
    export_stale_seconds: int = 300
    # Four eyes: nobody accepts an item they sent, and no admin changes their own levels.
    # Unset: on in prod, off elsewhere (FOUR_EYES=true|false overrides).
    four_eyes: bool | None = None
    # The sweeper re-drives an item accepted or exporting for longer than this (same
    # command id), at most this many times; past that it stays in the stuck-items alarm.
    stuck_after_seconds: int = 600
    max_redrives: int = 5
    # The reconciliation poll (lost webhook deliveries): each poll reads from its cursor
    # minus this overlap (Procore's clock and one-second resolution); the first poll ever
    # reads this far back. A cursor older than 7 days is capped there (logged).
    reconcile_overlap_seconds: int = Field(120, ge=0, le=3600)
    reconcile_lookback_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # Procore line item type (code or name) -> Sage cost type 1-9.
    cost_type_map: dict[str, int] = {"M": 1, "Material": 1, "L": 2, "Labor": 2,
                                     "E": 3, "Equipment": 3, "S": 4, "Subcontract": 4,
                                     "O": 5, "Other": 5}

    # Procore
    procore_base_url: str = "https://api.procore.com"
    procore_auth_url: str = "https://login.procore.com"
    procore_client_id: str = ""
    procore_company_id: int = 0  # the company this deployment serves by default
    connector_application_id: str = ""  # skip webhooks caused by our own writes...
    connector_procore_user_id: int | None = None  # ...and, for v4.0 payloads, by our user

    # Webhook receiver
    max_webhook_bytes: int = 256 * 1024
    # A quarantined body is kept up to this size (DynamoDB takes 400 KB per record).
    quarantine_body_max_bytes: int = Field(256 * 1024, le=350 * 1024)

    # Approver authentication (Cognito in AWS; a locally held key in the local stack)
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_jwks_url: str = ""
    # The inbox page's sign-in: Cognito's hosted UI (authorization code + PKCE) at this
    # domain (https://<prefix>.auth.<region>.amazoncognito.com), the app client being
    # jwt_audience. In the local stack a key it holds signs tokens for the seeded users
    # instead (jwt_private_key_pem, a plain secret: local/test only).
    cognito_domain: str = ""

    # Approver e-mails (SES). No sender: no e-mails at all. The hourly notify-approvers
    # run sends each "daily" approver's digest once, at the first run from this UTC hour.
    notify_from_email: str = ""
    notify_digest_hour_utc: int = Field(13, ge=0, le=23)
    inbox_url: str = ""  # the web inbox the e-mails link to

    # Readiness limits (Procore's documented Sage 100 limits; UNCONFIRMED, so settable)
    commitment_number_max: int = 12
    commitment_title_max: int = 30

    # Secrets: by parameter name in AWS, plain only where PLAIN_SECRET_STAGES allows.
    webhook_token_parameter: str = ""
    procore_client_secret_parameter: str = ""
    jwt_public_key_parameter: str = ""
    # The key of vendors' tax id fingerprints (HMAC-SHA256; SSM SecureString
    # /procore-sage/<stage>/tax-id-key). Changing it orphans the fingerprints kept.
    tax_id_key_parameter: str = ""
    webhook_token: SecretStr | None = None
    procore_client_secret: SecretStr | None = None
    jwt_public_key_pem: SecretStr | None = None
    jwt_private_key_pem: SecretStr | None = None
    tax_id_key: SecretStr | None = None
    secret_max_age: int = 300

    @model_validator(mode="after")
    def _plain_secrets_only_locally(self) -> Settings:
        plain = [
            name
            for name in ("webhook_token", "procore_client_secret", "jwt_public_key_pem",
                         "jwt_private_key_pem", "tax_id_key")
            if getattr(self, name) is not None
        ]
        if plain and self.stage not in PLAIN_SECRET_STAGES:
            raise ValueError(
                f"plain secret values ({', '.join(plain)}) are allowed only in the local "
                f"stack; stage {self.stage!r} must use the *_parameter settings"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process (per Lambda container), never at import."""
    return Settings()


def read_secret(settings: Settings, name: str) -> str:
    """The value of secret ``name`` (webhook_token, procore_client_secret, jwt_public_key_pem).

    A plain value (local stack) wins; otherwise the named parameter is read through
    Powertools parameters: names starting with ``secret:`` from Secrets Manager, the rest
    from SSM Parameter Store with decryption. Powertools caches for ``secret_max_age``.
    """
    plain: SecretStr | None = getattr(settings, name)
    if plain is not None:
        return plain.get_secret_value()
    parameter = getattr(settings, f"{name.removesuffix('_pem')}_parameter", "")
    if not parameter:
        raise ConfigurationError(f"secret {name} is not configured")
    from aws_lambda_powertools.utilities import parameters  # heavy: only when needed

    if parameter.startswith("secret:"):
        value = parameters.get_secret(parameter.removeprefix("secret:"),
                                      max_age=settings.secret_max_age)
    else:
        value = parameters.get_parameter(parameter, decrypt=True,
                                         max_age=settings.secret_max_age)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"secret {name} is empty")
    return value


def tax_id_key() -> str:
    """The deployment's tax id fingerprint key (chalicelib.domain.tax_ids)."""
    return read_secret(get_settings(), "tax_id_key")


def four_eyes_on(settings: Settings) -> bool:
    return settings.four_eyes if settings.four_eyes is not None else settings.stage == "prod"
