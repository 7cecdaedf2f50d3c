"""Bearer JWT verification for approvers and admins.

In AWS the tokens come from a Cognito user pool (keys published as a JWKS); in the local
stack they are signed with a locally held RSA key whose public half is configured as a
PEM. Either way only RS256 is accepted, so a token can never choose a weaker algorithm
(``none``, or HS256 keyed with our public key). Time checks use an injected clock so
tests need no sleeping, and every failure is ``Unauthorized`` with a short message saying
which check failed; the token itself is never echoed.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chalicelib.errors import ConfigurationError, ServiceUnavailable, Unauthorized

ALGORITHM = "RS256"
ACCEPTED_TOKEN_USES = frozenset({"access", "id"})
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_MAX_BYTES = 1_048_576
#: after a refetch that still lacks a kid, wait this long before refetching for another
#: unknown kid, so tokens with made-up kids cannot make us hammer the JWKS endpoint.
UNKNOWN_KID_REFETCH_COOLDOWN_SECONDS = 10.0
MAX_TOKEN_CHARS = 16_384
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

JwksFetcher = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class Principal:
    """Who made the request, as proven by a verified token.

    ``claims`` is left out of ``==`` and ``repr`` so logging a principal never dumps the
    token's contents.
    """

    subject: str
    username: str | None = None
    email: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` Cognito puts in tokens of a user pool."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def cognito_jwks_url(region: str, user_pool_id: str) -> str:
    """Where a Cognito user pool publishes its signing keys."""
    return f"{cognito_issuer(region, user_pool_id)}/.well-known/jwks.json"


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """Default JWKS fetcher: one bounded HTTPS GET with urllib (no extra dependency)."""
    _check_jwks_url(url)
    # The scheme was checked above (https, or http on loopback only).
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(  # nosec B310 - scheme checked above
            request, timeout=JWKS_TIMEOUT_SECONDS) as response:
        body = response.read(JWKS_MAX_BYTES + 1)
    if len(body) > JWKS_MAX_BYTES:
        raise ValueError("JWKS document is too large")
    return json.loads(body)


class TokenVerifier:
    """Verify ``Authorization: Bearer <jwt>`` headers against one issuer and key source."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | None,
        jwks_url: str | None = None,
        public_key_pem: str | None = None,
        jwks_fetcher: JwksFetcher | None = None,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``audience=None`` skips the audience check; use it only with a single client."""
        if not issuer:
            raise ConfigurationError("token issuer is not configured")
        if (jwks_url is None) == (public_key_pem is None):
            raise ConfigurationError("configure exactly one of jwks_url or public_key_pem")
        if jwks_fetcher is not None and jwks_url is None:
            raise ConfigurationError("jwks_fetcher needs jwks_url")
        if leeway < 0:
            raise ConfigurationError("leeway must not be negative")
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._clock = clock
        self._jwks_url = jwks_url
        self._fetch = jwks_fetcher or fetch_jwks
        self._static_key: rsa.RSAPublicKey | None = None
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._jwks_loaded = False
        self._last_miss_refetch: float | None = None
        self._lock = threading.Lock()
        # A Cognito pool (keys from its JWKS) serves several app clients and both token
        # kinds: without an audience any of its clients' tokens would pass, and without
        # token_use a token of another kind. Both are required there.
        self._require_token_use = jwks_url is not None
        if jwks_url is not None:
            if not audience:
                raise ConfigurationError("a JWKS-verified (Cognito) token needs an audience: "
                                         "set JWT_AUDIENCE to the app client id")
            _check_jwks_url(jwks_url)
        else:
            self._static_key = _load_public_key(public_key_pem or "")

    # --- public ---------------------------------------------------------------------
    def verify(self, authorization_header: str | None) -> Principal:
        """Return the caller's ``Principal`` or raise ``Unauthorized`` saying why not."""
        token = _bearer_token(authorization_header)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("bearer token is malformed", reason="malformed") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(
                "token algorithm is not allowed (RS256 only)", reason="algorithm"
            )
        key = self._key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": True,
                    # Claims are checked below with our clock and our messages.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_iss": False,
                    "verify_aud": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized("token signature is invalid", reason="signature") from None
        except jwt.DecodeError:
            raise Unauthorized("bearer token is malformed", reason="malformed") from None
        except jwt.PyJWTError:
            raise Unauthorized("bearer token is invalid", reason="invalid") from None
        self._check_claims(claims)
        return _principal(claims)

    # --- keys -----------------------------------------------------------------------
    def _key_for(self, kid: object) -> rsa.RSAPublicKey:
        """The PEM key, or the JWKS key named by ``kid`` (refetching once if unknown)."""
        if self._static_key is not None:
            return self._static_key
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token has no key id", reason="unknown_key")
        with self._lock:
            if not self._jwks_loaded:
                self._refresh_keys()
            key = self._keys.get(kid)
            if key is None and self._may_refetch_for_unknown_kid():
                self._last_miss_refetch = self._clock()
                self._refresh_keys()
                key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("token signing key is unknown", reason="unknown_key")
        return key

    def _may_refetch_for_unknown_kid(self) -> bool:
        last = self._last_miss_refetch
        return last is None or self._clock() - last >= UNKNOWN_KID_REFETCH_COOLDOWN_SECONDS

    def _refresh_keys(self) -> None:
        """Replace the cached keys with the current JWKS; a failure is our outage (503)."""
        url = self._jwks_url or ""
        try:
            document = self._fetch(url)
        except ServiceUnavailable:
            raise
        except Exception as exc:  # any fetch failure means "cannot verify now"
            raise ServiceUnavailable(
                "could not fetch the token signing keys", cause=type(exc).__name__
            ) from exc
        self._keys = _rsa_keys_from_jwks(document)
        self._jwks_loaded = True

    # --- claims ---------------------------------------------------------------------
    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        exp = claims.get("exp")
        if not _is_number(exp):
            raise Unauthorized("token has no valid expiry", reason="expired")
        if now > exp + self._leeway:
            raise Unauthorized("token has expired", reason="expired")
        nbf = claims.get("nbf")
        if nbf is not None and (not _is_number(nbf) or now + self._leeway < nbf):
            raise Unauthorized("token is not valid yet", reason="not_yet_valid")
        iat = claims.get("iat")
        if iat is not None and (not _is_number(iat) or iat > now + self._leeway):
            raise Unauthorized("token was issued in the future", reason="not_yet_valid")
        if claims.get("iss") != self._issuer:
            raise Unauthorized("token issuer is not accepted", reason="issuer")
        if self._audience is not None and not self._audience_matches(claims):
            raise Unauthorized("token audience is not accepted", reason="audience")
        token_use = claims.get("token_use")
        if token_use is None and self._require_token_use:
            raise Unauthorized("token has no token_use", reason="token_use")
        if token_use is not None and token_use not in ACCEPTED_TOKEN_USES:
            raise Unauthorized("token_use is not accepted", reason="token_use")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("token has no subject", reason="subject")

    def _audience_matches(self, claims: Mapping[str, Any]) -> bool:
        """``aud`` (string or list) names us, or a Cognito access token's ``client_id`` does."""
        aud = claims.get("aud")
        if isinstance(aud, str) and aud == self._audience:
            return True
        if isinstance(aud, list) and self._audience in aud:
            return True
        return claims.get("client_id") == self._audience


# --- local stack and tests ----------------------------------------------------------------
def generate_local_keypair() -> tuple[str, str]:
    """A fresh RSA-2048 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return private_pem.decode("ascii"), public_pem.decode("ascii")


def mint_local_token(
    private_pem: str,
    *,
    issuer: str,
    audience: str | None,
    subject: str,
    username: str | None = None,
    ttl_seconds: int = 3600,
    kid: str = "local",
    extra_claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """Sign an RS256 token the way the local stack's login does; ``extra_claims`` win."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if audience is not None:
        claims["aud"] = audience
    if username is not None:
        claims["username"] = username
    claims.update(extra_claims or {})
    return jwt.encode(claims, _signing_key(private_pem), algorithm=ALGORITHM,
                      headers={"kid": kid})


@functools.lru_cache(maxsize=4)
def _signing_key(private_pem: str) -> rsa.RSAPrivateKey:
    """The PEM parsed once: loading (and checking) an RSA key costs ~50 ms, a signature ~2."""
    key = serialization.load_pem_private_key(private_pem.encode("utf-8"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError("the local signing key must be an RSA private key")
    return key


# --- helpers ------------------------------------------------------------------------------
def _bearer_token(authorization_header: str | None) -> str:
    if not authorization_header or not authorization_header.strip():
        raise Unauthorized("missing Authorization header", reason="missing")
    parts = authorization_header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Unauthorized("Authorization header must be 'Bearer <token>'", reason="scheme")
    token = parts[1]
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("bearer token is too long", reason="malformed")
    return token


def _check_jwks_url(url: str) -> None:
    """HTTPS only (plain HTTP just for a loopback stand-in), never file: or other schemes."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https" and parsed.hostname:
        return
    if parsed.scheme == "http" and parsed.hostname in _LOOPBACK_HOSTS:
        return
    raise ConfigurationError("jwks_url must be an https URL", jwks_url=url)


def _load_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise ConfigurationError("public_key_pem is not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigurationError("public_key_pem must be an RSA public key")
    return key


def _rsa_keys_from_jwks(document: object) -> dict[str, rsa.RSAPublicKey]:
    """Usable RS256 signing keys by kid; other keys in the set are skipped."""
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        raise ServiceUnavailable("token signing keys document is malformed")
    found: dict[str, rsa.RSAPublicKey] = {}
    for jwk in keys:
        if not isinstance(jwk, Mapping):
            continue
        kid = jwk.get("kid")
        if (
            not isinstance(kid, str)
            or jwk.get("kty") != "RSA"
            or jwk.get("alg", ALGORITHM) != ALGORITHM
            or jwk.get("use", "sig") != "sig"
        ):
            continue
        try:
            key = RSAAlgorithm.from_jwk(dict(jwk))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            found[kid] = key
    return found


def _is_number(value: object) -> bool:
    """A JSON number usable as a NumericDate (bools are ints in Python; NaN is not)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _principal(claims: Mapping[str, Any]) -> Principal:
    username = next(
        (
            claims[name]
            for name in ("username", "cognito:username", "preferred_username")
            if isinstance(claims.get(name), str)
        ),
        None,
    )
    email = claims.get("email")
    return Principal(
        subject=claims["sub"],
        username=username,
        email=email if isinstance(email, str) else None,
        claims=dict(claims),
    )
