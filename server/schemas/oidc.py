"""Bodies of OpenID Connect sign-in and identity links (``/api/v1/auth/oidc``,
``/api/v1/auth/identities``)."""

from __future__ import annotations

from typing import Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.auth.oidc import Identity, ProviderInfo
from assistant.auth.oidc.models import DeviceLogin
from assistant.clock import iso
from server.schemas.auth import Secret, Tokens


class ProviderOut(msgspec.Struct, kw_only=True):
    """A provider to sign in with."""

    name: str
    display_name: str
    login_url: str
    """Open this in the browser to sign in."""
    auto_create: bool
    """Whether a first sign-in can create an account (when the provider's rules admit it)."""
    device_flow: bool | None
    """The provider offers device sign-in; null when it could not be asked just now."""

    @classmethod
    def of(cls, info: ProviderInfo) -> ProviderOut:
        return cls(
            name=info.name,
            display_name=info.display_name,
            login_url=f"/api/v1/auth/oidc/{info.name}/login",
            auto_create=info.auto_create,
            device_flow=info.device_flow,
        )


class IdentityOut(msgspec.Struct, kw_only=True):
    """An external identity linked to the account."""

    id: str
    provider: str
    subject: str
    email: str | None
    created_at: str | None
    last_used_at: str | None

    @classmethod
    def of(cls, identity: Identity) -> IdentityOut:
        return cls(
            id=identity.id,
            provider=identity.provider,
            subject=identity.subject,
            email=identity.email,
            created_at=iso(identity.created_at),
            last_used_at=iso(identity.updated_at),
        )


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class HandoffRedeem(Strict):
    """A one-time code from the end of a sign-in, for the session's tokens."""

    code: Secret
    """The ``code`` (apps) or ``oidc_code`` (pages) the sign-in redirected with."""
    code_verifier: str | None = Field(default=None, min_length=43, max_length=128)
    """The app's PKCE verifier (required when it sent a code_challenge)."""


class LinkStart(Strict):
    """Where to come back to after linking."""

    return_to: str | None = Field(default=None, max_length=2000)
    """A path on this server to redirect the browser to (with ``?linked=<provider>``);
    without it the callback answers the identity as JSON."""


class LinkUrl(msgspec.Struct, kw_only=True):
    """Open this URL in the browser of the signed-in user to link the identity."""

    authorization_url: str


class DeviceStartOut(msgspec.Struct, kw_only=True):
    """A device sign-in: show the code and the page, then poll."""

    id: str
    """Poll with this."""
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int
    """Seconds to wait between polls."""

    @classmethod
    def of(cls, login: DeviceLogin) -> DeviceStartOut:
        return cls(
            id=login.id,
            user_code=login.user_code,
            verification_uri=login.verification_uri,
            verification_uri_complete=login.verification_uri_complete,
            expires_in=login.expires_in,
            interval=login.interval,
        )


class DevicePoll(Strict):
    """A device sign-in to check on."""

    id: str = Field(min_length=1, max_length=64)


class DevicePollOut(msgspec.Struct, kw_only=True):
    """Pending, or done with the session's tokens."""

    status: Literal["pending", "complete"]
    tokens: Tokens | None
