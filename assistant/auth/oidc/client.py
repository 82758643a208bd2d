"""One OpenID provider as this server sees it: discovery (cached with a TTL), its keys
(refetched once when a token names an unknown one: the provider rotated them), the
token endpoint, and device authorization when the provider offers it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from assistant.auth.oidc import idtoken
from assistant.clock import Clock, system_clock
from assistant.errors import Unauthorized, UpstreamError
from assistant.settings import OidcProviderSettings

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
_RETRY_FAILED_SECONDS = 60.0


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a discovery document the relying party uses."""

    issuer: str
    """Issuer identifier (must equal the configured one)."""
    authorization_endpoint: str
    """Where the browser is sent to sign in."""
    token_endpoint: str
    """Where codes are exchanged."""
    jwks_uri: str
    """The provider's public keys."""
    device_authorization_endpoint: str | None
    """RFC 8628 device authorization, when offered."""
    code_challenge_methods: tuple[str, ...]
    """PKCE methods supported (S256 is required)."""


@dataclass(frozen=True)
class DeviceAuthorization:
    """A device authorization started at the provider."""

    device_code: str
    """Secret the server polls with."""
    user_code: str
    """Code the person types at the verification page."""
    verification_uri: str
    """Page to open on another device."""
    verification_uri_complete: str | None
    """The page with the code filled in (for a QR code)."""
    expires_in: int
    """Seconds until it lapses."""
    interval: int
    """Seconds to wait between polls."""


class DevicePending(Exception):
    """The person has not finished at the verification page yet."""

    def __init__(self, slow_down: bool) -> None:
        super().__init__("authorization pending")
        self.slow_down = slow_down


class OidcClient:
    """Talks to one provider for this server (a confidential or public client)."""

    def __init__(
        self,
        name: str,
        settings: OidcProviderSettings,
        http: httpx.Client,
        *,
        discovery_ttl_seconds: float,
        clock: Clock = system_clock,
    ) -> None:
        self.name = name
        self.settings = settings
        self.http = http
        self.discovery_ttl_seconds = discovery_ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, jwt.PyJWKSet] | None = None
        self._failed_at: float | None = None

    # Discovery and keys -----------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched again after the TTL."""
        now = self.clock()
        with self._lock:
            cached = self._metadata
        if cached is not None and now - cached[0] < self.discovery_ttl_seconds:
            return cached[1]
        issuer = self.settings.issuer.rstrip("/")
        data = self._get_json(issuer + DISCOVERY_PATH, "discovery document")
        try:
            metadata = ProviderMetadata(
                issuer=str(data["issuer"]),
                authorization_endpoint=str(data["authorization_endpoint"]),
                token_endpoint=str(data["token_endpoint"]),
                jwks_uri=str(data["jwks_uri"]),
                device_authorization_endpoint=data.get("device_authorization_endpoint"),
                code_challenge_methods=tuple(data.get("code_challenge_methods_supported") or ()),
            )
        except (KeyError, TypeError) as exc:
            raise UpstreamError(
                f"The discovery document of {self.name} lacks {exc}", provider=self.name
            ) from exc
        if metadata.issuer != self.settings.issuer:
            raise UpstreamError(
                f"The provider {self.name} says its issuer is {metadata.issuer!r}, not the"
                f" configured {self.settings.issuer!r}",
                provider=self.name,
            )
        if metadata.code_challenge_methods and "S256" not in metadata.code_challenge_methods:
            raise UpstreamError(f"The provider {self.name} does not support PKCE S256")
        with self._lock:
            self._metadata = (now, metadata)
        return metadata

    def reachable_metadata(self) -> ProviderMetadata | None:
        """The discovery document, or None if the provider cannot be reached; a failure
        is remembered for a minute, so listings do not wait on a provider that is down."""
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < _RETRY_FAILED_SECONDS:
            return None
        try:
            metadata = self.metadata()
        except UpstreamError:
            self._failed_at = now
            return None
        self._failed_at = None
        return metadata

    def keys(self, *, refresh: bool = False) -> jwt.PyJWKSet:
        """The provider's signing keys, cached like the discovery document."""
        now = self.clock()
        with self._lock:
            cached = self._keys
        if not refresh and cached is not None and now - cached[0] < self.discovery_ttl_seconds:
            return cached[1]
        data = self._get_json(self.metadata().jwks_uri, "key set")
        try:
            keys = jwt.PyJWKSet.from_dict(data)
        except jwt.PyJWTError as exc:
            raise UpstreamError(f"The key set of {self.name} is unusable: {exc}") from exc
        with self._lock:
            self._keys = (now, keys)
        return keys

    def validate(self, token: str, expected: idtoken.Expected) -> dict[str, Any]:
        """The claims of a valid ID token; an unknown key id refetches the keys once."""
        try:
            return idtoken.validate(token, self.keys(), expected)
        except idtoken.UnknownSigningKey:
            log.info("oidc %s: unknown signing key; fetching the key set again", self.name)
            return idtoken.validate(token, self.keys(refresh=True), expected)

    # Endpoints --------------------------------------------------------------------

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        """The token response for an authorization code."""
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )

    def start_device(self, scopes: str) -> DeviceAuthorization:
        """Start a device authorization; ``UpstreamError`` if the provider has none."""
        endpoint = self.metadata().device_authorization_endpoint
        if not endpoint:
            raise UpstreamError(f"The provider {self.name} offers no device authorization")
        data = self._post(endpoint, {"scope": scopes}, "device authorization")
        try:
            return DeviceAuthorization(
                device_code=str(data["device_code"]),
                user_code=str(data["user_code"]),
                verification_uri=str(data["verification_uri"]),
                verification_uri_complete=data.get("verification_uri_complete"),
                expires_in=int(data["expires_in"]),
                interval=int(data.get("interval", 5)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(f"The device authorization of {self.name} lacks {exc}") from exc

    def poll_device(self, device_code: str) -> dict[str, Any]:
        """The token response once the person approved; ``DevicePending`` before."""
        return self._token_request(
            {
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": device_code,
            }
        )

    # Internals --------------------------------------------------------------------

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        return self._post(self.metadata().token_endpoint, form, "token endpoint")

    def _auth(self, form: dict[str, str]) -> httpx.BasicAuth | None:
        secret = self.settings.client_secret
        if secret is None:
            form["client_id"] = self.settings.client_id
            return None
        return httpx.BasicAuth(self.settings.client_id, secret.get_secret_value())

    def _post(self, url: str, form: dict[str, str], what: str) -> dict[str, Any]:
        form = dict(form)
        auth = self._auth(form)
        try:
            answer = self.http.post(
                url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT, headers=_ACCEPT
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The provider {self.name} is unreachable: {exc}") from exc
        data = _json(answer, self.name, what)
        if answer.status_code == 200:
            return data
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        described = str(data.get("error_description", "")) if isinstance(data, dict) else ""
        if error in ("authorization_pending", "slow_down"):
            raise DevicePending(slow_down=error == "slow_down")
        if error in ("invalid_grant", "access_denied", "expired_token"):
            raise Unauthorized(
                f"The provider {self.name} refused the sign-in ({error}: {described}); start again",
                provider=self.name,
                error=error,
            )
        raise UpstreamError(
            f"The provider {self.name}'s {what} answered {answer.status_code}"
            f" ({error or 'no error code'}: {described})",
            provider=self.name,
        )

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            answer = self.http.get(url, headers=_ACCEPT)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The provider {self.name} is unreachable: {exc}") from exc
        if answer.status_code != 200:
            raise UpstreamError(f"The provider {self.name}'s {what} answered {answer.status_code}")
        return _json(answer, self.name, what)


_ACCEPT = {"Accept": "application/json"}


def _json(answer: httpx.Response, name: str, what: str) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError as exc:
        raise UpstreamError(f"The provider {name}'s {what} is not JSON") from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"The provider {name}'s {what} is not a JSON object")
    return data
