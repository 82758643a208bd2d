"""Translation services on real SQLite with the tiny generated CTranslate2 model installed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant.services import Services, build_translate
from assistant.translate.service import TranslateService
from runtime.engines import Capability, load_engine
from runtime.manager import ModelManager
from runtime.mt.base import TranslateOptions, Translation
from runtime.mt.ctranslate2 import CTranslate2Translator
from runtime.testing.tiny_ct2 import make_tiny_ct2_translator

TINY_MODEL = "tiny-nllb:test"
"""The tiny NLLB-style model (English, French, German, Spanish; translates into nonsense)."""


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model's folder, made once per session."""
    return make_tiny_ct2_translator(tmp_path_factory.mktemp("tiny-nllb"), style="nllb")


@pytest.fixture
def with_tiny(services: Services, tiny_nllb: Path) -> Services:
    """The services with the tiny translation model installed."""
    services.models.add(
        tiny_nllb, TINY_MODEL, Capability.MT, "ctranslate2", params={"style": "nllb"}
    )
    return services


@dataclasses.dataclass
class Call:
    """One batch the engine got."""

    texts: list[str]
    source: str
    target: str
    options: TranslateOptions


class RecordingTranslator:
    """The real tiny CTranslate2 translator, recording every batch it is given."""

    def __init__(self, inner: CTranslate2Translator) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.languages = inner.languages
        self.style = inner.style
        self.calls: list[Call] = []

    def translate_batch(
        self, texts: Sequence[str], source: str, target: str, options: TranslateOptions
    ) -> list[Translation]:
        self.calls.append(Call(list(texts), source, target, options))
        return self.inner.translate_batch(texts, source, target, options)

    def close(self) -> None:
        self.inner.close()


@dataclasses.dataclass
class Recorded:
    """A translation service whose engines record their calls."""

    service: TranslateService
    services: Services
    engines: dict[str, RecordingTranslator]

    @property
    def calls(self) -> list[Call]:
        return [call for engine in self.engines.values() for call in engine.calls]


@pytest.fixture
def recorded(with_tiny: Services) -> Recorded:
    """A translation service over the tiny model, wrapped to record what it is given."""
    engines: dict[str, RecordingTranslator] = {}

    def loader(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Any:
        loaded = load_engine(engine, model_id, path, params)
        if isinstance(loaded, CTranslate2Translator):
            engines[model_id] = RecordingTranslator(loaded)
            return engines[model_id]
        return loaded

    services = with_tiny
    manager = ModelManager(services.models, budget_mb=4_000, loader=loader)
    service = build_translate(
        services.settings,
        services.db,
        manager,
        services.models,
        services.profile,
        services.history,
        services.voice,
    )
    return Recorded(service, services, engines)
