"""The sentence templates of the skills, and the first, deterministic recognition stage.

Templates are data: one YAML file per skill and language under ``sentences/<language>/``
in hassil's template language (Home Assistant's intents use the same), merged into one
``hassil.Intents`` per language. Besides hassil's keys a file may hold ``examples``:
``{intent: [sentences]}``, the sentences ``GET /api/v1/skills`` shows.

Matching is pure (no I/O, no clock) and takes well under a millisecond for a short
request (``benchmarks/skills.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hassil import Intents, RecognizeResult, recognize_all, recognize_best

SENTENCES = Path(__file__).parent / "sentences"
"""The templates that ship with the package: ``<language>/<skill>.yaml``."""

EXAMPLES_KEY = "examples"
"""The one key of a sentence file that is ours, not hassil's."""

_SLOT = re.compile(r"\{(\w+)(?::(\w+))?\}")
"""A slot reference in a template: ``{timer_duration}`` or ``{list:slot}``."""


@dataclass(frozen=True)
class Recognized:
    """A request a template matched."""

    intent: str
    """``<skill>.<action>``."""
    slots: Mapping[str, str]
    """The raw text of each slot (``{"timer_duration": "five minutes"}``)."""


class Templates:
    """Every skill's templates, per language."""

    def __init__(
        self,
        intents: Mapping[str, Intents],
        examples: Mapping[str, Mapping[str, tuple[str, ...]]],
        slots: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
    ) -> None:
        self._intents = dict(intents)
        self._examples = {language: dict(by_intent) for language, by_intent in examples.items()}
        self._slots = {language: dict(by_intent) for language, by_intent in (slots or {}).items()}

    @classmethod
    def load(cls, folder: Path = SENTENCES) -> Templates:
        """Read every ``<language>/*.yaml`` under ``folder``."""
        intents: dict[str, Intents] = {}
        examples: dict[str, dict[str, tuple[str, ...]]] = {}
        slots: dict[str, dict[str, tuple[str, ...]]] = {}
        for language_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            language = language_dir.name
            merged: dict[str, Any] = {"language": language, "intents": {}, "lists": {}}
            rules: dict[str, Any] = {}
            found: dict[str, tuple[str, ...]] = {}
            for path in sorted(language_dir.glob("*.yaml")):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                _merge_unique(merged["intents"], data.get("intents") or {}, path, "intent")
                _merge_unique(merged["lists"], data.get("lists") or {}, path, "list")
                _merge_unique(rules, data.get("expansion_rules") or {}, path, "expansion rule")
                for intent, sentences in (data.get(EXAMPLES_KEY) or {}).items():
                    found[intent] = tuple(str(s) for s in sentences)
            if rules:
                merged["expansion_rules"] = rules
            intents[language] = Intents.from_dict(merged)
            for intent in intents[language].intents.values():
                for data in intent.data:
                    _ = data.sentences  # hassil parses templates on first use: do it now
            examples[language] = found
            slots[language] = {
                name: tuple(dict.fromkeys(_slot_names(intent, rules)))
                for name, intent in merged["intents"].items()
            }
        return cls(intents, examples, slots)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages that have templates."""
        return tuple(sorted(self._intents))

    def intents(self, language: str) -> tuple[str, ...]:
        """The intent names of a language's templates."""
        found = self._intents.get(language)
        return tuple(sorted(found.intents)) if found is not None else ()

    def examples(self, intent: str, language: str) -> tuple[str, ...]:
        """Example sentences of an intent in a language (empty when there are none)."""
        return self._examples.get(language, {}).get(intent, ())

    def slots(self, intent: str, language: str) -> tuple[str, ...]:
        """The slot names an intent's templates fill."""
        return self._slots.get(language, {}).get(intent, ())

    def recognize(self, text: str, language: str = "en") -> Recognized | None:
        """The intent and slots of the best template match, or None."""
        intents = self._intents.get(language)
        if intents is None or not text.strip():
            return None
        result = recognize_best(text, intents, language=language)
        return None if result is None else _recognized(result)

    def alternatives(self, text: str, language: str = "en") -> list[Recognized]:
        """Every other reading of the text (slower: asked only when the best one's skill
        declines, as translation declines "what is the time in Tokyo")."""
        intents = self._intents.get(language)
        if intents is None or not text.strip():
            return []
        found = [_recognized(r) for r in recognize_all(text, intents, language=language)]
        return list({(r.intent, tuple(sorted(r.slots.items()))): r for r in found}.values())


@cache
def shipped() -> Templates:
    """The package's own templates, read and parsed once per process (some 0.1-0.3 s;
    every ``build_services`` uses them, and a ``Templates`` is never changed)."""
    return Templates.load(SENTENCES)


def _recognized(result: RecognizeResult) -> Recognized:
    """Our form of a hassil match: the intent and each slot's text (fixed ones too)."""
    slots = {
        name: str(entity.value if entity.value is not None else entity.text).strip()
        for name, entity in result.entities.items()
    }
    return Recognized(intent=result.intent.name, slots=slots)


def _slot_names(intent: Mapping[str, Any], rules: Mapping[str, Any]) -> Iterator[str]:
    """The slots named in an intent's sentences, through the expansion rules they use."""
    for block in intent.get("data") or []:
        for sentence in block.get("sentences") or []:
            yield from _slots_of(str(sentence), rules, depth=0)


def _slots_of(template: str, rules: Mapping[str, Any], depth: int) -> Iterator[str]:
    for list_name, slot_name in _SLOT.findall(template):
        yield slot_name or list_name
    if depth < 5:
        for rule in re.findall(r"<(\w+)>", template):
            if rule in rules:
                yield from _slots_of(str(rules[rule]), rules, depth + 1)


def _merge_unique(into: dict[str, Any], new: Mapping[str, Any], path: Path, kind: str) -> None:
    """Merge one file's names into the language's, refusing a name two files define."""
    for name, value in new.items():
        if name in into:
            raise ValueError(f"{path}: the {kind} {name!r} is already defined by another file")
        into[name] = value
