"""JWT access tokens signed with a rotating key set, and opaque secrets.

The key set lives in ``<data_dir>/secrets/jwt-keys.json`` (mode 0600), created on first
start. ``rotate`` adds a new signing key; tokens signed with a retired key keep
verifying for a grace period, then the key is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import jwt

from assistant.auth.models import Role
from assistant.errors import BackendError, Unauthorized
from runtime.files import atomic_write

_ALGORITHM = "HS256"
_CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class SigningKey:
    """One HMAC key of the set."""

    kid: str
    """Key id, written into each token's header."""
    secret: str
    """URL-safe base64 of 32 random bytes."""
    created_at: float
    """Unix seconds."""
    retired_at: float | None = None
    """Unix seconds when a newer key replaced it; None for the current key."""


@dataclass(frozen=True)
class KeySet:
    """The signing keys, newest first; the first one signs."""

    keys: tuple[SigningKey, ...]

    @staticmethod
    def generate(now: float) -> SigningKey:
        """A fresh random key."""
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        return SigningKey(kid=secrets.token_hex(4), secret=secret, created_at=now)

    @property
    def current(self) -> SigningKey:
        """The key new tokens are signed with."""
        return self.keys[0]

    def rotated(self, now: float, grace_seconds: float) -> KeySet:
        """A new set with a fresh current key; the old one retired, long-retired ones dropped."""
        retired = [replace(self.current, retired_at=now), *self.keys[1:]]
        kept = [k for k in retired if k.retired_at is None or k.retired_at > now - grace_seconds]
        return KeySet((self.generate(now), *kept))

    def find(self, kid: str, now: float, grace_seconds: float) -> SigningKey | None:
        """The key with id ``kid`` if it may still verify tokens at ``now``."""
        for key in self.keys:
            if key.kid == kid and (key.retired_at is None or key.retired_at > now - grace_seconds):
                return key
        return None


def load_or_create_keyset(path: Path, now: float) -> KeySet:
    """Read the key set, creating it (mode 0600) on first start."""
    if path.exists():
        return _read_keyset(path)
    keyset = KeySet((KeySet.generate(now),))
    save_keyset(path, keyset)
    return keyset


def save_keyset(path: Path, keyset: KeySet) -> None:
    """Write the key set atomically, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.dumps({"keys": [asdict(k) for k in keyset.keys]}).encode()
    with atomic_write(path, mode=0o600) as handle:
        handle.write(data)


def _read_keyset(path: Path) -> KeySet:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = tuple(SigningKey(**entry) for entry in data["keys"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackendError(f"The JWT key file {path} is unreadable or damaged: {exc}") from exc
    if not keys:
        raise BackendError(f"The JWT key file {path} holds no keys")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return KeySet(keys)


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    """``sub``."""
    session_id: str
    """``sid``: the session the token was issued in."""
    role: Role
    """Role at issue time (re-checked against the store on each request)."""
    issued_at: int
    """``iat``, Unix seconds."""
    expires_at: int
    """``exp``, Unix seconds."""


class TokenIssuer:
    """Issues and verifies HS256 access tokens. Time is passed in."""

    def __init__(
        self, keyset: KeySet, *, issuer: str, ttl_seconds: int, grace_seconds: float
    ) -> None:
        self.keyset = keyset
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds
        self.grace_seconds = grace_seconds

    def issue(
        self,
        user_id: str,
        session_id: str,
        role: Role,
        now: float,
        *,
        ttl_seconds: int | None = None,
        audience: str | None = None,
    ) -> str:
        """A signed access token valid for ``ttl_seconds`` from ``now``.

        ``audience`` marks a token for one use only (the web app's session cookie): its
        issuer gets ``#<audience>`` appended, so it never verifies as a Bearer access
        token and a Bearer token never verifies as a cookie.
        """
        key = self.keyset.current
        payload: dict[str, Any] = {
            "iss": self._issuer(audience),
            "sub": user_id,
            "sid": session_id,
            "role": role.value,
            "iat": int(now),
            "exp": int(now) + (self.ttl_seconds if ttl_seconds is None else ttl_seconds),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(payload, key.secret, algorithm=_ALGORITHM, headers={"kid": key.kid})

    def _issuer(self, audience: str | None) -> str:
        return self.issuer if audience is None else f"{self.issuer}#{audience}"

    def verify(self, token: str, now: float, *, audience: str | None = None) -> AccessClaims:
        """The claims of a valid token (issued for ``audience``); ``Unauthorized`` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The access token is malformed") from exc
        key = self.keyset.find(str(header.get("kid", "")), now, self.grace_seconds)
        if key is None:
            raise Unauthorized("The access token was signed with an unknown or retired key")
        try:
            claims = jwt.decode(
                token,
                key.secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer(audience),
                # Time is checked below against the injected clock, not the system's.
                options={
                    "require": ["sub", "sid", "exp", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The access token is invalid: {exc}") from exc
        expires_at = _numeric_date(claims, "exp")
        issued_at = _numeric_date(claims, "iat")
        if expires_at <= now:
            raise Unauthorized("The access token has expired; refresh it")
        if issued_at > now + _CLOCK_SKEW_SECONDS:
            raise Unauthorized("The access token was issued in the future; check the clock")
        try:
            role = Role(claims.get("role", "user"))
        except ValueError as exc:
            raise Unauthorized("The access token carries an unknown role") from exc
        user_id, session_id = claims["sub"], claims["sid"]
        if not isinstance(user_id, str) or not isinstance(session_id, str):
            raise Unauthorized("The access token's sub and sid claims must be strings")
        return AccessClaims(
            user_id=user_id,
            session_id=session_id,
            role=role,
            issued_at=issued_at,
            expires_at=expires_at,
        )


def _numeric_date(claims: dict[str, Any], name: str) -> int:
    """A time claim as Unix seconds; ``Unauthorized`` unless it is a finite JSON number.

    The signature only proves who made the token, not that its claims are well formed
    (a key holder, or a bug, can sign ``"exp": "soon"``); PyJWT checks their type only
    when it checks the time, which is done here against the injected clock instead.
    """
    value = claims[name]
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthorized(f"The access token's {name} claim is not a number of seconds")
    return int(value)


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A random, URL-safe secret with a recognisable prefix (``rt_``, ``ak_``...)."""
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


def hash_secret(secret: str) -> str:
    """sha256 hex of a high-entropy secret (stored instead of the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()
