"""The authentication service: accounts, sessions, tokens, API keys, password resets."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

from assistant.auth import store
from assistant.auth.models import ApiKey, Principal, Role, Session, TokenPair, User
from assistant.auth.passwords import PasswordHasher
from assistant.auth.ratelimit import FailureLimiter
from assistant.auth.tokens import TokenIssuer, hash_secret, new_secret
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
)
from assistant.settings import AuthSettings
from assistant.store import Connection, Database
from runtime.events import NO_EVENTS, Emitter

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
PASSWORD_MAX_LENGTH = 256
API_KEY_PREFIX = "ak_"
REFRESH_PREFIX = "rt_"
RESET_PREFIX = "rst_"
_REGISTRATION_FLAG = "registration_open"
_TOUCH_INTERVAL_MS = 60_000
_BAD_CREDENTIALS = "Wrong username or password"
WEB_SESSION_AUDIENCE = "web-session"


@dataclass(frozen=True)
class ClientInfo:
    """Where a login comes from, kept with the session."""

    address: str | None = None
    """Client IP address."""
    user_agent: str | None = None
    """User-Agent header, truncated."""


class AuthService:
    """Accounts, JWT sessions with rotating refresh tokens, API keys and resets."""

    def __init__(
        self,
        db: Database,
        settings: AuthSettings,
        tokens: TokenIssuer,
        hasher: PasswordHasher,
        clock: Clock = system_clock,
        *,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.db = db
        self.events = events
        self.settings = settings
        self.tokens = tokens
        self.hasher = hasher
        self.clock = clock
        self._account_limiter = FailureLimiter(
            settings.login_max_failures_per_account, settings.login_window_seconds
        )
        self._address_limiter = FailureLimiter(
            settings.login_max_failures_per_address, settings.login_window_seconds
        )
        self._limiter_lock = threading.Lock()

    # Accounts ---------------------------------------------------------------------

    def registration_open(self) -> bool:
        """Whether anyone may register (always true while there is no account)."""
        with self.db.read() as conn:
            if store.count_users(conn) == 0:
                return True
            flag = store.get_flag(conn, _REGISTRATION_FLAG)
        return self.settings.open_registration if flag is None else flag == "1"

    def set_registration_open(self, is_open: bool) -> None:
        """Open or close self-registration."""
        with self.db.write() as conn:
            store.set_flag(conn, _REGISTRATION_FLAG, "1" if is_open else "0", self._now_ms())
        log.info("open registration %s", "enabled" if is_open else "disabled")

    def register(self, username: str, password: str, client: ClientInfo) -> TokenPair:
        """Create an account and sign it in. The first account becomes admin."""
        self._check_username(username)
        self._check_password(password)
        password_hash = self.hasher.hash(password)
        now = self._now_ms()
        with self.db.write() as conn:
            first = store.count_users(conn) == 0
            if not first:
                flag = store.get_flag(conn, _REGISTRATION_FLAG)
                is_open = self.settings.open_registration if flag is None else flag == "1"
                if not is_open:
                    raise Forbidden(
                        "Registration is closed on this device. Ask an admin to create your"
                        " account (`assistant users add NAME`) or to open registration."
                    )
            if store.username_exists(conn, username):
                raise Conflict(f"The username {username!r} is taken", field="username")
            role = Role.ADMIN if first else Role.USER
            user = store.insert_user(conn, new_id(), username, password_hash, role, now)
        log.info("registered %s as %s", user.id, role.value)
        return self._open_session(user, client)

    def create_user(self, username: str, password: str, role: Role = Role.USER) -> User:
        """Create an account (admins and the CLI), regardless of open registration."""
        self._check_username(username)
        self._check_password(password)
        password_hash = self.hasher.hash(password)
        with self.db.write() as conn:
            if store.username_exists(conn, username):
                raise Conflict(f"The username {username!r} is taken", field="username")
            if store.count_users(conn) == 0:
                role = Role.ADMIN
            user = store.insert_user(conn, new_id(), username, password_hash, role, self._now_ms())
        log.info("created user %s as %s", user.id, user.role.value)
        return user

    def get_user(self, user_id: str) -> User:
        """One account by id."""
        with self.db.read() as conn:
            user = store.get_user(conn, user_id)
        if user is None:
            raise NotFound("No such user")
        return user

    def find_user(self, username: str) -> User:
        """One account by username."""
        with self.db.read() as conn:
            user = store.get_user_by_name(conn, username)
        if user is None:
            raise NotFound(f"No user named {username!r}")
        return user

    def list_users(self) -> list[User]:
        """Every account, oldest first."""
        with self.db.read() as conn:
            return store.list_users(conn)

    def update_user(
        self, user_id: str, *, role: Role | None = None, disabled: bool | None = None
    ) -> User:
        """Change an account's role or disable it (its sessions end and its API keys are
        revoked for good); the last admin cannot be demoted."""
        now = self._now_ms()
        with self.db.write() as conn:
            user = store.get_user(conn, user_id)
            if user is None:
                raise NotFound("No such user")
            losing_admin = (
                user.role is Role.ADMIN
                and not user.disabled
                and (role is Role.USER or disabled is True)
            )
            if losing_admin and store.count_admins(conn) <= 1:
                raise Conflict("This is the last admin; make another admin first")
            columns: dict[str, object] = {}
            if role is not None:
                columns["role"] = role.value
            if disabled is not None:
                columns["disabled"] = int(disabled)
            if columns:
                store.update_user(conn, user_id, now, **columns)
            if disabled:
                # Revoked, not suspended: enabling the account again must not bring
                # back keys on devices that may have changed hands meanwhile.
                sessions = store.revoke_user_sessions(conn, user_id, now, "disabled")
                keys = store.revoke_user_api_keys(conn, user_id, now)
                log.info(
                    "disabled %s: %d sessions ended, %d API keys revoked", user_id, sessions, keys
                )
            updated = store.get_user(conn, user_id)
        assert updated is not None
        return updated

    def delete_user(self, user_id: str) -> None:
        """Delete an account and everything it owns; the last admin cannot be deleted."""
        with self.db.write() as conn:
            user = store.get_user(conn, user_id)
            if user is None:
                raise NotFound("No such user")
            active_admin = user.role is Role.ADMIN and not user.disabled
            if active_admin and store.count_admins(conn) <= 1:
                raise Conflict("This is the last admin; make another admin first")
            store.delete_user(conn, user_id)
        log.info("deleted user %s", user_id)

    # Sign-in ----------------------------------------------------------------------

    def login(self, username: str, password: str, client: ClientInfo) -> TokenPair:
        """Check credentials (throttled per account and per address) and open a session."""
        now = self.clock()
        account_key = username.casefold()
        address_key = client.address or "unknown"
        with self._limiter_lock:
            wait = max(
                self._account_limiter.retry_after(account_key, now),
                self._address_limiter.retry_after(address_key, now),
            )
        if wait:
            self.events.emit("auth.login_failed", {"reason": "throttled"})
            raise RateLimited(
                f"Too many failed sign-in attempts; try again in {wait} seconds",
                retry_after_seconds=wait,
            )
        with self.db.read() as conn:
            user = store.get_user_by_name(conn, username)
            encoded = None if user is None else store.get_password_hash(conn, user.id)
        ok = self.hasher.verify(encoded, password)
        if not ok or user is None or user.disabled:
            with self._limiter_lock:
                self._account_limiter.record_failure(account_key, now)
                self._address_limiter.record_failure(address_key, now)
            self.events.emit(
                "auth.login_failed",
                {"reason": "disabled" if ok and user is not None else "bad-credentials"},
                user_id=user.id if user is not None else None,
            )
            raise Unauthorized(_BAD_CREDENTIALS)
        with self._limiter_lock:
            self._account_limiter.reset(account_key)
        if encoded is not None and self.hasher.needs_rehash(encoded):
            with self.db.write() as conn:
                store.update_user(
                    conn, user.id, to_ms(now), password_hash=self.hasher.hash(password)
                )
        self.events.emit("auth.login", {"method": "password"}, user_id=user.id)
        return self._open_session(user, client)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token. A token presented twice revokes its whole session."""
        token_hash = hash_secret(refresh_token)
        now = self._now_ms()
        with self.db.write() as conn:
            row = store.find_refresh_token(conn, token_hash)
            if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
                raise Unauthorized("The refresh token is invalid or expired; sign in again")
            if row["used_at"] is None and store.mark_refresh_token_used(conn, token_hash, now):
                user = store.get_user(conn, row["user_id"])
                if user is None or user.disabled:
                    raise Unauthorized("The account is disabled")
                return self._issue(conn, user, row["session_id"], now)
            # Reuse: commit the revocation, then refuse.
            store.revoke_session(conn, row["session_id"], now, "refresh-token-reuse")
        log.warning("refresh token reuse in session %s: session revoked", row["session_id"])
        raise Unauthorized(
            "This refresh token was already used; the session has been revoked. Sign in again."
        )

    def logout(self, principal: Principal) -> None:
        """Revoke the caller's session."""
        if principal.session_id is None:
            raise InvalidInput("API keys have no session; revoke the key instead")
        with self.db.write() as conn:
            store.revoke_session(conn, principal.session_id, self._now_ms(), "logout")

    def authenticate_token(self, token: str) -> Principal:
        """The caller behind a JWT access token whose session is still live."""
        now = self.clock()
        claims = self.tokens.verify(token, now)
        with self.db.read() as conn:
            row = store.active_session_owner(conn, claims.session_id, to_ms(now))
        if row is None or row["id"] != claims.user_id:
            raise Unauthorized("The session has ended; sign in again")
        return Principal(
            user_id=row["id"],
            username=row["username"],
            role=Role(row["role"]),
            session_id=claims.session_id,
        )

    def authenticate_api_key(self, key: str) -> Principal:
        """The caller behind a live API key; records its last use (at most once a minute)."""
        now = self._now_ms()
        with self.db.read() as conn:
            row = store.find_api_key_owner(conn, hash_secret(key), now)
        if row is None:
            raise Unauthorized("The API key is invalid, revoked or expired")
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_INTERVAL_MS:
            with self.db.write() as conn:
                store.touch_api_key(conn, row["key_id"], now)
        return Principal(
            user_id=row["id"],
            username=row["username"],
            role=Role(row["role"]),
            api_key_id=row["key_id"],
        )

    def authenticate(self, credential: str) -> Principal:
        """A bearer credential that is either an API key or a JWT access token."""
        if credential.startswith(API_KEY_PREFIX):
            return self.authenticate_api_key(credential)
        return self.authenticate_token(credential)

    # Web app sessions (a cookie) ------------------------------------------------

    def needs_setup(self) -> bool:
        """Whether no account exists yet, so the first-run page must create the admin."""
        with self.db.read() as conn:
            return store.count_users(conn) == 0

    def set_up(self, username: str, password: str, client: ClientInfo) -> TokenPair:
        """Create the first account (an admin) and sign it in; Conflict once one exists."""
        self._check_username(username)
        self._check_password(password)
        password_hash = self.hasher.hash(password)
        with self.db.write() as conn:
            if store.count_users(conn) > 0:
                raise Conflict("This device is already set up; sign in instead")
            user = store.insert_user(
                conn, new_id(), username, password_hash, Role.ADMIN, self._now_ms()
            )
        log.info("set up: created the first admin %s", user.id)
        return self._open_session(user, client)

    def web_session_token(self, pair: TokenPair) -> str:
        """The web app's session cookie for a fresh session: a token that lives as long
        as an idle session may, good only as that cookie and only while the session lives."""
        return self.tokens.issue(
            pair.user.id,
            pair.session_id,
            pair.user.role,
            self.clock(),
            ttl_seconds=self._session_ttl_ms // 1000,
            audience=WEB_SESSION_AUDIENCE,
        )

    def authenticate_web_session(self, token: str) -> Principal:
        """The caller behind a web session cookie whose session is still live."""
        now = self.clock()
        claims = self.tokens.verify(token, now, audience=WEB_SESSION_AUDIENCE)
        now_ms = to_ms(now)
        with self.db.read() as conn:
            row = store.active_session_owner(conn, claims.session_id, now_ms)
            last_used = store.session_last_used(conn, claims.session_id)
        if row is None or row["id"] != claims.user_id:
            raise Unauthorized("The session has ended; sign in again")
        if last_used is not None and now_ms - last_used > _TOUCH_INTERVAL_MS:
            # "Last used" in the session list; the session never outlives its cookie.
            expires = min(now_ms + self._session_ttl_ms, claims.expires_at * 1000)
            with self.db.write() as conn:
                store.touch_session(conn, claims.session_id, now_ms, expires)
        return Principal(
            user_id=row["id"],
            username=row["username"],
            role=Role(row["role"]),
            session_id=claims.session_id,
        )

    # Sessions ---------------------------------------------------------------------

    def list_sessions(self, principal: Principal) -> list[Session]:
        """The caller's live sessions, most recently used first."""
        with self.db.read() as conn:
            sessions = store.list_sessions(conn, principal.user_id, self._now_ms())
        return [
            Session(**{**s.__dict__, "current": s.id == principal.session_id}) for s in sessions
        ]

    def revoke_session(self, principal: Principal, session_id: str) -> None:
        """Sign one of the caller's sessions out."""
        with self.db.write() as conn:
            if not store.session_belongs_to(conn, session_id, principal.user_id):
                raise NotFound("No such session")
            store.revoke_session(conn, session_id, self._now_ms(), "revoked-by-user")

    # Passwords --------------------------------------------------------------------

    def change_password(
        self, principal: Principal, current: str, new: str, client: ClientInfo
    ) -> TokenPair:
        """Change the caller's password; every session ends and every API key is revoked,
        and a fresh session is returned."""
        self._check_password(new)
        with self.db.read() as conn:
            encoded = store.get_password_hash(conn, principal.user_id)
        if not self.hasher.verify(encoded, current):
            raise Unauthorized("The current password is wrong")
        self._set_password(principal.user_id, new, "password-changed")
        return self._open_session(self.get_user(principal.user_id), client)

    def issue_reset_token(self, username: str, issued_by: str | None = None) -> str:
        """A one-time, expiring token that lets ``username`` set a new password."""
        user = self.find_user(username)
        token = new_secret(RESET_PREFIX, 24)
        now = self._now_ms()
        expires = now + self.settings.reset_token_ttl_minutes * 60_000
        with self.db.write() as conn:
            store.insert_reset(conn, hash_secret(token), user.id, issued_by, now, expires)
        log.info("password reset token issued for %s by %s", user.id, issued_by or "cli")
        return token

    def reset_password(self, token: str, new: str) -> None:
        """Consume a reset token and set the password; every session of the user ends and
        every API key is revoked."""
        self._check_password(new)
        with self.db.write() as conn:
            user_id = store.consume_reset(conn, hash_secret(token), self._now_ms())
        if user_id is None:
            raise Unauthorized("The reset token is invalid, used or expired")
        self._set_password(user_id, new, "password-reset")

    def _set_password(self, user_id: str, password: str, reason: str) -> None:
        """Set the password and end every credential made with the old one.

        API keys go with the sessions: whoever learned the old password could have
        created one, and a key that outlived the change would keep them in.
        """
        encoded = self.hasher.hash(password)
        now = self._now_ms()
        with self.db.write() as conn:
            store.update_user(conn, user_id, now, password_hash=encoded)
            ended = store.revoke_user_sessions(conn, user_id, now, reason)
            keys = store.revoke_user_api_keys(conn, user_id, now)
        log.info(
            "password of %s set (%s); %d sessions ended, %d API keys revoked",
            user_id,
            reason,
            ended,
            keys,
        )

    # API keys ---------------------------------------------------------------------

    def create_api_key(
        self, principal: Principal, name: str, expires_in_days: int | None = None
    ) -> tuple[ApiKey, str]:
        """A new key for the caller; the secret is returned here and never again."""
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise InvalidInput("A key name has 1 to 64 characters", field="name")
        if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
            raise InvalidInput("expires_in_days must be 1..3650", field="expires_in_days")
        secret = new_secret(API_KEY_PREFIX)
        now = self._now_ms()
        expires = None if expires_in_days is None else now + expires_in_days * 86_400_000
        with self.db.write() as conn:
            key = store.insert_api_key(
                conn,
                new_id(),
                principal.user_id,
                name,
                secret[: len(API_KEY_PREFIX) + 6],
                hash_secret(secret),
                now,
                expires,
            )
        return key, secret

    def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        """The caller's live keys."""
        with self.db.read() as conn:
            return store.list_api_keys(conn, principal.user_id)

    def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        """Revoke one of the caller's keys."""
        with self.db.write() as conn:
            if not store.revoke_api_key(conn, key_id, principal.user_id, self._now_ms()):
                raise NotFound("No such API key")

    # Other ways in (OpenID Connect) ----------------------------------------------

    def open_session(self, user_id: str, client: ClientInfo) -> TokenPair:
        """A session for an account whose owner proved who they are another way (an
        OpenID provider): the same tokens as a password sign-in. Disabled accounts are
        refused."""
        user = self.get_user(user_id)
        if user.disabled:
            raise Forbidden("This account is disabled; ask an admin")
        tokens = self._open_session(user, client)
        self.events.emit("auth.login", {"method": "oidc"}, user_id=user.id)
        return tokens

    def create_external_user(self, suggested: str, role: Role, conn: Connection) -> User:
        """An account without a password for an external identity, in the caller's
        transaction; the username is ``suggested`` made valid, with a number if taken."""
        local_part = suggested.split("@", maxsplit=1)[0]
        base = re.sub(r"[^A-Za-z0-9_.-]", "", local_part)[:28].lstrip("._-")
        if len(base) < 2:
            base = "user"
        candidate, number = base, 1
        while store.username_exists(conn, candidate):
            number += 1
            candidate = f"{base}-{number}"
        user = store.insert_user(conn, new_id(), candidate, None, role, self._now_ms())
        log.info("created user %s (%s) for an external identity", user.id, role.value)
        return user

    def has_password(self, user_id: str) -> bool:
        """Whether the account can sign in with a password."""
        with self.db.read() as conn:
            return store.get_password_hash(conn, user_id) is not None

    # Internals --------------------------------------------------------------------

    def _open_session(self, user: User, client: ClientInfo) -> TokenPair:
        now = self._now_ms()
        session_id = new_id()
        expires = now + self._session_ttl_ms
        with self.db.write() as conn:
            store.prune_sessions(conn, now, keep_revoked_ms=self._session_ttl_ms)
            store.insert_session(
                conn,
                session_id,
                user.id,
                now,
                expires,
                client.address,
                (client.user_agent or "")[:200] or None,
            )
            return self._issue(conn, user, session_id, now)

    def _issue(self, conn: Connection, user: User, session_id: str, now: int) -> TokenPair:
        refresh = new_secret(REFRESH_PREFIX)
        store.insert_refresh_token(conn, hash_secret(refresh), session_id, now)
        store.touch_session(conn, session_id, now, now + self._session_ttl_ms)
        access = self.tokens.issue(user.id, session_id, user.role, now / 1000)
        return TokenPair(
            access_token=access,
            expires_in=self.tokens.ttl_seconds,
            refresh_token=refresh,
            refresh_expires_in=self._session_ttl_ms // 1000,
            session_id=session_id,
            user=user,
        )

    @property
    def _session_ttl_ms(self) -> int:
        return self.settings.refresh_token_ttl_days * 86_400_000

    def _now_ms(self) -> int:
        return to_ms(self.clock())

    def _check_username(self, username: str) -> None:
        if not USERNAME_PATTERN.fullmatch(username):
            raise InvalidInput(
                "A username has 2 to 32 characters: letters, digits, '.', '_' or '-',"
                " starting with a letter or digit",
                field="username",
            )

    def _check_password(self, password: str) -> None:
        minimum = self.settings.password_min_length
        if len(password) < minimum:
            raise InvalidInput(f"A password has at least {minimum} characters", field="password")
        if len(password) > PASSWORD_MAX_LENGTH:
            raise InvalidInput(
                f"A password has at most {PASSWORD_MAX_LENGTH} characters", field="password"
            )
        if not password.strip():
            raise InvalidInput("A password cannot be only spaces", field="password")
