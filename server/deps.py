"""Dependencies handlers declare by name: the services and the caller."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from assistant.auth import AuthService, Principal
from assistant.chat.service import ChatService
from assistant.errors import Unauthorized
from assistant.profile import ProfileService
from assistant.services import Services
from assistant.voice.service import VoiceService

ServicesDep = NamedDependency[Services]
AuthDep = NamedDependency[AuthService]
ProfileDep = NamedDependency[ProfileService]
ChatDep = NamedDependency[ChatService]
VoiceDep = NamedDependency[VoiceService]
PrincipalDep = NamedDependency[Principal]


def _services(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


def _auth(state: State) -> AuthService:
    return _services(state).auth


def _profile(state: State) -> ProfileService:
    return _services(state).profile


def _chat(state: State) -> ChatService:
    return _services(state).chat


def _voice(state: State) -> VoiceService:
    return _services(state).voice


def _principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized("Sign in first")
    return user


DEPENDENCIES: dict[str, Provide] = {
    "services": Provide(_services, sync_to_thread=False),
    "auth": Provide(_auth, sync_to_thread=False),
    "profile": Provide(_profile, sync_to_thread=False),
    "chat": Provide(_chat, sync_to_thread=False),
    "voice": Provide(_voice, sync_to_thread=False),
    "principal": Provide(_principal, sync_to_thread=False),
}
