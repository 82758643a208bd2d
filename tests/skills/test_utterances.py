"""The labelled utterance set against the shipped templates (the template stage).

Thresholds, and why: no skill may fire on a near-miss, and what a template takes must be
the right intent (precision 1.0 per skill), because a wrong action (a timer nobody asked
for) costs more than a chat answer. Every phrasing the templates were written for must be
recognised (recall 1.0 on the non-paraphrases); paraphrases are the model stage's job, so
their recall is measured and reported (benchmarks/skills.py, README), not required.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.auth import PasswordHasher
from assistant.services import build_services
from assistant.settings import Settings
from assistant.skills.evaluation import Labelled, load_labelled, score, template_stage

UTTERANCES = Path(__file__).parent / "data" / "utterances.yaml"
LABELLED = load_labelled(UTTERANCES)

Recognizer = Callable[[str], str | None]


@pytest.fixture(scope="module")
def recognize(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recognizer]:
    """What the shipped skills take: the template stage and each skill's ``match``."""
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("skills") / "data")
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    yield template_stage(services.skills)
    services.close()


def test_the_set_is_large_enough() -> None:
    near_misses = [u for u in LABELLED if u.intent is None]
    assert len(LABELLED) >= 150 and len(near_misses) >= 50


@pytest.mark.parametrize(
    "utterance", [u for u in LABELLED if u.intent is None], ids=lambda u: u.text
)
def test_no_skill_fires_on_a_near_miss(utterance: Labelled, recognize: Recognizer) -> None:
    assert recognize(utterance.text) is None


@pytest.mark.parametrize(
    "utterance", [u for u in LABELLED if u.intent and not u.paraphrase], ids=lambda u: u.text
)
def test_every_templated_phrasing_is_recognised(utterance: Labelled, recognize: Recognizer) -> None:
    assert recognize(utterance.text) == utterance.intent


def test_precision_per_skill_is_one(recognize: Recognizer) -> None:
    scores = score(LABELLED, recognize)
    assert {name: s.precision for name, s in scores.items() if s.precision < 1} == {}
    assert scores["all"].near_miss_fired == []


def test_scoring_counts_right_wrong_and_missed() -> None:
    labelled = [
        Labelled("a", "timer.start"),
        Labelled("b", "timer.start"),
        Labelled("c", "time.now"),
        Labelled("d", None),
    ]
    answers = {"a": "timer.start", "b": None, "c": "timer.list", "d": "time.now"}
    scores = score(labelled, answers.get)
    timer, time = scores["timer"], scores["time"]
    assert (timer.true_positives, timer.false_positives, timer.false_negatives) == (1, 1, 1)
    assert (time.true_positives, time.false_positives, time.false_negatives) == (0, 1, 1)
    assert time.near_miss_fired == ["d"] and scores["all"].near_miss_fired == ["d"]
    assert timer.precision == 0.5 and timer.recall == 0.5 and time.precision == 0.0
