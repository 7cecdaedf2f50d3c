"""The one settings model: environment in, validated values out, secrets by name."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings, read_secret


def test_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t1")
    monkeypatch.setenv("PROCORE_COMPANY_ID", "4264")
    monkeypatch.setenv("COMMITMENT_NUMBER_MAX", "20")
    settings = Settings()
    assert settings.table_name == "t1"
    assert settings.procore_company_id == 4264
    assert settings.commitment_number_max == 20
    assert settings.max_webhook_bytes == 256 * 1024


def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCORE_COMPANY_ID", "acme")
    with pytest.raises(ValidationError, match="procore_company_id"):
        Settings()


def test_plain_secrets_only_in_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_TOKEN", "Bearer x")
    monkeypatch.setenv("STAGE", "prod")
    with pytest.raises(ValidationError, match="allowed only in the local stack"):
        Settings()
    monkeypatch.setenv("STAGE", "local")
    assert read_secret(Settings(), "webhook_token") == "Bearer x"


def test_secret_from_ssm_and_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    with mock_aws():
        boto3.client("ssm").put_parameter(Name="/procore-sage/prod/webhook-token",
                                          Value="Bearer from-ssm", Type="SecureString")
        boto3.client("secretsmanager").create_secret(Name="procore-sage/prod/procore",
                                                     SecretString="s3cret")
        monkeypatch.setenv("WEBHOOK_TOKEN_PARAMETER", "/procore-sage/prod/webhook-token")
        monkeypatch.setenv("PROCORE_CLIENT_SECRET_PARAMETER", "secret:procore-sage/prod/procore")
        settings = Settings()
        assert read_secret(settings, "webhook_token") == "Bearer from-ssm"
        assert read_secret(settings, "procore_client_secret") == "s3cret"
        with pytest.raises(ConfigurationError, match="jwt_public_key_pem is not configured"):
            read_secret(settings, "jwt_public_key_pem")
