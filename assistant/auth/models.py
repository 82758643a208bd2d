"""Values of the authentication service."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What an account may do."""

    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True)
class User:
    """An account."""

    id: str
    """Stable UUID."""
    username: str
    """Unique, case-insensitive login name."""
    role: Role
    """admin or user."""
    disabled: bool
    """A disabled account cannot sign in or use its keys."""
    created_at: int
    """Unix milliseconds."""
    updated_at: int
    """Unix milliseconds of the last change."""
    version: int
    """Incremented on every change."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established from an access token or an API key."""

    user_id: str
    """The caller's account."""
    username: str
    """The caller's login name."""
    role: Role
    """The caller's role."""
    session_id: str | None = None
    """The session behind a JWT; None for API keys."""
    api_key_id: str | None = None
    """The API key used; None for JWTs."""

    @property
    def is_admin(self) -> bool:
        """True for administrators."""
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class TokenPair:
    """What a successful login, registration or refresh hands back."""

    access_token: str
    """Short-lived JWT for ``Authorization: Bearer``."""
    expires_in: int
    """Seconds until the access token expires."""
    refresh_token: str
    """Opaque, one-time token to get the next pair."""
    refresh_expires_in: int
    """Seconds until the session expires if not refreshed."""
    session_id: str
    """The session (refresh-token family) these belong to."""
    user: User
    """The account signed in."""


@dataclass(frozen=True)
class Session:
    """A signed-in device or client."""

    id: str
    """Session UUID."""
    created_at: int
    """Unix milliseconds of the login."""
    last_used_at: int
    """Unix milliseconds of the last refresh."""
    expires_at: int
    """Unix milliseconds when it lapses without a refresh."""
    client_address: str | None
    """Address it signed in from."""
    user_agent: str | None
    """Client software it signed in with."""
    current: bool = False
    """True for the session making the request."""


@dataclass(frozen=True)
class ApiKey:
    """A device API key (the secret itself is shown only once, at creation)."""

    id: str
    """Key UUID."""
    name: str
    """What the user called it ("kitchen tablet")."""
    prefix: str
    """First characters of the key, to recognise it."""
    created_at: int
    """Unix milliseconds."""
    expires_at: int | None
    """Unix milliseconds, or None for no expiry."""
    last_used_at: int | None
    """Unix milliseconds of the last request made with it."""
