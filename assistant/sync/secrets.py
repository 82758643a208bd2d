"""Sealing the API keys users give for their remotes: encrypted at rest with a key kept
in the data directory's secrets folder (mode 0600), never returned by the API."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from assistant.errors import BackendError
from runtime.files import atomic_write


class Sealer:
    """Encrypts and decrypts short secrets with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def load(cls, path: Path) -> Sealer:
        """The key in ``path``, created (mode 0600) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with atomic_write(path, mode=0o600) as handle:
                handle.write(Fernet.generate_key())
        try:
            return cls(path.read_bytes().strip())
        except (OSError, ValueError) as exc:
            raise BackendError(f"The sync key file {path} is unreadable or damaged") from exc

    def seal(self, secret: str) -> str:
        """The secret, encrypted."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret back; ``BackendError`` if the key file changed since it was sealed."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise BackendError(
                "A stored sync API key cannot be decrypted (the sync key file was replaced);"
                " set it again with `assistant sync enable`"
            ) from exc
