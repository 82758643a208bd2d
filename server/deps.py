"""Dependencies handlers declare by name: each service, the settings and the caller.

A handler names the one service it uses (``chat: ChatDep``), never the whole bag. The
services are ours and built once, so Litestar does not validate them per request (which
also lets tests inject fakes that follow the same Protocols).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias, TypeVar

from litestar import Request
from litestar.datastructures import State
from litestar.di import Dependency, Provide
from litestar.params import SkipValidationMarker

from assistant.analytics import AnalyticsService, ExperimentService
from assistant.analytics.metrics import Metrics
from assistant.auth import AuthService, Principal
from assistant.auth.oidc import OidcService
from assistant.chat.history import HistoryService
from assistant.chat.service import ChatService
from assistant.errors import Unauthorized
from assistant.lists import ListService
from assistant.notifications import Notifications
from assistant.profile import ProfileService
from assistant.services import Services
from assistant.settings import Settings
from assistant.skills.router import SkillRouter
from assistant.store import Database
from assistant.sync import ChangeLog, SyncBridge
from assistant.timers import TimerService
from assistant.translate.service import TranslateService
from assistant.vision.service import VisionService
from assistant.voice.service import VoiceLoops, VoiceService
from runtime.manager import ModelManager
from runtime.modelstore import ModelStore

T = TypeVar("T")

Injected: TypeAlias = Annotated[T, Dependency(kind="named"), SkipValidationMarker()]
"""A service injected by the name of the handler's parameter, as it is."""

AuthDep = Injected[AuthService]
ProfileDep = Injected[ProfileService]
ChatDep = Injected[ChatService]
HistoryDep = Injected[HistoryService]
VoiceDep = Injected[VoiceService]
LoopsDep = Injected[VoiceLoops]
ModelsDep = Injected[ModelStore]
ManagerDep = Injected[ModelManager]
SettingsDep = Injected[Settings]
DatabaseDep = Injected[Database]
PrincipalDep = Injected[Principal]
ChangesDep = Injected[ChangeLog]
SyncDep = Injected[SyncBridge]
OidcDep = Injected[OidcService]
NotificationsDep = Injected[Notifications]
VisionDep = Injected[VisionService]
TranslateDep = Injected[TranslateService]
AnalyticsDep = Injected[AnalyticsService]
ExperimentsDep = Injected[ExperimentService]
MetricsDep = Injected[Metrics | None]
SkillsDep = Injected[SkillRouter]
TimersDep = Injected[TimerService]
ListsDep = Injected[ListService]


def services_of(state: State) -> Services:
    """The services the app was started with."""
    return state.services  # type: ignore[no-any-return]


def _principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized("Sign in first")
    return user


def _provide(name: str) -> Provide:
    def provide(state: State) -> Any:
        return getattr(services_of(state), name)

    return Provide(provide, sync_to_thread=False)


DEPENDENCIES: dict[str, Provide] = {
    name: _provide(name)
    for name in (
        "db",
        "auth",
        "profile",
        "chat",
        "history",
        "loops",
        "models",
        "manager",
        "settings",
        "sync",
        "oidc",
        "vision",
        "translate",
        "analytics",
        "experiments",
        "metrics",
        "lists",
    )
}
# Not "voice": the speech bodies have a field of that name, and Litestar answers an invalid
# body field that shares a dependency's name as a failed dependency (a bare 500).
DEPENDENCIES["voice_service"] = _provide("voice")
# Not "changes" either: the change-log push body has a field of that name.
DEPENDENCIES["change_log"] = _provide("changes")
# Not "notifications": the profile preferences body has a field of that name.
DEPENDENCIES["notifier"] = _provide("notifications")
# Not "skills": the chat message body has a field of that name.
DEPENDENCIES["skill_router"] = _provide("skills")
DEPENDENCIES["principal"] = Provide(_principal, sync_to_thread=False)


def _timers(state: State) -> TimerService:
    return services_of(state).timers.service


DEPENDENCIES["timers"] = Provide(_timers, sync_to_thread=False)
