from __future__ import annotations

import math
import stat
from pathlib import Path

import jwt
import pytest

from assistant.auth import Role
from assistant.auth.tokens import KeySet, TokenIssuer, load_or_create_keyset, save_keyset
from assistant.errors import Unauthorized

NOW = 1_800_000_000.0


def issuer(keyset: KeySet, ttl: int = 900, grace: float = 3600) -> TokenIssuer:
    return TokenIssuer(keyset, issuer="test", ttl_seconds=ttl, grace_seconds=grace)


def test_issue_and_verify() -> None:
    tokens = issuer(KeySet((KeySet.generate(NOW),)))
    claims = tokens.verify(tokens.issue("u1", "s1", Role.ADMIN, NOW), NOW + 10)
    assert (claims.user_id, claims.session_id, claims.role) == ("u1", "s1", Role.ADMIN)
    assert claims.expires_at == int(NOW) + 900


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t + "x", "invalid"),
        (lambda t: "not-a-token", "malformed"),
        (lambda t: t.split(".")[0] + ".e30." + t.split(".")[2], "invalid"),
    ],
)
def test_tampered_tokens_are_refused(mutate: object, message: str) -> None:
    tokens = issuer(KeySet((KeySet.generate(NOW),)))
    token = tokens.issue("u1", "s1", Role.USER, NOW)
    with pytest.raises(Unauthorized, match=message):
        tokens.verify(mutate(token), NOW)  # type: ignore[operator]


def test_expiry_uses_the_given_clock() -> None:
    tokens = issuer(KeySet((KeySet.generate(NOW),)), ttl=60)
    token = tokens.issue("u1", "s1", Role.USER, NOW)
    tokens.verify(token, NOW + 59)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(token, NOW + 60)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = issuer(KeySet((KeySet.generate(NOW),))).issue("u1", "s1", Role.USER, NOW)
    with pytest.raises(Unauthorized, match="unknown or retired key"):
        issuer(KeySet((KeySet.generate(NOW),))).verify(token, NOW)


def test_alg_none_is_refused() -> None:
    keyset = KeySet((KeySet.generate(NOW),))
    forged = jwt.encode(
        {"sub": "u1", "sid": "s1", "iat": int(NOW), "exp": int(NOW) + 60, "iss": "test"},
        key=None,
        algorithm="none",
        headers={"kid": keyset.current.kid},
    )
    with pytest.raises(Unauthorized):
        issuer(keyset).verify(forged, NOW)


@pytest.mark.parametrize(
    ("seconds_after_rotation", "still_valid"),
    [(0, True), (3599, True), (3600, False)],
)
def test_rotation_keeps_old_tokens_valid_for_the_grace_period(
    seconds_after_rotation: float, still_valid: bool
) -> None:
    keyset = KeySet((KeySet.generate(NOW),))
    old_token = issuer(keyset, ttl=10**6).issue("u1", "s1", Role.USER, NOW)
    rotated = keyset.rotated(NOW, grace_seconds=3600)
    assert rotated.current.kid != keyset.current.kid
    tokens = issuer(rotated, ttl=10**6, grace=3600)
    new_token = tokens.issue("u1", "s1", Role.USER, NOW)
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.current.kid
    when = NOW + seconds_after_rotation
    if still_valid:
        tokens.verify(old_token, when)
    else:
        with pytest.raises(Unauthorized, match="retired"):
            tokens.verify(old_token, when)
    tokens.verify(new_token, when)


def test_long_retired_keys_are_dropped() -> None:
    keyset = KeySet((KeySet.generate(NOW),)).rotated(NOW, 10).rotated(NOW + 100, 10)
    assert len(keyset.keys) == 2


def test_key_file_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "jwt-keys.json"
    first = load_or_create_keyset(path, NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_keyset(path, NOW + 1) == first
    save_keyset(path, first.rotated(NOW, 10))
    assert len(load_or_create_keyset(path, NOW).keys) == 2


@pytest.mark.parametrize("claim", ["exp", "iat"])
@pytest.mark.parametrize(
    "value", ["soon", "1800000000", [1], {"at": 1}, None, True, math.nan, math.inf, -math.inf]
)
def test_signed_tokens_with_malformed_times_are_refused(claim: str, value: object) -> None:
    """A correctly signed token can still carry nonsense; it is refused, never a crash."""
    keyset = KeySet((KeySet.generate(NOW),))
    claims = {"iss": "test", "sub": "u1", "sid": "s1", "iat": int(NOW), "exp": int(NOW) + 60}
    forged = jwt.encode(
        {**claims, claim: value},
        keyset.current.secret,
        algorithm="HS256",
        headers={"kid": keyset.current.kid},
    )
    with pytest.raises(Unauthorized, match=claim):
        issuer(keyset).verify(forged, NOW)


@pytest.mark.parametrize(("claim", "value"), [("sub", 5), ("sid", {"id": "s1"}), ("sid", None)])
def test_signed_tokens_with_malformed_ids_are_refused(claim: str, value: object) -> None:
    keyset = KeySet((KeySet.generate(NOW),))
    claims = {"iss": "test", "sub": "u1", "sid": "s1", "iat": int(NOW), "exp": int(NOW) + 60}
    forged = jwt.encode(
        {**claims, claim: value},
        keyset.current.secret,
        algorithm="HS256",
        headers={"kid": keyset.current.kid},
    )
    with pytest.raises(Unauthorized):
        issuer(keyset).verify(forged, NOW)


def test_fractional_times_are_numeric_dates() -> None:
    """RFC 7519 NumericDate may be fractional."""
    keyset = KeySet((KeySet.generate(NOW),))
    token = jwt.encode(
        {"iss": "test", "sub": "u1", "sid": "s1", "iat": NOW + 0.5, "exp": NOW + 60.5},
        keyset.current.secret,
        algorithm="HS256",
        headers={"kid": keyset.current.kid},
    )
    assert issuer(keyset).verify(token, NOW).expires_at == int(NOW) + 60
