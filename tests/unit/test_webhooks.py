"""Contract tests for Procore webhook parsing: versioned fixtures, errors, round trip, fuzz."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain.webhooks import (
    COMMITMENT_RESOURCE_NAMES,
    CommitmentRef,
    RelatedResource,
    WebhookEvent,
    commitment_target,
    from_message,
    parse_webhook,
    to_message,
)
from chalicelib.errors import BadRequest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
CONNECTOR_APP_ID = "connector-client"
COMPANY, PROJECT, USER = 4281379, 316469, 8120933
WOC, POC = "Work Order Contracts", "Purchase Order Contracts"
WOLI, POLI = "Work Order Contract Line Items", "Purchase Order Contract Line Items"


def _event(version: str, event_id: str, action: str, name: str, rid: int, **kw: Any) -> dict:
    base: dict[str, Any] = {
        "event_id": event_id,
        "delivery_id": None,
        "payload_version": version,
        "company_id": COMPANY,
        "project_id": PROJECT,
        "user_id": USER,
        "action": action,
        "resource_name": name,
        "resource_id": rid,
        "related_resources": (),
        "source_application_id": None,
        "source_user_id": USER if version != "v4.0" else None,
    }
    base.update(kw)
    return base


# fixture path -> (expected fields except timestamp, expected group_key, expected target)
EXPECTED: dict[str, tuple[dict[str, Any], str, CommitmentRef | None]] = {
    "v2.0/work_order_contract_create.json": (
        _event("v2.0", "01JQ3K8Z6W2V9T4R1M5N7P0B2C", "create", WOC, 27460118,
               delivery_id="881203311"),
        "4281379:work_order_contracts:27460118",
        CommitmentRef(kind="work_order_contract", commitment_id=27460118, project_id=PROJECT),
    ),
    "v2.0/work_order_contract_update.json": (
        _event("v2.0", "01JQ3K9B2H4F6D8S0A1Q3W5E7R", "update", WOC, 27460118,
               delivery_id="881203415"),
        "4281379:work_order_contracts:27460118",
        CommitmentRef(kind="work_order_contract", commitment_id=27460118, project_id=PROJECT),
    ),
    "v2.0/purchase_order_contract_delete.json": (
        _event("v2.0", "01JQ3KC7YQ1X3Z5V7B9N2M4K6J", "delete", POC, 27460992,
               delivery_id="881204102"),
        "4281379:purchase_order_contracts:27460992",
        CommitmentRef(kind="purchase_order_contract", commitment_id=27460992,
                      project_id=PROJECT),
    ),
    "v2.0/work_order_contract_line_item_update.json": (
        _event("v2.0", "01JQ3KEH8T0G2J4K6P8R1S3V5W", "update", WOLI, 198234571,
               delivery_id="881204577"),
        "4281379:work_order_contract_line_items:198234571",
        CommitmentRef(kind="work_order_contract", commitment_id=None, line_item_id=198234571,
                      project_id=PROJECT),
    ),
    "v2.0/project_update.json": (
        _event("v2.0", "01JQ3KHN3C5E7G9J1K3N5Q7S9V", "update", "Projects", PROJECT,
               delivery_id="881205010", project_id=None),
        "4281379:projects:316469",
        None,
    ),
    "v2.0/work_order_contract_update_from_connector.json": (
        _event("v2.0", "01JQ3KKX9D1F3H5K7M9P1R3T5X", "update", WOC, 27460118,
               delivery_id="881205222", source_application_id=CONNECTOR_APP_ID),
        "4281379:work_order_contracts:27460118",
        CommitmentRef(kind="work_order_contract", commitment_id=27460118, project_id=PROJECT),
    ),
    "v3.0/purchase_order_contract_create.json": (
        _event("v3.0", "01JQ3M0A2B4C6D8E0F2G4H6J8K", "create", POC, 27461544,
               delivery_id="881206001"),
        "4281379:purchase_order_contracts:27461544",
        CommitmentRef(kind="purchase_order_contract", commitment_id=27461544,
                      project_id=PROJECT),
    ),
    "v3.0/work_order_contract_line_item_create.json": (
        _event("v3.0", "01JQ3M1C3D5E7F9G1H3J5K7M9N", "create", WOLI, 198235002,
               delivery_id="881206120",
               related_resources=(RelatedResource(id=27460118, name=WOC),)),
        "4281379:work_order_contracts:27460118",
        CommitmentRef(kind="work_order_contract", commitment_id=27460118,
                      line_item_id=198235002, project_id=PROJECT),
    ),
    "v3.0/purchase_order_contract_line_item_update.json": (
        _event("v3.0", "01JQ3M2E4F6G8H0J2K4M6N8P0Q", "update", POLI, 198235117,
               delivery_id="881206350",
               related_resources=(RelatedResource(id=27461544, name=POC),)),
        "4281379:purchase_order_contracts:27461544",
        CommitmentRef(kind="purchase_order_contract", commitment_id=27461544,
                      line_item_id=198235117, project_id=PROJECT),
    ),
    "v3.0/purchase_order_contract_line_item_update_no_related.json": (
        _event("v3.0", "01JQ3M3G5H7J9K1M3N5P7Q9R1S", "update", POLI, 198235118,
               delivery_id="881206402"),
        "4281379:purchase_order_contract_line_items:198235118",
        CommitmentRef(kind="purchase_order_contract", commitment_id=None,
                      line_item_id=198235118, project_id=PROJECT),
    ),
    "v3.0/work_order_contract_line_item_delete.json": (
        _event("v3.0", "01JQ3M4J6K8M0N2P4Q6R8S0T2V", "delete", WOLI, 198235002,
               delivery_id="881206588",
               related_resources=(RelatedResource(id=27460118, name=WOC),)),
        "4281379:work_order_contracts:27460118",
        CommitmentRef(kind="work_order_contract", commitment_id=27460118,
                      line_item_id=198235002, project_id=PROJECT),
    ),
    "v3.0/work_order_contract_line_item_update_from_connector.json": (
        _event("v3.0", "01JQ3M5K7M9N1P3Q5R7S9T1V3W", "update", WOLI, 198235002,
               delivery_id="881206701", source_application_id=CONNECTOR_APP_ID,
               related_resources=(RelatedResource(id=27460118, name=WOC),)),
        "4281379:work_order_contracts:27460118",
        CommitmentRef(kind="work_order_contract", commitment_id=27460118,
                      line_item_id=198235002, project_id=PROJECT),
    ),
    "v4.0/work_order_contract_create.json": (
        _event("v4.0", "01JQ3N0P2R4S6T8V0W2X4Y6Z8A", "create", WOC, 27462007),
        "4281379:work_order_contracts:27462007",
        CommitmentRef(kind="work_order_contract", commitment_id=27462007, project_id=PROJECT),
    ),
    "v4.0/purchase_order_contract_update.json": (
        _event("v4.0", "01JQ3N1Q3S5T7V9W1X3Y5Z7A9B", "update", POC, 27461544),
        "4281379:purchase_order_contracts:27461544",
        CommitmentRef(kind="purchase_order_contract", commitment_id=27461544,
                      project_id=PROJECT),
    ),
    "v4.0/work_order_contract_delete.json": (
        _event("v4.0", "01JQ3N2R4T6V8W0X2Y4Z6A8B0C", "delete", WOC, 27462007),
        "4281379:work_order_contracts:27462007",
        CommitmentRef(kind="work_order_contract", commitment_id=27462007, project_id=PROJECT),
    ),
    "v4.0/purchase_order_contract_line_item_update.json": (
        _event("v4.0", "01JQ3N3S5V7W9X1Y3Z5A7B9C1D", "update", POLI, 198235117),
        "4281379:purchase_order_contract_line_items:198235117",
        CommitmentRef(kind="purchase_order_contract", commitment_id=None,
                      line_item_id=198235117, project_id=PROJECT),
    ),
    "v4.0/project_update.json": (
        _event("v4.0", "01JQ3N4T6W8X0Y2Z4A6B8C0D2E", "update", "Projects", PROJECT),
        "4281379:projects:316469",
        None,
    ),
}

FIXTURE_NAMES = sorted(EXPECTED)


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _payload(name: str) -> dict[str, Any]:
    return json.loads(_raw(name))


def _body(data: object) -> bytes:
    return json.dumps(data).encode("utf-8")


def _rejects(data: object, *fragments: str) -> BadRequest:
    body = data if isinstance(data, bytes) else _body(data)
    with pytest.raises(BadRequest) as info:
        parse_webhook(body)
    for fragment in fragments:
        assert fragment in info.value.message
    return info.value


# --- fixtures --------------------------------------------------------------------------
def test_every_fixture_file_has_an_expectation() -> None:
    on_disk = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.json"))
    assert on_disk == FIXTURE_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_parses_to_expected_event(name: str) -> None:
    expected, group_key, target = EXPECTED[name]
    event = parse_webhook(_raw(name))

    assert event.model_dump(exclude={"timestamp"}) == WebhookEvent(
        timestamp="x", **expected
    ).model_dump(exclude={"timestamp"})
    assert event.timestamp == _payload(name)["timestamp"]
    assert event.group_key == group_key
    assert commitment_target(event) == target


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_group_key_is_a_valid_sqs_message_group_id(name: str) -> None:
    key = parse_webhook(_raw(name)).group_key
    assert 0 < len(key) <= 128
    assert re.fullmatch(r"[A-Za-z0-9!-/:-@\[-`{-~]+", key)


def test_line_item_and_its_commitment_share_a_group() -> None:
    header = parse_webhook(_raw("v3.0/purchase_order_contract_create.json"))
    line = parse_webhook(_raw("v3.0/purchase_order_contract_line_item_update.json"))
    assert header.group_key == line.group_key


def test_is_from_application() -> None:
    own = parse_webhook(_raw("v2.0/work_order_contract_update_from_connector.json"))
    other = parse_webhook(_raw("v2.0/work_order_contract_update.json"))
    v4 = parse_webhook(_raw("v4.0/work_order_contract_create.json"))

    assert own.is_from_application(CONNECTOR_APP_ID)
    assert not own.is_from_application("someone-else")
    assert not own.is_from_application(None)
    assert not own.is_from_application("")
    assert not other.is_from_application(CONNECTOR_APP_ID)
    assert not v4.is_from_application(CONNECTOR_APP_ID)


def test_commitment_resource_names() -> None:
    assert {WOC, POC, WOLI, POLI} == COMMITMENT_RESOURCE_NAMES


def test_integer_application_id_is_kept_as_string() -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data["metadata"]["source_application_id"] = 1234
    assert parse_webhook(_body(data)).source_application_id == "1234"


def test_related_resource_with_other_name_does_not_regroup() -> None:
    data = _payload("v3.0/work_order_contract_line_item_create.json")
    data["related_resources"] = [{"id": 5, "name": "Prime Contracts"}]
    event = parse_webhook(_body(data))
    assert event.group_key == "4281379:work_order_contract_line_items:198235002"
    target = commitment_target(event)
    assert target is not None and target.commitment_id is None


def test_v3_without_related_resources_key_parses_as_empty() -> None:
    data = _payload("v3.0/purchase_order_contract_create.json")
    del data["related_resources"]
    assert parse_webhook(_body(data)).related_resources == ()


def test_v2_metadata_may_be_absent() -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    del data["metadata"]
    event = parse_webhook(_body(data))
    assert event.source_application_id is None and event.source_user_id is None


def test_v4_blank_project_id_means_company_level() -> None:
    data = _payload("v4.0/project_update.json")
    data["project_id"] = ""
    assert parse_webhook(_body(data)).project_id is None


def test_unknown_extra_fields_are_ignored() -> None:
    data = _payload("v4.0/purchase_order_contract_update.json")
    data["data"] = {"anything": [1, 2]}
    assert parse_webhook(_body(data)).resource_id == 27461544


def test_str_body_is_accepted() -> None:
    text = _raw("v2.0/work_order_contract_update.json").decode("utf-8")
    assert parse_webhook(text).resource_id == 27460118


# --- errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{", b"[1, 2", b"\xff\xfe\x00", b'{"a": NaN}', b"{\"a\": 1e999999}"],
)
def test_invalid_json_is_bad_request(body: bytes) -> None:
    _rejects(body, "body is not valid JSON")


@pytest.mark.parametrize("body", [b"[]", b"null", b"42", b'"text"', b"true"])
def test_json_that_is_not_an_object_is_bad_request(body: bytes) -> None:
    _rejects(body, "body is not valid JSON", "object")


def test_deeply_nested_json_is_bad_request() -> None:
    _rejects(b"[" * 100_000 + b"]" * 100_000, "body is not valid JSON")


@pytest.mark.parametrize("version", ["v1.0", "v5.0", "2.0", ""])
def test_unknown_version_is_named(version: str) -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data["api_version"] = version
    err = _rejects(data, "unsupported payload version", f"'{version}'")
    assert err.details["field"] == "api_version"


def test_non_string_version_is_bad_request() -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data["api_version"] = 2
    _rejects(data, "field 'api_version' must be a string")


def test_missing_version_without_v4_fields_is_bad_request() -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    del data["api_version"]
    _rejects(data, "field 'api_version' is required")


def test_missing_version_with_only_one_v4_field_is_bad_request() -> None:
    data = _payload("v4.0/work_order_contract_create.json")
    del data["reason"]
    _rejects(data, "field 'api_version' is required")


V2_FIELDS = ["id", "ulid", "timestamp", "company_id", "event_type", "resource_name",
             "resource_id"]
V4_FIELDS = ["id", "timestamp", "reason", "company_id", "resource_id"]


@pytest.mark.parametrize("field", V2_FIELDS)
@pytest.mark.parametrize("name", ["v2.0/work_order_contract_update.json",
                                  "v3.0/work_order_contract_line_item_create.json"])
def test_v2_v3_missing_field_is_named(name: str, field: str) -> None:
    data = _payload(name)
    del data[field]
    err = _rejects(data, f"field '{field}' is required")
    assert err.details["field"] == field


@pytest.mark.parametrize("field", V4_FIELDS)
def test_v4_missing_field_is_named(field: str) -> None:
    data = _payload("v4.0/purchase_order_contract_update.json")
    del data[field]
    _rejects(data, f"field '{field}' is required")


@pytest.mark.parametrize("field", ["id", "company_id", "resource_id", "project_id", "user_id"])
@pytest.mark.parametrize("value", ["123", 12.0, 1.5, True, [1], {"id": 1}])
def test_v2_ids_must_be_integers(field: str, value: object) -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data[field] = value
    _rejects(data, f"field '{field}' must be an integer")


@pytest.mark.parametrize("value", [-1, 2**63, 10**400 // 10**300])
def test_v2_ids_must_fit_int64(value: int) -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data["resource_id"] = value
    _rejects(data, "field 'resource_id' is out of range")


def test_v3_related_id_must_fit_int64() -> None:
    data = _payload("v3.0/work_order_contract_line_item_create.json")
    data["related_resources"][0]["id"] = -7
    _rejects(data, "field 'related_resources[0].id' is out of range")


def test_v4_digit_string_beyond_int64_is_bad_request() -> None:
    data = _payload("v4.0/purchase_order_contract_update.json")
    data["resource_id"] = "9" * 19
    err = _rejects(data, "field 'resource_id' is out of range")
    assert err.details["payload_version"] == "v4.0"


@pytest.mark.parametrize("field", ["company_id", "resource_id"])
def test_v2_required_id_null_is_bad_request(field: str) -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data[field] = None
    _rejects(data, f"field '{field}'")


@pytest.mark.parametrize("field", ["ulid", "event_type", "resource_name", "timestamp"])
@pytest.mark.parametrize("value", [1, None, ["x"]])
def test_v2_strings_must_be_strings(field: str, value: object) -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data[field] = value
    _rejects(data, f"field '{field}' must be a string")


@pytest.mark.parametrize("field", ["ulid", "event_type", "resource_name"])
def test_v2_empty_strings_are_rejected(field: str) -> None:
    data = _payload("v2.0/work_order_contract_update.json")
    data[field] = ""
    _rejects(data, f"field '{field}' must not be empty")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(metadata="x"), "field 'metadata' must be an object"),
        (lambda d: d["metadata"].update(source_user_id="9"),
         "field 'metadata.source_user_id' must be an integer"),
        (lambda d: d["metadata"].update(source_application_id=1.5),
         "field 'metadata.source_application_id' must be a string"),
        (lambda d: d["metadata"].update(source_application_id=True),
         "field 'metadata.source_application_id' must be a string"),
        (lambda d: d.update(related_resources={"id": 1}),
         "field 'related_resources' must be a list"),
        (lambda d: d.update(related_resources=[{"id": "1", "name": "x"}]),
         "field 'related_resources[0].id' must be an integer"),
        (lambda d: d.update(related_resources=[{"id": 1}]),
         "field 'related_resources[0].name' is required"),
        (lambda d: d.update(related_resources=[{"id": 1, "name": "x"}, 7]),
         "field 'related_resources[1]' must be an object"),
    ],
)
def test_v3_nested_errors_name_the_path(mutate: Any, fragment: str) -> None:
    data = _payload("v3.0/work_order_contract_line_item_create.json")
    mutate(data)
    _rejects(data, fragment)


@pytest.mark.parametrize("field", ["company_id", "resource_id", "project_id", "user_id"])
@pytest.mark.parametrize("value", [123, "12a", "-5", " 12", "1" * 20, True, 1.0, ["1"]])
def test_v4_ids_must_be_digit_strings(field: str, value: object) -> None:
    data = _payload("v4.0/purchase_order_contract_update.json")
    data[field] = value
    _rejects(data, f"field '{field}' must be a string of digits")


@pytest.mark.parametrize("field", ["id", "reason", "resource_type", "timestamp"])
def test_v4_strings_must_be_strings(field: str) -> None:
    data = _payload("v4.0/purchase_order_contract_update.json")
    data[field] = 7
    _rejects(data, f"field '{field}' must be a string")


def test_error_details_carry_payload_version() -> None:
    data = _payload("v3.0/purchase_order_contract_create.json")
    data["company_id"] = "4281379"
    err = _rejects(data)
    assert err.details == {"field": "company_id", "payload_version": "v3.0"}
    assert err.http_status == 400


# --- SQS message round trip --------------------------------------------------------------
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_message_round_trip(name: str) -> None:
    event = parse_webhook(_raw(name))
    message = to_message(event)
    wire = json.loads(json.dumps(message))  # proves it is JSON-safe
    again = from_message(wire)
    assert again == event
    assert again.group_key == event.group_key


def test_from_message_rejects_damage() -> None:
    message = to_message(parse_webhook(_raw("v2.0/work_order_contract_update.json")))
    del message["company_id"]
    with pytest.raises(BadRequest, match="field 'company_id' is required"):
        from_message(message)
    with pytest.raises(BadRequest, match="JSON object"):
        from_message(["not", "a", "dict"])  # type: ignore[arg-type]


def test_event_is_frozen() -> None:
    event = parse_webhook(_raw("v2.0/work_order_contract_update.json"))
    with pytest.raises(ValidationError, match="frozen"):
        event.company_id = 1  # type: ignore[misc]


# --- fuzz: nothing but BadRequest escapes ------------------------------------------------
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=6),
    max_leaves=20,
)
_field_names = st.sampled_from(
    ["api_version", "id", "ulid", "timestamp", "metadata", "user_id", "company_id",
     "project_id", "event_type", "resource_name", "resource_id", "related_resources",
     "reason", "resource_type", "payload_version"]
)


def _parse_or_bad_request(body: bytes) -> None:
    try:
        event = parse_webhook(body)
    except BadRequest:
        return
    assert isinstance(event, WebhookEvent)
    assert from_message(json.loads(json.dumps(to_message(event)))) == event
    assert len(event.group_key) <= 128
    commitment_target(event)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_arbitrary_json_only_raises_bad_request(value: object) -> None:
    _parse_or_bad_request(json.dumps(value).encode("utf-8"))


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_bad_request(body: bytes) -> None:
    _parse_or_bad_request(body)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIXTURE_NAMES),
    st.dictionaries(_field_names, _json, max_size=4),
    st.lists(_field_names, max_size=3),
)
def test_mutated_fixtures_only_raise_bad_request(
    name: str, overrides: dict[str, object], removals: list[str]
) -> None:
    data = _payload(name)
    data.update(overrides)
    for key in removals:
        data.pop(key, None)
    _parse_or_bad_request(json.dumps(data).encode("utf-8"))
