"""Checking an ID token, and the PKCE and hash helpers of the code flow. Pure: the keys
and the time are passed in.

The signature is checked by PyJWT against the provider's published keys (asymmetric
algorithms only: ``none`` and the HMAC family are refused, so a token "signed" with the
public key as an HMAC secret is not accepted); then the claims: issuer, audience (and
``azp`` when there are several audiences), expiry and issue time with a small leeway,
the nonce sent with the request, and ``at_hash`` when the token carries one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from assistant.errors import Unauthorized

ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
"""Signature algorithms accepted for ID tokens."""
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


class InvalidIdToken(Unauthorized):
    """The provider's ID token failed a check; ``reason`` says which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"The ID token was refused: {detail}", reason=reason)
        self.reason = reason


class UnknownSigningKey(InvalidIdToken):
    """The token names a key the provider's key set does not have (yet)."""


@dataclass(frozen=True)
class Expected:
    """What a valid ID token of one sign-in must say."""

    issuer: str
    """The provider's issuer identifier, exactly."""
    client_id: str
    """This server's client id: one of the audiences."""
    nonce: str | None
    """The nonce sent in the authorization request (None: a device sign-in has none)."""
    now: float
    """Unix seconds, from the service's clock."""
    leeway_seconds: int = 60
    """Clock skew allowed on ``exp`` and ``iat``."""
    access_token: str | None = None
    """The access token issued with it, checked against ``at_hash`` when present."""


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def token_hash(value: str, algorithm: str) -> str:
    """``at_hash``/``c_hash``: the left half of the hash the signature algorithm uses."""
    digest = _HASHES.get(algorithm[-3:], hashlib.sha512 if algorithm == "EdDSA" else None)
    if digest is None:
        raise InvalidIdToken("algorithm", f"no hash is defined for {algorithm}")
    full = digest(value.encode("ascii")).digest()
    return b64url(full[: len(full) // 2])


def key_id(token: str) -> tuple[str | None, str]:
    """The ``kid`` and ``alg`` in a token's header (not yet trusted)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidIdToken("malformed", "it is not a signed JWT") from exc
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise InvalidIdToken("algorithm", f"the algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    return (kid if isinstance(kid, str) else None), str(alg)


def validate(token: str, keys: jwt.PyJWKSet, expected: Expected) -> dict[str, Any]:
    """The claims of a valid ID token; ``InvalidIdToken`` naming the failed check.
    ``UnknownSigningKey`` when no key of ``keys`` matches (refetch them, once)."""
    kid, alg = key_id(token)
    candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
    if not candidates:
        raise UnknownSigningKey("key", f"the provider has no signing key {kid!r}")
    if len(candidates) > 1 and kid is None:
        raise InvalidIdToken("key", "the token names no key and the provider has several")
    claims = _decode(token, candidates[0], alg, expected)
    _check_claims(claims, alg, expected)
    return claims


def _decode(token: str, key: jwt.PyJWK, alg: str, expected: Expected) -> dict[str, Any]:
    """Signature, issuer, audience and the required claims, by PyJWT."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=expected.client_id,
            issuer=expected.issuer,
            options={
                "require": ["iss", "sub", "aud", "exp", "iat"],
                # Times are checked below, against the injected clock.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise InvalidIdToken("signature", "its signature does not verify") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidIdToken("issuer", f"it was not issued by {expected.issuer}") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidIdToken("audience", f"it is not meant for {expected.client_id}") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidIdToken("claims", f"the {exc.claim} claim is missing") from exc
    except jwt.PyJWTError as exc:
        raise InvalidIdToken("malformed", str(exc)) from exc
    return claims


def _check_claims(claims: dict[str, Any], alg: str, expected: Expected) -> None:
    """What PyJWT leaves to the relying party: azp, times, nonce, at_hash, sub."""
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != expected.client_id:
        raise InvalidIdToken(
            "audience", "azp must name this client when there are several audiences"
        )
    leeway = expected.leeway_seconds
    if _seconds(claims, "exp") + leeway <= expected.now:
        raise InvalidIdToken("expired", "it has expired")
    if _seconds(claims, "iat") - leeway > expected.now:
        raise InvalidIdToken("issued-in-future", "it was issued in the future (check the clocks)")
    nonce = claims.get("nonce")
    if expected.nonce is not None and (
        not isinstance(nonce, str) or not hmac.compare_digest(nonce, expected.nonce)
    ):
        raise InvalidIdToken("nonce", "its nonce is not the one this sign-in sent")
    if "at_hash" in claims and expected.access_token is not None:
        wanted = token_hash(expected.access_token, alg)
        if not hmac.compare_digest(str(claims["at_hash"]), wanted):
            raise InvalidIdToken("at_hash", "its at_hash does not match the access token")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise InvalidIdToken("claims", "the sub claim must be a non-empty string")


def _seconds(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidIdToken("claims", f"the {name} claim is not a number of seconds")
    return float(value)
