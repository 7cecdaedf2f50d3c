"""Tax ids kept as last four + keyed fingerprint, shown masked, and masked in every log."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import tax_ids
from chalicelib.domain.tax_ids import (
    fingerprint,
    last4,
    mask,
    mask_value,
    protect,
    protect_row,
    redact,
    redact_text,
    same,
    shown,
)

KEY = "unit-test-tax-id-key"


# ---- masking -------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("123-45-6789", "•••••6789"),
    ("12-3456789", "•••••6789"),
    (123456789, "•••••6789"),
    ("1234", "•••••"),  # four digits or fewer would be the whole id
    ("", "•••••"),
    (None, "•••••"),
    ("•••••6789", "•••••6789"),  # masking twice changes nothing
])
def test_mask_value_keeps_only_the_last_four(raw: Any, expected: str) -> None:
    assert mask_value(raw) == expected


def test_last4_and_mask() -> None:
    assert last4("94-1234567") == "4567" and mask("4567") == "•••••4567"
    assert last4("12") is None and mask(None) == "•••••"


# ---- fingerprints ----------------------------------------------------------------------------
def test_fingerprint_compares_digits_under_the_key() -> None:
    assert fingerprint("12-3456789", KEY) == fingerprint(" 123456789 ", KEY)
    assert fingerprint("12-3456789", KEY) != fingerprint("98-7654321", KEY)
    assert fingerprint("12-3456789", KEY) != fingerprint("12-3456789", "another key")


def test_a_fingerprint_is_not_the_plain_hash_of_the_digits() -> None:
    import hashlib

    plain = hashlib.sha256(b"123456789").hexdigest()
    assert fingerprint("123-45-6789", KEY) != plain
    assert "123456789" not in str(fingerprint("123-45-6789", KEY))


@pytest.mark.parametrize("placeholder", ["00-0000000", "999999999", "1", None, "", "--"])
def test_placeholders_and_blanks_have_no_fingerprint(placeholder: Any) -> None:
    assert fingerprint(placeholder, KEY) is None


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key is empty"):
        fingerprint("12-3456789", "")


# ---- what is kept, and shown -----------------------------------------------------------------
def test_protect_keeps_last_four_fingerprint_and_length() -> None:
    assert protect("123-45-6789", KEY) == {
        "tax_id_last4": "6789", "tax_id_fingerprint": fingerprint("123456789", KEY),
        "tax_id_length": 11}
    assert protect("  ", KEY) == {"tax_id_last4": None, "tax_id_fingerprint": None,
                                  "tax_id_length": 0}


def test_protect_row_drops_the_clear_value() -> None:
    row = protect_row({"vendor": 3001, "name": "A", "tax_id": "94-1234567"}, KEY)
    assert "tax_id" not in row and row["tax_id_last4"] == "4567" and row["vendor"] == 3001
    assert protect_row({"vendor": 1}, KEY) == {"vendor": 1}


def test_shown_masks_for_those_who_may_see_and_hides_otherwise() -> None:
    kept = {"vendor": 3001, **protect("94-1234567", KEY)}
    assert shown(kept, visible=True) == {"vendor": 3001, "tax_id": "•••••4567"}
    assert shown(kept, visible=False) == {"vendor": 3001}
    assert shown({"vendor": 2, **protect(None, KEY)}, visible=True) == {"vendor": 2,
                                                                        "tax_id": None}


def test_same_by_fingerprint_then_by_last_four() -> None:
    a, b = protect("12-3456789", KEY), protect("123456789", KEY)
    assert same(a, b) and not same(a, protect("98-7654321", KEY))
    assert same(protect(None, KEY), protect("", KEY))
    assert not same(protect("00-0000000", KEY), protect(None, KEY))  # a placeholder is set
    assert same(protect("00-0000000", KEY), protect("000000000", KEY))


@given(st.from_regex(r"\A[0-9]{3}-[0-9]{2}-[0-9]{4}\Z"))
def test_nothing_kept_or_shown_has_the_leading_digits(ssn: str) -> None:
    kept = protect(ssn, KEY)
    text = json.dumps({**kept, **shown(kept, visible=True)}, ensure_ascii=False)
    assert ssn not in text and ssn.replace("-", "")[:5] not in text.replace(
        str(kept["tax_id_fingerprint"]), "")


# ---- redaction -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("ssn 123-45-6789 here", "ssn •••••6789 here"),
    ("EIN 94-1234567.", "EIN •••••4567."),
    ("bare 123456789", "bare •••••6789"),
    ('{"identifier": "94-1234567"}', '{"identifier": "•••••4567"}'),
    ("{'tax_id': '9412'}", "{'tax_id': '•••••'}"),
    ("date 2026-11-30 and id 1234567890", "date 2026-11-30 and id 1234567890"),
    ("hex 1-5759e988-bd862e3fe1be46a994272793", "hex 1-5759e988-bd862e3fe1be46a994272793"),
])
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_bare_nine_digit_ids_can_be_kept() -> None:
    assert redact_text('{"resource_id": 123456789}', bare_nine=False) == \
        '{"resource_id": 123456789}'
    assert redact_text('{"identifier": "123456789"}', bare_nine=False) == \
        '{"identifier": "•••••6789"}'


def test_redact_masks_tax_id_keys_whatever_their_shape() -> None:
    logged = {"tax_id": "A1B2C3D4E5", "business_register": {"identifier": "51824753556"},
              "SSN": 123456789, "fedidn": "x", "rows": [{"vendor_tax_id": "12-3456789"}],
              "count": 123, "tax_id_last4": "6789", "inactive": True}
    assert redact(logged) == {
        "tax_id": "•••••2345",  # its digits' last four
        "business_register": {"identifier": "•••••3556"}, "SSN": "•••••6789",
        "fedidn": "•••••", "rows": [{"vendor_tax_id": "•••••6789"}], "count": 123,
        "tax_id_last4": "6789", "inactive": True}


# ---- the logs --------------------------------------------------------------------------------
def test_the_connector_logger_masks_messages_keys_and_exceptions(
        caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    saved = handler.stream
    handler.setStream(stream)
    try:
        with caplog.at_level(logging.INFO, logger="connector"):
            logger.info("vendor %s has 123-45-6789", "94-1234567", tax_id="98-7654321",
                        row={"business_register": {"identifier": "51-2345678"}})
            try:
                raise ValueError("refused 77-7654321")
            except ValueError:
                logger.exception("failed")
    finally:
        handler.setStream(saved)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "vendor •••••4567 has •••••6789"
    assert lines[0]["tax_id"] == "•••••4321"
    assert lines[0]["row"] == {"business_register": {"identifier": "•••••5678"}}
    assert "7654321" not in stream.getvalue()
    # what a handler formats: the message, the keys logged, the exception's text (the live
    # exception object in exc_info is the program's, not the log's)
    captured = caplog.text + json.dumps(
        [{k: v for k, v in vars(r).items() if k != "exc_info"} for r in caplog.records],
        default=str)
    for clear in ("123-45-6789", "94-1234567", "98-7654321", "51-2345678", "77-7654321"):
        assert clear not in stream.getvalue() and clear not in captured


def test_the_relay_agent_logs_mask_tax_ids() -> None:
    from relay.logs import JsonFormatter

    record = logging.LogRecord("relay.agent", logging.INFO, "x", 1,
                               "pulled vendor 3001 (94-1234567)", None, None)
    record.fields = {"rows": [{"vendor": 3001, "tax_id": "94-1234567"}],  # type: ignore[attr-defined]
                     "payload": {"fedidn": "123456789"}, "command_id": "4264:pull:v:1"}
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "pulled vendor 3001 (•••••4567)"
    assert line["rows"] == [{"vendor": 3001, "tax_id": "•••••4567"}]
    assert line["payload"] == {"fedidn": "•••••6789"}
    assert line["command_id"] == "4264:pull:v:1"


def test_module_names_are_what_the_rest_reads() -> None:
    assert tax_ids.KEPT == ("tax_id_last4", "tax_id_fingerprint", "tax_id_length")


# ---- the key -----------------------------------------------------------------------------------
def test_the_key_is_a_secret_read_by_parameter_outside_local_stacks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from chalicelib.settings import Settings, read_secret

    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("TAX_ID_KEY", "plain")
    with pytest.raises(ValidationError, match="tax_id_key"):
        Settings()
    monkeypatch.delenv("TAX_ID_KEY")
    monkeypatch.setenv("TAX_ID_KEY_PARAMETER", "/procore-sage/prod/tax-id-key")
    read: list[tuple[str, bool]] = []

    def get_parameter(name: str, decrypt: bool = False, max_age: int = 0) -> str:
        read.append((name, decrypt))
        return "from-ssm"

    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setattr(parameters, "get_parameter", get_parameter)
    assert read_secret(Settings(), "tax_id_key") == "from-ssm"
    assert read == [("/procore-sage/prod/tax-id-key", True)]
