"""Real services for translation tests: the shared offline model store, plus the built-in
espeak-ng voice (it has no files, so it is added to the store's list, not installed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services, build_translate, build_voice
from assistant.settings import Settings
from runtime.engines import Capability
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel, ModelStore
from tests.conftest import real_settings

ESPEAK = InstalledModel(
    id="espeak-ng:builtin",
    capability=Capability.TTS,
    engine="espeak_ng",
    params={},
    memory_mb=5,
    description="espeak-ng",
    source="built in",
    installed_at=0,
    verified_at=0,
    files=(),
    path=Path("/nonexistent"),
)


class WithEspeak:
    """The real model store, with espeak-ng listed as installed."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self.manifest = store.manifest

    def installed(self) -> list[InstalledModel]:
        return [*self.store.installed(), ESPEAK]

    def require(self, model_id: str) -> InstalledModel:
        if model_id == ESPEAK.id:
            return ESPEAK
        return self.store.require(model_id)


def real_translation_services(tmp: Path, **overrides: object) -> Services:
    """Services on the real offline models (multilingual Whisper base for speech)."""
    settings: Settings = real_settings(
        tmp,
        voice={"stt_model": "whisper:base-ct2"},
        **overrides,  # type: ignore[arg-type]
    )
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    catalogue = WithEspeak(services.models)
    manager = ModelManager(
        catalogue,  # type: ignore[arg-type]
        budget_mb=4_000,
        params_overrides=settings.models.params,
    )
    voice = build_voice(settings, manager, services.models, services.profile)
    voice.catalogue = catalogue  # type: ignore[assignment]
    translate = build_translate(
        settings,
        services.db,
        manager,
        catalogue,  # type: ignore[arg-type]
        services.profile,
        services.history,
        voice,
    )
    return dataclasses.replace(services, manager=manager, voice=voice, translate=translate)
