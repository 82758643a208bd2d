"""Values of OpenID Connect sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from assistant.auth.models import TokenPair


@dataclass(frozen=True)
class ProviderInfo:
    """A provider users can sign in with."""

    name: str
    """Key in settings and in the URLs."""
    display_name: str
    """What the sign-in button says."""
    auto_create: bool
    """Unknown identities may get an account (if the domain and group rules admit them)."""
    device_flow: bool | None
    """The provider offers device authorization; None when it could not be asked."""


@dataclass(frozen=True)
class Identity:
    """An external identity linked to an account."""

    id: str
    """Identity id (for unlinking)."""
    provider: str
    """Provider key."""
    subject: str
    """The provider's ``sub`` for the person."""
    email: str | None
    """E-mail address the provider gave at the last sign-in."""
    created_at: int
    """Unix milliseconds of the link."""
    updated_at: int
    """Unix milliseconds of the last sign-in with it."""


@dataclass(frozen=True)
class AppRedirect:
    """Where a native or companion app waits for the end of a sign-in (RFC 8252)."""

    uri: str
    """A loopback ``http://127.0.0.1:<port>/...`` or a private-use scheme URI."""
    state: str | None
    """The app's own state, handed back unchanged."""
    code_challenge: str
    """S256 challenge of the app's own verifier; the hand-off code needs the verifier."""


class Finish(StrEnum):
    """How a finished callback answers."""

    TOKENS = "tokens"
    """JSON tokens (an API client drove the flow)."""
    IDENTITY = "identity"
    """JSON identity (a link finished)."""
    REDIRECT = "redirect"
    """303 to the page or app that started it."""


@dataclass(frozen=True)
class Finished:
    """The outcome of a provider's callback."""

    kind: Finish
    """Which answer to give."""
    tokens: TokenPair | None = None
    """For ``tokens``."""
    identity: Identity | None = None
    """For ``identity`` (and a redirect after a link)."""
    location: str | None = None
    """For ``redirect``."""


@dataclass(frozen=True)
class DeviceLogin:
    """A device sign-in waiting for the person at the provider's page."""

    id: str
    """Handle to poll with."""
    user_code: str
    """Code to type at the page."""
    verification_uri: str
    """Page to open on a phone or computer."""
    verification_uri_complete: str | None
    """The page with the code filled in."""
    expires_in: int
    """Seconds until it lapses."""
    interval: int
    """Seconds between polls."""
