"""The authentication service."""

from assistant.auth.models import ApiKey, Principal, Role, Session, TokenPair, User
from assistant.auth.passwords import PasswordHasher
from assistant.auth.service import AuthService, ClientInfo
from assistant.auth.tokens import KeySet, TokenIssuer, load_or_create_keyset

__all__ = [
    "ApiKey",
    "AuthService",
    "ClientInfo",
    "KeySet",
    "PasswordHasher",
    "Principal",
    "Role",
    "Session",
    "TokenIssuer",
    "TokenPair",
    "User",
    "load_or_create_keyset",
]
