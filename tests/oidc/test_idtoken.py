"""Every ID-token check, with keys signed here (no provider involved)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from assistant.auth.oidc.idtoken import (
    Expected,
    InvalidIdToken,
    UnknownSigningKey,
    s256,
    token_hash,
    validate,
)

NOW = 1_900_000_000.0
ISSUER = "https://id.example"
CLIENT = "assistant"
NONCE = "n-0S6_WzA2Mj"
ACCESS = "an-access-token"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


KEYS = jwt.PyJWKSet.from_dict({"keys": [public_jwk(KEY, "k1")]})
EXPECTED = Expected(ISSUER, CLIENT, NONCE, NOW, 60, ACCESS)


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": CLIENT,
        "exp": NOW + 300,
        "iat": NOW - 10,
        "nonce": NONCE,
        "at_hash": token_hash(ACCESS, "RS256"),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any], key: Any = KEY, kid: str | None = "k1", alg: str = "RS256"
) -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def test_a_valid_token_gives_its_claims() -> None:
    assert validate(sign(claims()), KEYS, EXPECTED)["sub"] == "alice"


def test_expiry_has_a_small_leeway() -> None:
    assert validate(sign(claims(exp=NOW - 30)), KEYS, EXPECTED)["sub"] == "alice"


def tampered(token: str) -> str:
    head, body, signature = token.split(".")
    payload = json.loads(jwt.utils.base64url_decode(body))
    payload["sub"] = "mallory"
    forged = jwt.utils.base64url_encode(json.dumps(payload).encode()).decode()
    return f"{head}.{forged}.{signature}"


def hmac_with_public_key() -> str:
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    signing_input = header + b"." + body
    mac = hmac.new(pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()


def unsigned() -> str:
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none", "kid": "k1"}).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    return (header + b"." + body + b".").decode()


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (tampered(sign(claims())), "signature"),
        (sign(claims(), key=OTHER), "signature"),
        (sign(claims(iss="https://evil.example")), "issuer"),
        (sign(claims(aud="someone-else")), "audience"),
        (sign(claims(aud=[CLIENT, "other"])), "audience"),  # several audiences, no azp
        (sign(claims(aud=[CLIENT, "other"], azp="other")), "audience"),
        (sign(claims(exp=NOW - 61)), "expired"),
        (sign(claims(iat=NOW + 120)), "issued-in-future"),
        (sign(claims(nonce="another")), "nonce"),
        (sign(claims(nonce=None)), "nonce"),
        (sign(claims(at_hash="AAAAAAAAAAAAAAAAAAAAAA")), "at_hash"),
        (sign(claims(sub=None)), "claims"),
        (sign(claims(exp="soon")), "claims"),
        (sign(claims(sub="")), "claims"),
        (unsigned(), "algorithm"),
        (hmac_with_public_key(), "algorithm"),
        ("not.a.jwt", "malformed"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 20 else "",
)
def test_each_failed_check_is_refused_with_its_reason(token: str, reason: str) -> None:
    with pytest.raises(InvalidIdToken) as refused:
        validate(token, KEYS, EXPECTED)
    assert refused.value.reason == reason
    assert refused.value.code == "unauthorized"


def test_an_unknown_key_id_asks_for_the_keys_again() -> None:
    with pytest.raises(UnknownSigningKey):
        validate(sign(claims(), key=OTHER, kid="rotated"), KEYS, EXPECTED)


def test_several_audiences_with_azp_naming_this_client_pass() -> None:
    token = sign(claims(aud=[CLIENT, "other"], azp=CLIENT))
    assert validate(token, KEYS, EXPECTED)["azp"] == CLIENT


def test_a_device_sign_in_has_no_nonce_to_check() -> None:
    expected = Expected(ISSUER, CLIENT, None, NOW, 60, None)
    assert validate(sign(claims(nonce=None, at_hash=None)), KEYS, expected)["sub"] == "alice"


def test_the_s256_challenge_of_rfc_7636_appendix_b() -> None:
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
