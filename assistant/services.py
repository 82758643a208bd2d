"""Build every service once from the settings; the CLI and the server share this."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from assistant.auth import AuthService, PasswordHasher, TokenIssuer, load_or_create_keyset
from assistant.clock import Clock, system_clock
from assistant.profile import ProfileService
from assistant.settings import Settings
from assistant.store import Database
from assistant.store.blobs import BlobStore

log = logging.getLogger(__name__)

JWT_KEYS_FILE = "jwt-keys.json"


@dataclass
class Services:
    """The services of one running assistant."""

    settings: Settings
    db: Database
    auth: AuthService
    profile: ProfileService
    closed: bool = field(default=False)

    def close(self) -> None:
        """Release everything (idempotent)."""
        if not self.closed:
            self.closed = True
            self.db.close()


def build_services(
    settings: Settings,
    *,
    hasher: PasswordHasher | None = None,
    clock: Clock = system_clock,
) -> Services:
    """Open the database (migrating it), load or create secrets, and wire the services."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(settings.db_path, busy_timeout_ms=settings.database.busy_timeout_ms)
    keyset = load_or_create_keyset(settings.secrets_dir / JWT_KEYS_FILE, clock())
    tokens = TokenIssuer(
        keyset,
        issuer=settings.auth.jwt_issuer,
        ttl_seconds=settings.auth.access_token_ttl_seconds,
        grace_seconds=settings.auth.previous_key_grace_seconds,
    )
    auth = AuthService(db, settings.auth, tokens, hasher or PasswordHasher(), clock)
    profile = ProfileService(db, BlobStore(settings.blobs_dir), clock)
    return Services(settings=settings, db=db, auth=auth, profile=profile)
