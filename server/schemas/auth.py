"""Bodies of ``/api/v1/auth``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.auth import ApiKey, Session, TokenPair, User
from assistant.auth.service import USERNAME_PATTERN
from assistant.clock import iso
from assistant.settings import AuthSettings

# Request bodies are pydantic models: their validation errors name the field in a
# structured way (msgspec only says it in the message text).
Username = Annotated[
    str,
    Field(
        min_length=2,
        max_length=32,
        examples=["ada"],
        # The auth service checks it, with its own message; the document says it too.
        json_schema_extra={"pattern": USERNAME_PATTERN.pattern},
    ),
]
Password = Annotated[str, Field(min_length=1, max_length=256)]
Secret = Annotated[str, Field(min_length=1, max_length=200)]
PASSWORD_MIN_LENGTH: int = AuthSettings.model_fields["password_min_length"].default
NewPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        # The auth service checks the configured minimum; the document gives the default.
        json_schema_extra={
            "minLength": PASSWORD_MIN_LENGTH,
            "description": "At least `auth.password_min_length` characters"
            f" ({PASSWORD_MIN_LENGTH} unless the device is configured otherwise)",
        },
    ),
]


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused, and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Credentials(Request):
    """A username and password."""

    username: Username
    password: Password


class NewCredentials(Request):
    """A username and the password of a new account."""

    username: Username
    password: NewPassword


class RefreshRequest(Request):
    """A refresh token to rotate."""

    refresh_token: Secret


class PasswordChange(Request):
    """The current password and a new one."""

    current_password: Password
    new_password: NewPassword


class PasswordReset(Request):
    """A one-time reset token (from an admin) and the new password."""

    token: Secret
    new_password: NewPassword


class UserOut(msgspec.Struct, kw_only=True):
    """An account."""

    id: str
    username: str
    role: Literal["admin", "user"]
    disabled: bool
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role.value,
            disabled=user.disabled,
            created_at=iso(user.created_at) or "",
            updated_at=iso(user.updated_at) or "",
        )


class Tokens(msgspec.Struct, kw_only=True):
    """An access token and the refresh token that gets the next one."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str
    user: UserOut

    @classmethod
    def of(cls, pair: TokenPair) -> Tokens:
        return cls(
            access_token=pair.access_token,
            token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
            refresh_expires_in=pair.refresh_expires_in,
            session_id=pair.session_id,
            user=UserOut.of(pair.user),
        )


class SessionOut(msgspec.Struct, kw_only=True):
    """A signed-in client."""

    id: str
    created_at: str
    last_used_at: str
    expires_at: str
    client_address: str | None
    user_agent: str | None
    current: bool

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(
            id=session.id,
            created_at=iso(session.created_at) or "",
            last_used_at=iso(session.last_used_at) or "",
            expires_at=iso(session.expires_at) or "",
            client_address=session.client_address,
            user_agent=session.user_agent,
            current=session.current,
        )


class ApiKeyCreate(Request):
    """A new device API key."""

    name: Annotated[str, Field(min_length=1, max_length=64, examples=["kitchen tablet"])]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ApiKeyOut(msgspec.Struct, kw_only=True):
    """A device API key (without its secret)."""

    id: str
    name: str
    prefix: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=iso(key.created_at) or "",
            expires_at=iso(key.expires_at),
            last_used_at=iso(key.last_used_at),
        )


class ApiKeyCreated(msgspec.Struct, kw_only=True):
    """A new key with its secret, shown this once."""

    key: str
    """The secret: send it as ``Authorization: Bearer`` or ``X-API-Key``. Not shown again."""
    api_key: ApiKeyOut


class Registration(Request):
    """Whether anyone may register."""

    open: bool


class UserCreate(Request):
    """An account created by an admin."""

    username: Username
    password: NewPassword
    role: Literal["admin", "user"] = "user"


class UserUpdate(Request):
    """Changes an admin makes to an account."""

    role: Literal["admin", "user"] | None = None
    disabled: bool | None = None


class ResetToken(msgspec.Struct, kw_only=True):
    """A one-time password reset token to hand to the user."""

    token: str
    expires_in: int


class SetupState(msgspec.Struct, kw_only=True):
    """Whether the first-run page must create the admin."""

    needs_setup: bool
    """True while no account exists."""


class HandoffCode(Request):
    """The one-time code an OpenID sign-in handed to the web app's page."""

    code: Secret


class WebSession(msgspec.Struct, kw_only=True):
    """A cookie sign-in: the account and its session (the credential is in the cookie)."""

    session_id: str
    expires_in: int
    """Seconds until the session ends if it is not used."""
    user: UserOut

    @classmethod
    def of(cls, pair: TokenPair) -> WebSession:
        return cls(
            session_id=pair.session_id,
            expires_in=pair.refresh_expires_in,
            user=UserOut.of(pair.user),
        )


class SessionState(msgspec.Struct, kw_only=True):
    """Who the web app's session cookie belongs to."""

    user: UserOut | None
    """The signed-in account, or null when the cookie is missing, ended or invalid."""
