"""Bearer JWT verification: PEM (local stack) and JWKS (Cognito) key sources."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from chalicelib.auth import (
    Principal,
    TokenVerifier,
    cognito_issuer,
    cognito_jwks_url,
    fetch_jwks,
    generate_local_keypair,
    mint_local_token,
)
from chalicelib.errors import ConfigurationError, ServiceUnavailable, Unauthorized

NOW = 1_750_000_000
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
AUDIENCE = "5v1c9lq0example0client0id"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"


class FakeClock:
    """A settable clock so expiry tests never sleep."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_local_keypair()


@pytest.fixture(scope="module")
def other_keypair() -> tuple[str, str]:
    return generate_local_keypair()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(keypair: tuple[str, str], clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, public_key_pem=keypair[1], clock=clock
    )


def _mint(private_pem: str, **overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "0f3c1a2e-user-sub",
        "username": "pat.accountant",
        "now": NOW,
    }
    kwargs.update(overrides)
    return mint_local_token(private_pem, **kwargs)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def _claims(**extra: Any) -> dict[str, Any]:
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "attacker", "iat": NOW, "exp": NOW + 600,
            **extra}


def _rejected(verifier: TokenVerifier, header: str | None, fragment: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        verifier.verify(header)
    err = info.value
    assert fragment in err.message
    assert err.http_status == 401
    if header and header.split():
        token = header.split()[-1]
        if len(token) > 8:
            assert token not in err.message
            assert token not in json.dumps(err.to_body())
    return err


# --- accepted ------------------------------------------------------------------------------
def test_valid_token_is_accepted(verifier: TokenVerifier, keypair: tuple[str, str]) -> None:
    token = _mint(keypair[0], extra_claims={"email": "pat@example.com"})
    principal = verifier.verify(f"Bearer {token}")

    assert principal == Principal(
        subject="0f3c1a2e-user-sub", username="pat.accountant", email="pat@example.com"
    )
    assert principal.claims["iss"] == ISSUER
    assert principal.claims["aud"] == AUDIENCE


def test_scheme_is_case_insensitive_and_whitespace_tolerant(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0])
    assert verifier.verify(f"  bearer   {token} ").subject == "0f3c1a2e-user-sub"


def test_cognito_access_token_with_client_id_is_accepted(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(
        keypair[0],
        audience=None,
        username=None,
        extra_claims={"client_id": AUDIENCE, "token_use": "access", "username": "pat",
                      "scope": "aws.cognito.signin.user.admin"},
    )
    principal = verifier.verify(f"Bearer {token}")
    assert principal.username == "pat"
    assert "aud" not in principal.claims


def test_cognito_id_token_is_accepted(verifier: TokenVerifier, keypair: tuple[str, str]) -> None:
    token = _mint(
        keypair[0],
        username=None,
        extra_claims={"token_use": "id", "cognito:username": "pat", "email": "pat@example.com"},
    )
    principal = verifier.verify(f"Bearer {token}")
    assert (principal.username, principal.email) == ("pat", "pat@example.com")


def test_audience_list_containing_ours_is_accepted(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0], audience=None, extra_claims={"aud": ["other", AUDIENCE]})
    assert verifier.verify(f"Bearer {token}").subject


def test_audience_none_skips_audience_check(
    keypair: tuple[str, str], clock: FakeClock
) -> None:
    lenient = TokenVerifier(issuer=ISSUER, audience=None, public_key_pem=keypair[1], clock=clock)
    token = _mint(keypair[0], audience="anyone")
    assert lenient.verify(f"Bearer {token}").subject


def test_leeway_tolerates_small_clock_skew(
    verifier: TokenVerifier, keypair: tuple[str, str], clock: FakeClock
) -> None:
    token = _mint(keypair[0], ttl_seconds=60)
    clock.now = NOW + 60 + 30  # exactly at exp + leeway
    assert verifier.verify(f"Bearer {token}").subject
    future = _mint(keypair[0], now=NOW + 25)  # issued slightly "after" our clock
    clock.now = NOW
    assert verifier.verify(f"Bearer {future}").subject


# --- rejected: time, issuer, audience, use ------------------------------------------------
def test_expired_token_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str], clock: FakeClock
) -> None:
    token = _mint(keypair[0], ttl_seconds=60)
    clock.now = NOW + 60 + 31
    err = _rejected(verifier, f"Bearer {token}", "expired")
    assert err.details["reason"] == "expired"


def test_token_without_exp_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": NOW}, keypair[0],
        algorithm="RS256", headers={"kid": "local"},
    )
    _rejected(verifier, f"Bearer {token}", "expiry")


def test_token_issued_in_the_future_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0], now=NOW + 31)
    _rejected(verifier, f"Bearer {token}", "issued in the future")


def test_token_not_yet_valid_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0], extra_claims={"nbf": NOW + 120})
    _rejected(verifier, f"Bearer {token}", "not valid yet")


def test_wrong_issuer_is_rejected(verifier: TokenVerifier, keypair: tuple[str, str]) -> None:
    token = _mint(keypair[0], issuer=ISSUER + "x")
    err = _rejected(verifier, f"Bearer {token}", "issuer")
    assert err.details["reason"] == "issuer"


def test_wrong_audience_is_rejected(verifier: TokenVerifier, keypair: tuple[str, str]) -> None:
    token = _mint(keypair[0], audience="some-other-client")
    _rejected(verifier, f"Bearer {token}", "audience")


def test_access_token_with_other_client_id_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0], audience=None,
                  extra_claims={"client_id": "other", "token_use": "access"})
    _rejected(verifier, f"Bearer {token}", "audience")


def test_unexpected_token_use_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0], extra_claims={"token_use": "refresh"})
    _rejected(verifier, f"Bearer {token}", "token_use")


def test_token_without_subject_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    token = _mint(keypair[0], subject="")
    _rejected(verifier, f"Bearer {token}", "subject")


# --- rejected: algorithm and signature -----------------------------------------------------
def test_alg_none_is_rejected(verifier: TokenVerifier) -> None:
    token = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(_claims())}."
    err = _rejected(verifier, f"Bearer {token}", "algorithm")
    assert err.details["reason"] == "algorithm"


def test_hs256_signed_with_public_key_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(_claims())}"
    mac = hmac.new(keypair[1].encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256)
    token = f"{signing_input}.{_b64(mac.digest())}"
    _rejected(verifier, f"Bearer {token}", "algorithm")


def test_rs512_is_rejected(verifier: TokenVerifier, keypair: tuple[str, str]) -> None:
    token = jwt.encode(_claims(), keypair[0], algorithm="RS512")
    _rejected(verifier, f"Bearer {token}", "algorithm")


def test_tampered_signature_is_rejected(
    verifier: TokenVerifier, keypair: tuple[str, str]
) -> None:
    head, body, sig = _mint(keypair[0]).split(".")
    flipped = ("B" if sig[10] == "A" else "A").join((sig[:10], sig[11:]))
    _rejected(verifier, f"Bearer {head}.{body}.{flipped}", "signature")


def test_tampered_claims_are_rejected(verifier: TokenVerifier, keypair: tuple[str, str]) -> None:
    head, _body, sig = _mint(keypair[0]).split(".")
    forged = _segment(_claims(sub="someone-else"))
    _rejected(verifier, f"Bearer {head}.{forged}.{sig}", "signature")


def test_token_from_another_key_is_rejected(
    verifier: TokenVerifier, other_keypair: tuple[str, str]
) -> None:
    _rejected(verifier, f"Bearer {_mint(other_keypair[0])}", "signature")


# --- rejected: header shape ------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_rejected(verifier: TokenVerifier, header: str | None) -> None:
    err = _rejected(verifier, header, "missing Authorization header")
    assert err.details["reason"] == "missing"


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc.def.ghi", "Bearer a.b.c extra"]
)
def test_wrong_scheme_is_rejected(verifier: TokenVerifier, header: str) -> None:
    _rejected(verifier, header, "Bearer <token>")


@pytest.mark.parametrize(
    "token", ["garbled", "not.a.jwt", "a.b", "!!!!.????.####", "eyJhbGciOiJSUzI1NiJ9.e30"]
)
def test_garbled_token_is_rejected(verifier: TokenVerifier, token: str) -> None:
    _rejected(verifier, f"Bearer {token}", "malformed")


def test_oversized_token_is_rejected(verifier: TokenVerifier) -> None:
    _rejected(verifier, "Bearer " + "a" * 20_000, "too long")


# --- JWKS (Cognito) ---------------------------------------------------------------------------
def _jwk(public_pem: str, kid: str) -> dict[str, Any]:
    public_key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class FakeJwks:
    """Serves a mutable key set and counts fetches, like Cognito's endpoint would."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.fetches: list[str] = []

    def __call__(self, url: str) -> dict[str, Any]:
        self.fetches.append(url)
        return {"keys": list(self.keys)}


COGNITO_ID = {"token_use": "id"}  # what a Cognito ID token carries


def _cognito(private_pem: str, **overrides: Any) -> str:
    """A token as a Cognito pool issues it (with token_use), for the JWKS verifier."""
    return _mint(private_pem, extra_claims=COGNITO_ID, **overrides)


def _jwks_verifier(fetcher: Any, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL, jwks_fetcher=fetcher, clock=clock
    )


def test_jwks_key_is_fetched_once_and_cached(
    keypair: tuple[str, str], clock: FakeClock
) -> None:
    fetcher = FakeJwks(_jwk(keypair[1], "key-1"))
    verifier = _jwks_verifier(fetcher, clock)
    token = _cognito(keypair[0], kid="key-1")

    assert verifier.verify(f"Bearer {token}").subject
    assert verifier.verify(f"Bearer {token}").subject
    assert fetcher.fetches == [JWKS_URL]


def test_jwks_unknown_kid_refetches_once_for_rotation(
    keypair: tuple[str, str], other_keypair: tuple[str, str], clock: FakeClock
) -> None:
    fetcher = FakeJwks(_jwk(keypair[1], "key-1"))
    verifier = _jwks_verifier(fetcher, clock)
    assert verifier.verify(f"Bearer {_cognito(keypair[0], kid='key-1')}").subject
    assert len(fetcher.fetches) == 1

    fetcher.keys.append(_jwk(other_keypair[1], "key-2"))  # the pool rotates its keys
    rotated = _cognito(other_keypair[0], kid="key-2")
    assert verifier.verify(f"Bearer {rotated}").subject
    assert len(fetcher.fetches) == 2
    assert verifier.verify(f"Bearer {rotated}").subject
    assert len(fetcher.fetches) == 2


def test_jwks_made_up_kids_cannot_hammer_the_endpoint(
    keypair: tuple[str, str], clock: FakeClock
) -> None:
    fetcher = FakeJwks(_jwk(keypair[1], "key-1"))
    verifier = _jwks_verifier(fetcher, clock)

    _rejected(verifier, f"Bearer {_cognito(keypair[0], kid='nope-1')}", "signing key is unknown")
    assert len(fetcher.fetches) == 2  # initial load + one refetch for the unknown kid
    _rejected(verifier, f"Bearer {_cognito(keypair[0], kid='nope-2')}", "signing key is unknown")
    assert len(fetcher.fetches) == 2  # cooling down: no refetch
    clock.now += 10
    _rejected(verifier, f"Bearer {_cognito(keypair[0], kid='nope-3')}", "signing key is unknown")
    assert len(fetcher.fetches) == 3


def test_jwks_token_without_kid_is_rejected(keypair: tuple[str, str], clock: FakeClock) -> None:
    verifier = _jwks_verifier(FakeJwks(_jwk(keypair[1], "key-1")), clock)
    token = jwt.encode(_claims(), keypair[0], algorithm="RS256")
    _rejected(verifier, f"Bearer {token}", "no key id")


def test_jwks_ignores_unusable_keys(keypair: tuple[str, str], clock: FakeClock) -> None:
    hs_key = {"kty": "oct", "kid": "key-1", "k": _b64(b"secret"), "alg": "HS256"}
    enc_key = {**_jwk(keypair[1], "key-2"), "use": "enc"}
    broken = {"kty": "RSA", "kid": "key-3", "n": "@@", "e": "AQAB"}
    fetcher = FakeJwks(hs_key, enc_key, broken, "junk", _jwk(keypair[1], "key-4"))  # type: ignore[arg-type]
    verifier = _jwks_verifier(fetcher, clock)
    for kid in ("key-1", "key-2", "key-3"):
        _rejected(verifier, f"Bearer {_cognito(keypair[0], kid=kid)}", "signing key is unknown")
    assert verifier.verify(f"Bearer {_cognito(keypair[0], kid='key-4')}").subject


def test_jwks_fetch_failure_is_service_unavailable(
    keypair: tuple[str, str], clock: FakeClock
) -> None:
    def failing(url: str) -> dict[str, Any]:
        raise OSError("connection refused")

    verifier = _jwks_verifier(failing, clock)
    with pytest.raises(ServiceUnavailable, match="signing keys"):
        verifier.verify(f"Bearer {_cognito(keypair[0], kid='key-1')}")


@pytest.mark.parametrize("document", [{}, {"keys": "nope"}, [], None])
def test_malformed_jwks_is_service_unavailable(
    keypair: tuple[str, str], clock: FakeClock, document: Any
) -> None:
    verifier = _jwks_verifier(lambda url: document, clock)
    with pytest.raises(ServiceUnavailable, match="malformed"):
        verifier.verify(f"Bearer {_cognito(keypair[0], kid='key-1')}")


def test_bad_header_never_triggers_a_fetch(clock: FakeClock) -> None:
    fetcher = FakeJwks()
    verifier = _jwks_verifier(fetcher, clock)
    _rejected(verifier, None, "missing")
    _rejected(verifier, "Bearer garbled", "malformed")
    assert fetcher.fetches == []


# --- configuration ---------------------------------------------------------------------------
def test_exactly_one_key_source_is_required(keypair: tuple[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ConfigurationError, match="exactly one"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=JWKS_URL,
                      public_key_pem=keypair[1])
    with pytest.raises(ConfigurationError, match="jwks_fetcher"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=keypair[1],
                      jwks_fetcher=FakeJwks())
    with pytest.raises(ConfigurationError, match="issuer"):
        TokenVerifier(issuer="", audience=AUDIENCE, public_key_pem=keypair[1])


def test_bad_pem_is_a_configuration_error(keypair: tuple[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="PEM"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem="not a key")
    with pytest.raises(ConfigurationError, match="PEM"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=keypair[0])


@pytest.mark.parametrize(
    "url", ["http://cognito-idp.example.com/jwks.json", "file:///etc/passwd", "ftp://x/y", ""]
)
def test_jwks_url_must_be_https(url: str) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, jwks_fetcher=FakeJwks())
    with pytest.raises(ConfigurationError, match="https"):
        fetch_jwks(url)


def test_cognito_urls() -> None:
    assert cognito_issuer("us-east-1", "us-east-1_AbCdEf123") == ISSUER
    assert cognito_jwks_url("us-east-1", "us-east-1_AbCdEf123") == JWKS_URL


def test_principal_is_frozen() -> None:
    principal = Principal(subject="s")
    with pytest.raises(AttributeError):
        principal.subject = "other"  # type: ignore[misc]


# --- default fetcher against a loopback server ------------------------------------------------
@pytest.fixture
def loopback_jwks(keypair: tuple[str, str]) -> Iterator[tuple[str, list[str]]]:
    body = json.dumps({"keys": [_jwk(keypair[1], "key-1")]}).encode("utf-8")
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", paths
    finally:
        server.shutdown()
        server.server_close()


def test_default_fetcher_reads_loopback_jwks(
    loopback_jwks: tuple[str, list[str]], keypair: tuple[str, str], clock: FakeClock
) -> None:
    url, paths = loopback_jwks
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, clock=clock)
    assert verifier.verify(f"Bearer {_cognito(keypair[0], kid='key-1')}").subject
    assert paths == ["/.well-known/jwks.json"]


# --- helpers -----------------------------------------------------------------------------------
def test_generated_keypair_is_rsa_2048(keypair: tuple[str, str]) -> None:
    private_pem, public_pem = keypair
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    assert key.key_size == 2048  # type: ignore[union-attr]


def test_minted_token_shape(keypair: tuple[str, str]) -> None:
    token = _mint(keypair[0], ttl_seconds=900, kid="dev", extra_claims={"custom": 1})
    assert jwt.get_unverified_header(token)["kid"] == "dev"
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "0f3c1a2e-user-sub", "username": "pat.accountant",
        "iat": NOW, "exp": NOW + 900, "custom": 1,
    }


def test_a_cognito_token_needs_token_use_and_the_verifier_an_audience(
    keypair: tuple[str, str], clock: FakeClock
) -> None:
    verifier = _jwks_verifier(FakeJwks(_jwk(keypair[1], "key-1")), clock)
    _rejected(verifier, f"Bearer {_mint(keypair[0], kid='key-1')}", "token has no token_use")
    refresh = _mint(keypair[0], kid="key-1", extra_claims={"token_use": "refresh"})
    _rejected(verifier, f"Bearer {refresh}", "token_use is not accepted")
    assert verifier.verify(f"Bearer {_cognito(keypair[0], kid='key-1')}")
    with pytest.raises(ConfigurationError, match="needs an audience"):
        TokenVerifier(issuer=ISSUER, audience=None, jwks_url=JWKS_URL,
                      jwks_fetcher=FakeJwks(), clock=clock)
