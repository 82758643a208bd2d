"""The look and translate sentence templates recognised by hassil, as the router will."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from hassil import Intents, recognize

SENTENCES = Path(__file__).parents[2] / "assistant" / "skills" / "sentences" / "en"


@cache
def intents(*names: str) -> Intents:
    """The named skills' sentence files merged into one ``Intents``, as the recogniser
    merges every skill's (their intents, lists and rules must not clash)."""
    paths = [SENTENCES / f"{name}.yaml" for name in names]
    seen: dict[str, set[str]] = {"intents": set(), "lists": set(), "rules": set()}
    for path in paths:
        with path.open(encoding="utf-8") as file:
            one = Intents.from_yaml(file)
        assert one.language == "en"
        for kind, keys in (
            ("intents", set(one.intents)),
            ("lists", set(one.slot_lists)),
            ("rules", set(one.expansion_rules)),
        ):
            assert not keys & seen[kind], f"{path.name} redefines {kind} {keys & seen[kind]}"
            seen[kind] |= keys
    return Intents.from_files(paths)


def recognise(text: str, *names: str) -> tuple[str, Mapping[str, str]] | None:
    """The intent and raw slot texts of ``text`` (None: no template matches)."""
    result = recognize(text, intents(*(names or ("look", "translate"))))
    if result is None or result.intent is None:
        return None
    slots = {
        name: str(entity.text or entity.value).strip() for name, entity in result.entities.items()
    }
    return result.intent.name, slots
