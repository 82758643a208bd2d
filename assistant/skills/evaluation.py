"""Precision and recall of intent recognition over a labelled utterance set.

The set (``tests/skills/data/utterances.yaml``) holds positives (a text and the intent
that must answer it; ``paraphrase: true`` marks phrasing the templates were not written
for) and near-misses (texts no skill may take). The test suite and
``benchmarks/skills.py`` score both stages with the same function. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from assistant.skills.base import SkillContext

if TYPE_CHECKING:
    from assistant.skills.router import SkillRouter

EVALUATION_CONTEXT = SkillContext(user_id="evaluation", now=1_800_000_000.0, time_zone="UTC")
"""The request context the set is recognised in (``match`` is pure: it only reads it)."""


@dataclass(frozen=True)
class Labelled:
    """One utterance of the set."""

    text: str
    """What the user said or typed."""
    intent: str | None
    """The intent that must answer it; None for a near-miss (ordinary chat)."""
    paraphrase: bool = False
    """Phrasing the templates were not written for."""

    @property
    def skill(self) -> str | None:
        """The skill that must answer it."""
        return None if self.intent is None else self.intent.split(".", 1)[0]


@dataclass
class Score:
    """Counts of one skill (or of everything)."""

    true_positives: int = 0
    """Its utterances recognised as the right intent."""
    false_positives: int = 0
    """Utterances it took that were not its own, or its own with the wrong intent."""
    false_negatives: int = 0
    """Its utterances it did not take (or took as a wrong intent)."""
    near_miss_fired: list[str] = field(default_factory=list)
    """Near-misses it took: must stay empty."""

    @property
    def precision(self) -> float:
        """Of what it took, the share that was right (1.0 when it took nothing)."""
        taken = self.true_positives + self.false_positives
        return self.true_positives / taken if taken else 1.0

    @property
    def recall(self) -> float:
        """Of its utterances, the share it took as the right intent."""
        own = self.true_positives + self.false_negatives
        return self.true_positives / own if own else 1.0


def load_labelled(path: Path) -> list[Labelled]:
    """Read a labelled set (``positives`` and ``near_misses``)."""
    data: Mapping[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    positives = [
        Labelled(str(p["text"]), str(p["intent"]), bool(p.get("paraphrase", False)))
        for p in data.get("positives") or []
    ]
    return positives + [Labelled(str(t), None) for t in data.get("near_misses") or []]


def score(labelled: Iterable[Labelled], recognize: Callable[[str], str | None]) -> dict[str, Score]:
    """Per-skill scores (and ``"all"``) of a recogniser that gives an intent or None."""
    scores: dict[str, Score] = {}

    def of(skill: str) -> Score:
        return scores.setdefault(skill, Score())

    overall = Score()
    for item in labelled:
        got = recognize(item.text)
        got_skill = None if got is None else got.split(".", 1)[0]
        if item.intent is not None:
            of(item.skill or "")  # every skill of the set has a row
        if got is not None and got == item.intent:
            of(got_skill or "").true_positives += 1
            overall.true_positives += 1
            continue
        if item.intent is not None:
            of(item.skill or "").false_negatives += 1
            overall.false_negatives += 1
        if got is not None:
            wrong = of(got_skill or "")
            wrong.false_positives += 1
            overall.false_positives += 1
            if item.intent is None:
                wrong.near_miss_fired.append(item.text)
                overall.near_miss_fired.append(item.text)
    scores["all"] = overall
    return dict(sorted(scores.items()))


def template_stage(router: SkillRouter) -> Callable[[str], str | None]:
    """The intent the router's first stage (templates, then each skill's ``match``)
    gives a text, asking back included; None: chat (or the model stage) would answer."""

    def recognize(text: str) -> str | None:
        picked = router.pick(text, EVALUATION_CONTEXT)
        return None if picked is None else picked.call.intent

    return recognize
