"""Password hashing with argon2id and constant-time checks."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class PasswordHasher:
    """argon2id hashing; unknown users are checked against a dummy hash so timing says nothing."""

    def __init__(
        self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 2
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None

    @classmethod
    def fast_for_tests(cls) -> PasswordHasher:
        """Cheap parameters, for test suites only."""
        return cls(time_cost=1, memory_kib=1024, parallelism=1)

    def hash(self, password: str) -> str:
        """An encoded argon2id hash with its own salt and parameters."""
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """True if ``password`` matches; None (no such user) costs the same and is False."""
        if encoded is None and self._dummy is None:
            self._dummy = self._hasher.hash("not a password: equalises timing for unknown users")
        try:
            return (
                self._hasher.verify(encoded or self._dummy or "", password) and encoded is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True if the hash was made with weaker parameters than the current ones."""
        return self._hasher.check_needs_rehash(encoded)
