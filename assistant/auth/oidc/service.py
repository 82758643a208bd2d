"""OpenID Connect sign-in: this server as a relying party of the configured providers.

Authorization code flow with PKCE (S256), ``state`` and ``nonce``; the three live in
SQLite for a few minutes and are used once. The ID token is checked against the
provider's keys (``idtoken``). An identity already linked to an account signs that
account in; an unknown one is refused unless the provider has ``auto_create`` and its
e-mail domain or group rules admit it (closed registration still holds). Disabled
accounts are refused. A signed-in user links more identities, and unlinks them as long
as one way in remains.

Native and companion apps (RFC 8252) start the same flow in the system browser with a
loopback or private-use-scheme ``redirect_uri`` of their own and a PKCE challenge; the
callback hands them a one-time code that only their verifier redeems. A device without
a browser uses the provider's device authorization (RFC 8628) when it has one.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from assistant.auth import store as auth_store
from assistant.auth.models import Role, TokenPair
from assistant.auth.oidc import idtoken, store
from assistant.auth.oidc.client import DevicePending, OidcClient
from assistant.auth.oidc.models import (
    AppRedirect,
    DeviceLogin,
    Finish,
    Finished,
    Identity,
    ProviderInfo,
)
from assistant.auth.service import AuthService, ClientInfo
from assistant.auth.tokens import hash_secret
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamError,
)
from assistant.profile import ProfileFields, ProfileService
from assistant.settings import OidcProviderSettings, OidcSettings
from assistant.store import Connection, Database
from assistant.urls import split_url

log = logging.getLogger(__name__)

PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
HANDOFF_TTL_MS = 120_000
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
_START_AGAIN = "start the sign-in again"


def check_return_to(value: str | None) -> str | None:
    """A same-origin path to return to after sign-in; ``InvalidInput`` for anything that
    could lead elsewhere (``//host``, ``/\\host``, a scheme, control characters)."""
    if value is None:
        return None
    bad = (
        not value.startswith("/")
        or value.startswith("//")
        or "#" in value
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
        or len(value) > 2000
    )
    if bad or split_url(value, "return_to").netloc:
        raise InvalidInput(
            "return_to must be a path on this server, such as /app/", field="return_to"
        )
    return value


class OidcService:
    """Sign-in with OpenID providers, identity links, app hand-offs, device sign-in."""

    def __init__(
        self,
        db: Database,
        auth: AuthService,
        settings: OidcSettings,
        clients: Mapping[str, OidcClient],
        clock: Clock = system_clock,
        profiles: ProfileService | None = None,
    ) -> None:
        self.db = db
        self.auth = auth
        self.settings = settings
        self.clients = dict(clients)
        self.clock = clock
        self.profiles = profiles
        """Gets the display name of accounts created at first sign-in; None: not set."""

    def close(self) -> None:
        """Close the providers' connection pools."""
        for client in self.clients.values():
            client.http.close()

    # Providers --------------------------------------------------------------------

    def providers(self) -> list[ProviderInfo]:
        """The configured providers (whether each offers device sign-in, when it can be
        asked)."""
        listed = []
        for name, client in sorted(self.clients.items()):
            metadata = client.reachable_metadata()
            device = None if metadata is None else bool(metadata.device_authorization_endpoint)
            listed.append(
                ProviderInfo(
                    name=name,
                    display_name=client.settings.display_name or name,
                    auto_create=client.settings.auto_create,
                    device_flow=device,
                )
            )
        return listed

    def client(self, provider: str) -> OidcClient:
        """The provider's client; ``NotFound`` for an unknown key."""
        client = self.clients.get(provider)
        if client is None:
            raise NotFound(f"No OpenID provider named {provider!r} is configured")
        return client

    # The browser flow -------------------------------------------------------------

    def start(
        self,
        provider: str,
        *,
        redirect_uri: str,
        user_id: str | None = None,
        return_to: str | None = None,
        app: AppRedirect | None = None,
        browser: str | None = None,
    ) -> str:
        """Begin a sign-in (or, with ``user_id``, a link): the provider URL to send the
        browser to. ``browser`` is a secret of the browser starting a sign-in (its
        cookie): the callback must come from the same browser, so nobody can finish a
        sign-in they started in someone else's browser (login CSRF)."""
        client = self.client(provider)
        return_to = check_return_to(return_to)
        if app is not None:
            self._check_app(app)
        metadata = client.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, challenge = idtoken.pkce_pair()
        now = self._now_ms()
        with self.db.write() as conn:
            store.prune(conn, now)
            store.insert_login(
                conn,
                hash_secret(state),
                provider=provider,
                nonce=nonce,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
                purpose="link" if user_id else "login",
                user_id=user_id,
                return_to=return_to,
                app_redirect_uri=app.uri if app else None,
                app_state=app.state if app else None,
                app_code_challenge=app.code_challenge if app else None,
                browser_hash=hash_secret(browser) if browser else None,
                created_at=now,
                expires_at=now + self.settings.login_ttl_seconds * 1000,
            )
        query = {
            "response_type": "code",
            "client_id": client.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": _scopes(client.settings),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if user_id:
            # A link is started by an API call, not by the browser that finishes it: make
            # the provider ask the person explicitly which identity to link.
            query["prompt"] = "consent"
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return metadata.authorization_endpoint + separator + urlencode(query)

    def finish(
        self,
        provider: str,
        params: Mapping[str, str | None],
        client_info: ClientInfo,
        browser: str | None = None,
    ) -> Finished:
        """Handle the provider's redirect back (``code``, ``state``, or ``error``);
        ``browser`` is the cookie of the browser it arrived in."""
        client = self.client(provider)
        state = params.get("state")
        if not state:
            raise InvalidInput(f"The callback has no state; {_START_AGAIN}", field="state")
        now = self._now_ms()
        with self.db.write() as conn:
            login = store.consume_login(conn, hash_secret(state), now)
        if login is None or login["provider"] != provider:
            raise Unauthorized(
                f"This sign-in is unknown, expired or already finished; {_START_AGAIN}",
                reason="state",
            )
        bound = login["browser_hash"]
        if bound is not None and (browser is None or hash_secret(browser) != bound):
            raise Unauthorized(
                f"This sign-in was started in another browser; {_START_AGAIN} here",
                reason="browser",
            )
        error = params.get("error")
        if error:
            detail = params.get("error_description") or error
            if error == "access_denied":
                raise Forbidden(f"The sign-in at {provider} was declined ({detail})", reason=error)
            raise Unauthorized(f"The provider {provider} refused: {detail}", reason=error)
        issuer = params.get("iss")
        if issuer is not None and issuer != client.settings.issuer:
            raise Unauthorized(
                f"The callback came from issuer {issuer!r}, not {provider}'s", reason="issuer"
            )
        code = params.get("code")
        if not code:
            raise InvalidInput(f"The callback has no code; {_START_AGAIN}", field="code")
        answer = client.exchange_code(code, login["redirect_uri"], login["code_verifier"])
        claims = self._claims(client, answer, login["nonce"])
        if login["purpose"] == "link":
            identity = self._link(login["user_id"], provider, claims)
            if login["return_to"]:
                location = _with_query(login["return_to"], {"linked": provider})
                return Finished(Finish.REDIRECT, identity=identity, location=location)
            return Finished(Finish.IDENTITY, identity=identity)
        user_id = self._sign_in(provider, client.settings, claims)
        if login["app_redirect_uri"]:
            code_for_app = self._handoff(user_id, login["app_code_challenge"])
            query = {"code": code_for_app}
            if login["app_state"]:
                query["state"] = login["app_state"]
            return Finished(Finish.REDIRECT, location=_with_query(login["app_redirect_uri"], query))
        if login["return_to"]:
            # In the fragment: it never reaches a server (nor a Referer header).
            code_for_page = self._handoff(user_id, None)
            location = f"{login['return_to']}#{urlencode({'oidc_code': code_for_page})}"
            return Finished(Finish.REDIRECT, location=location)
        return Finished(Finish.TOKENS, tokens=self.auth.open_session(user_id, client_info))

    def redeem(self, code: str, verifier: str | None, client_info: ClientInfo) -> TokenPair:
        """Trade a hand-off code (and the app's PKCE verifier, when it sent a challenge)
        for the session's tokens; each code works once, for two minutes."""
        with self.db.write() as conn:
            row = store.consume_handoff(conn, hash_secret(code), self._now_ms())
        if row is None:
            raise Unauthorized("The sign-in code is unknown, expired or already used")
        challenge = row["code_challenge"]
        if challenge is not None and (verifier is None or idtoken.s256(verifier) != challenge):
            raise Unauthorized("The code_verifier does not match this sign-in's challenge")
        return self.auth.open_session(row["user_id"], client_info)

    # Device sign-in ---------------------------------------------------------------

    def start_device(self, provider: str) -> DeviceLogin:
        """Begin a device authorization at the provider (for devices without a browser)."""
        client = self.client(provider)
        started = client.start_device(_scopes(client.settings))
        login_id = new_id()
        now = self._now_ms()
        with self.db.write() as conn:
            store.prune(conn, now)
            store.insert_device_login(
                conn,
                login_id,
                provider,
                started.device_code,
                started.interval,
                now,
                now + started.expires_in * 1000,
            )
        return DeviceLogin(
            id=login_id,
            user_code=started.user_code,
            verification_uri=started.verification_uri,
            verification_uri_complete=started.verification_uri_complete,
            expires_in=started.expires_in,
            interval=started.interval,
        )

    def poll_device(self, login_id: str, client_info: ClientInfo) -> TokenPair | None:
        """The tokens once the person approved at the provider; None while pending."""
        now = self._now_ms()
        with self.db.read() as conn:
            row = store.get_device_login(conn, login_id, now)
        if row is None:
            raise NotFound("No such device sign-in, or it expired or finished")
        client = self.client(row["provider"])
        try:
            answer = client.poll_device(row["device_code"])
        except DevicePending:
            return None
        with self.db.write() as conn:
            if not store.use_device_login(conn, login_id, now):
                raise NotFound("This device sign-in already finished")
        claims = self._claims(client, answer, None)
        user_id = self._sign_in(row["provider"], client.settings, claims)
        return self.auth.open_session(user_id, client_info)

    # Identities -------------------------------------------------------------------

    def identities(self, user_id: str) -> list[Identity]:
        """The identities linked to an account."""
        with self.db.read() as conn:
            return [_identity(row) for row in store.list_identities(conn, user_id)]

    def unlink(self, user_id: str, identity_id: str) -> None:
        """Remove a link, unless it is the account's last way in."""
        with self.db.write() as conn:
            rows = store.list_identities(conn, user_id)
            if identity_id not in {row["id"] for row in rows}:
                raise NotFound("No such identity on this account")
            has_password = auth_store.get_password_hash(conn, user_id) is not None
            if not has_password and len(rows) == 1:
                raise Conflict(
                    "This identity is the only way into this account; link another one first"
                )
            store.delete_identity(conn, identity_id, user_id)
        log.info("identity %s unlinked from %s", identity_id, user_id)

    # Internals --------------------------------------------------------------------

    def _claims(
        self, client: OidcClient, answer: dict[str, Any], nonce: str | None
    ) -> dict[str, Any]:
        token = answer.get("id_token")
        if not isinstance(token, str):
            raise UpstreamError(f"The provider {client.name} returned no ID token")
        access = answer.get("access_token")
        expected = idtoken.Expected(
            issuer=client.settings.issuer,
            client_id=client.settings.client_id,
            nonce=nonce,
            now=self.clock(),
            leeway_seconds=self.settings.leeway_seconds,
            access_token=access if isinstance(access, str) else None,
        )
        return client.validate(token, expected)

    def _sign_in(
        self, provider: str, settings: OidcProviderSettings, claims: dict[str, Any]
    ) -> str:
        """The account an identity signs in: its linked one, or a new one if admitted."""
        subject = str(claims["sub"])
        email = _email(settings, claims)
        now = self._now_ms()
        with self.db.write() as conn:
            row = store.find_identity(conn, provider, subject)
            if row is not None:
                user = auth_store.get_user(conn, row["user_id"])
                if user is None or user.disabled:
                    raise Forbidden("This account is disabled; ask an admin")
                store.touch_identity(conn, row["id"], email, now)
                return user.id
            self._admit(provider, settings, claims)
            suggested = claims.get(settings.claims.username) or email or provider
            user = self.auth.create_external_user(str(suggested), Role(settings.default_role), conn)
            store.insert_identity(conn, new_id(), user.id, provider, subject, email, now)
        log.info("identity %s/%s created account %s", provider, subject, user.id)
        self._name_profile(user.id, claims.get(settings.claims.display_name))
        return user.id

    def _name_profile(self, user_id: str, name: Any) -> None:
        """The new account's display name from the provider, when it is a valid one."""
        if self.profiles is None or not isinstance(name, str):
            return
        try:
            fields = ProfileFields(display_name=name[:100])
        except ValidationError:
            log.info("the provider's name for %s is not a valid display name", user_id)
            return
        self.profiles.update_profile(user_id, fields, replace=False)

    def _admit(self, provider: str, settings: OidcProviderSettings, claims: dict[str, Any]) -> None:
        if not settings.auto_create:
            raise Forbidden(
                f"No account here is linked to this {provider} identity. Sign in another way"
                " and link it, or ask an admin."
            )
        domains = {d.lower().lstrip("@") for d in settings.allowed_email_domains}
        groups = set(settings.allowed_groups)
        if not domains and not groups:
            return
        email = _email(settings, claims)
        verified = claims.get(settings.claims.email_verified) is True
        if email and verified and email.rpartition("@")[2].lower() in domains:
            return
        theirs = claims.get(settings.claims.groups)
        if isinstance(theirs, list) and groups & {str(g) for g in theirs}:
            return
        raise Forbidden(
            f"This {provider} identity is not admitted here: its verified e-mail domain and"
            " groups are not among the allowed ones. Ask an admin."
        )

    def _link(self, user_id: str | None, provider: str, claims: dict[str, Any]) -> Identity:
        if user_id is None:
            raise Unauthorized("This link has no account")
        subject = str(claims["sub"])
        email = _email(self.client(provider).settings, claims)
        now = self._now_ms()
        with self.db.write() as conn:
            user = auth_store.get_user(conn, user_id)
            if user is None or user.disabled:
                raise Forbidden("This account is disabled; ask an admin")
            row = store.find_identity(conn, provider, subject)
            if row is not None and row["user_id"] != user_id:
                raise Conflict(f"This {provider} identity is already linked to another account")
            if row is None:
                identity_id = new_id()
                store.insert_identity(conn, identity_id, user_id, provider, subject, email, now)
            else:
                identity_id = row["id"]
                store.touch_identity(conn, identity_id, email, now)
            linked = _identity_in(conn, identity_id)
        log.info("identity %s/%s linked to %s", provider, subject, user_id)
        return linked

    def _handoff(self, user_id: str, challenge: str | None) -> str:
        code = secrets.token_urlsafe(32)
        now = self._now_ms()
        with self.db.write() as conn:
            store.insert_handoff(
                conn, hash_secret(code), user_id, challenge, now, now + HANDOFF_TTL_MS
            )
        return code

    def _check_app(self, app: AppRedirect) -> None:
        parts = split_url(app.uri, "redirect_uri")
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        private = parts.scheme in self.settings.app_redirect_schemes and parts.scheme != ""
        if not (loopback or private) or parts.fragment:
            raise InvalidInput(
                "redirect_uri must be a loopback http://127.0.0.1:<port>/ URI or use one of the"
                " app schemes in auth.oidc.app_redirect_schemes",
                field="redirect_uri",
            )
        if not _CHALLENGE.fullmatch(app.code_challenge):
            raise InvalidInput(
                "An app redirect needs a code_challenge (S256 of your verifier)",
                field="code_challenge",
            )

    def _now_ms(self) -> int:
        return to_ms(self.clock())


def _scopes(settings: OidcProviderSettings) -> str:
    return " ".join(dict.fromkeys(["openid", *settings.scopes]))


def _email(settings: OidcProviderSettings, claims: dict[str, Any]) -> str | None:
    value = claims.get(settings.claims.email)
    return value if isinstance(value, str) and "@" in value else None


def _with_query(uri: str, query: dict[str, str]) -> str:
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode(query)


def _identity(row: Any) -> Identity:
    return Identity(
        id=row["id"],
        provider=row["provider"],
        subject=row["subject"],
        email=row["email"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _identity_in(conn: Connection, identity_id: str) -> Identity:
    row = conn.one("SELECT * FROM identities WHERE id = ?", (identity_id,))
    assert row is not None
    return _identity(row)
