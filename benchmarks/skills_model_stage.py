"""The skills' model stage: precision, recall and latency per confidence threshold.

Runs ``ModelStage.ask`` (the chat model choosing an intent under the JSON grammar) over a
labelled set: paraphrases the sentence templates would miss, which should be chosen, and
near-misses, which must stay chat. For each threshold it counts what would have fired:

- precision: fires with the right intent / all fires (a wrong intent counts against it);
- recall: fires with the right intent / positives;
- near-miss fires: near-misses that fired at all (the issue allows none).

``benchmarks/skills.py`` calls ``measure`` and ``score`` with its own catalogue and
labelled set; run alone it uses the ones below with the offline chat model:

    python -m benchmarks.skills_model_stage [--quick] [--after-chat N] [--models-dir DIR]
                                            [--model ID] [--json PATH]

``--quick`` asks about two paraphrases and two near-misses only (a smoke run).
``--after-chat N`` asks about the first N cases again after a chat turn each (default 8,
2 with ``--quick``): each evaluates the whole system prompt again, the slowest calls.
``--labelled PATH`` measures instead the utterances of a labelled set (the lead's
``tests/skills/data/utterances.yaml``) that the shipped sentence templates do not match
(those alone reach the model stage), with the shipped catalogue (``shipped_specs``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.skills.model_stage import NONE, ModelStage, Verdict
from assistant.skills.router import IntentSpec
from benchmarks.common import (
    base_parser,
    header_line,
    machine_info,
    markdown_table,
    percentile,
    progress,
    write_json,
)

MODEL = "qwen2.5-coder:0.5b-q4"
"""The offline profile's chat model."""

THRESHOLDS = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Confidence thresholds scored."""

DISTRIBUTIONS = ("llama-cpp-python",)

SPECS: tuple[IntentSpec, ...] = (
    IntentSpec("time.now", "Tell the current time, here or in a city.", ("time_city",),
               ("what time is it", "what time is it in Tokyo")),
    IntentSpec("time.date", "Tell today's date or day of the week.", (),
               ("what's the date today", "what day is it")),
    IntentSpec("timer.start", "Start a countdown timer.", ("timer_duration", "timer_name"),
               ("set a timer for 10 minutes", "start a 5 minute pasta timer")),
    IntentSpec("timer.cancel", "Cancel a running timer.", ("timer_name",),
               ("cancel the timer", "stop the pasta timer")),
    IntentSpec("timer.remaining", "Say how much time is left on a timer.", ("timer_name",),
               ("how much time is left", "how long left on the timer")),
    IntentSpec("reminder.add", "Remind the user of something at a time.",
               ("reminder_task", "reminder_time"),
               ("remind me to call Mum at 6 pm", "remind me to water the plants tomorrow")),
    IntentSpec("look.describe", "Describe what the camera sees.", (),
               ("what do you see", "describe what's in front of you")),
    IntentSpec("look.read", "Read aloud the text the camera sees.", (),
               ("read this to me", "what does the sign say")),
    IntentSpec("translate.say", "Translate a phrase into another language.",
               ("translate_text", "translate_language"),
               ("how do you say thank you in Spanish", "translate good morning into German")),
    IntentSpec("list.add", "Add an item to a list.", ("list_item", "list_name"),
               ("add milk to the shopping list", "put eggs on my list")),
    IntentSpec("list.show", "Say what is on a list.", ("list_name",),
               ("what's on my shopping list", "read my todo list")),
    IntentSpec("control.volume", "Make the speaker louder or quieter.", ("control_direction",),
               ("louder", "turn the volume down")),
)  # fmt: skip
"""A catalogue shaped like the skills of issue 18 (the lead's is the real one)."""


@dataclass(frozen=True)
class Case:
    """One labelled utterance."""

    text: str
    """What the user said."""
    intent: str | None
    """The intent it means; None for a near-miss that must stay chat."""


CASES: tuple[Case, ...] = (
    # Paraphrases the templates would miss.
    Case("wake me in ten minutes", "timer.start"),
    Case("give me a heads up in 20 minutes", "timer.start"),
    Case("count down three minutes for the tea", "timer.start"),
    Case("I need a 45 second countdown", "timer.start"),
    Case("could you tell me what hour it is in Paris", "time.now"),
    Case("got the time?", "time.now"),
    Case("what's the time over in New York right now", "time.now"),
    Case("which day of the week is it today", "time.date"),
    Case("what's today's date", "time.date"),
    Case("forget the timer", "timer.cancel"),
    Case("kill the egg timer", "timer.cancel"),
    Case("how long until my timer goes off", "timer.remaining"),
    Case("is the pasta timer almost done", "timer.remaining"),
    Case("don't let me forget to take my pills at 9", "reminder.add"),
    Case("ping me tomorrow morning about the dentist", "reminder.add"),
    Case("make sure I call the bank at noon", "reminder.add"),
    Case("tell me what's in front of the camera", "look.describe"),
    Case("describe the room for me", "look.describe"),
    Case("what does this label say", "look.read"),
    Case("can you read out the text on this page", "look.read"),
    Case("what's 'good night' in French", "translate.say"),
    Case("how would I say 'where is the toilet' in Italian", "translate.say"),
    Case("put bread on the shopping list", "list.add"),
    Case("we're out of coffee, add it to the list", "list.add"),
    Case("what do I still need to buy", "list.show"),
    Case("read me the shopping list", "list.show"),
    Case("turn it up a bit", "control.volume"),
    Case("that's too loud", "control.volume"),
    # Near-misses: about the skills' topics, but not asking for them.
    Case("what's a good timer app", None),
    Case("how do you say hello is a common question", None),
    Case("how long should I boil an egg", None),
    Case("translate is a verb", None),
    Case("why do we have time zones", None),
    Case("who invented the alarm clock", None),
    Case("what is the time complexity of quicksort", None),
    Case("tell me a story about a magic timer", None),
    Case("shopping lists help you save money, right?", None),
    Case("I love reading books", None),
    Case("write a python function that sets a timer", None),
    Case("what does the word 'reminder' mean", None),
    Case("my camera is broken, what should I do", None),
    Case("how many languages are spoken in India", None),
    Case("the volume of a sphere formula", None),
    Case("what is the capital of France", None),
)
"""Paraphrases the sentence templates miss, and near-misses that must stay chat."""


@dataclass(frozen=True)
class Trial:
    """What the model answered for one case."""

    case: Case
    """The utterance and its label."""
    verdict: Verdict | None
    """The model's verdict (None: it could not answer)."""


@dataclass(frozen=True)
class ThresholdScore:
    """How the stage would do at one threshold."""

    threshold: float
    """Lowest confidence acted on."""
    fired: int
    """Utterances it acted on."""
    correct: int
    """Positives it acted on with the right intent."""
    wrong_intent: int
    """Positives it acted on with another intent."""
    near_miss_fires: int
    """Near-misses it acted on (must be 0)."""
    positives: int
    """Positives in the set."""
    near_misses: int
    """Near-misses in the set."""

    @property
    def precision(self) -> float:
        """Right fires over all fires (1 when nothing fired)."""
        return self.correct / self.fired if self.fired else 1.0

    @property
    def recall(self) -> float:
        """Right fires over positives."""
        return self.correct / self.positives if self.positives else 0.0


def shipped_specs(language: str = "en") -> list[IntentSpec]:
    """The catalogue the router tells the model stage: every intent of the shipped
    templates, described by its skill's summary (the skill classes' own attribute)."""
    from assistant.skills import catalogue
    from assistant.skills.templates import Templates

    summaries: dict[str, str] = {}
    for value in vars(catalogue).values():
        name, summary = getattr(value, "name", None), getattr(value, "summary", None)
        if isinstance(value, type) and isinstance(name, str) and isinstance(summary, str):
            summaries[name] = summary
    templates = Templates.load()
    return [
        IntentSpec(
            intent,
            summaries.get(intent.split(".", 1)[0], intent),
            templates.slots(intent, language),
            templates.examples(intent, language),
        )
        for intent in templates.intents(language)
    ]


def missed_by_templates(
    path: Path, specs: Sequence[IntentSpec], language: str = "en"
) -> list[Case]:
    """The labelled set's utterances no shipped template matches: its near-misses, and its
    positives whose intent is in ``specs`` (a skill not shipped yet cannot be chosen)."""
    from assistant.skills.evaluation import load_labelled
    from assistant.skills.templates import Templates

    templates = Templates.load()
    known = {spec.intent for spec in specs}
    return [
        Case(item.text, item.intent)
        for item in load_labelled(path)
        if templates.recognize(item.text, language) is None
        and (item.intent is None or item.intent in known)
    ]


async def measure(
    stage: ModelStage,
    specs: Sequence[IntentSpec],
    cases: Sequence[Case],
    between: Callable[[], Awaitable[None]] | None = None,
) -> list[Trial]:
    """Ask the stage about every case, one after another (threshold not applied);
    ``between`` runs before each (a chat turn that takes the model's KV cache, as in use)."""
    trials = []
    for case in cases:
        if between is not None:
            await between()
        trials.append(Trial(case, await stage.ask(case.text, specs)))
    return trials


def fires(trial: Trial, threshold: float) -> bool:
    """Whether the stage would act on this trial at ``threshold``."""
    verdict = trial.verdict
    return (
        verdict is not None and verdict.intent not in ("", NONE) and verdict.confidence >= threshold
    )


def score(
    trials: Sequence[Trial], thresholds: Sequence[float] = THRESHOLDS
) -> list[ThresholdScore]:
    """Precision, recall and near-miss fires at each threshold."""
    scores = []
    for threshold in thresholds:
        fired = [t for t in trials if fires(t, threshold)]
        correct = sum(1 for t in fired if t.verdict and t.verdict.intent == t.case.intent)
        scores.append(
            ThresholdScore(
                threshold=threshold,
                fired=len(fired),
                correct=correct,
                wrong_intent=sum(1 for t in fired if t.case.intent is not None) - correct,
                near_miss_fires=sum(1 for t in fired if t.case.intent is None),
                positives=sum(1 for t in trials if t.case.intent is not None),
                near_misses=sum(1 for t in trials if t.case.intent is None),
            )
        )
    return scores


def latencies_ms(trials: Sequence[Trial]) -> tuple[float, float]:
    """Median and 90th percentile of the model call, in milliseconds."""
    seconds = [t.verdict.seconds * 1000 for t in trials if t.verdict is not None]
    return percentile(seconds, 50), percentile(seconds, 90)


def scores_table(scores: Sequence[ThresholdScore]) -> str:
    """The per-threshold table in Markdown."""
    return markdown_table(
        ["threshold", "fired", "right", "wrong intent", "near-miss fires", "precision", "recall"],
        [
            [
                f"{s.threshold:.2f}",
                str(s.fired),
                str(s.correct),
                str(s.wrong_intent),
                f"{s.near_miss_fires}/{s.near_misses}",
                f"{s.precision:.3f}",
                f"{s.recall:.3f}",
            ]
            for s in scores
        ],
    )


def trials_table(trials: Sequence[Trial]) -> str:
    """Every answer, for reading the mistakes."""
    rows = []
    for trial in trials:
        verdict = trial.verdict
        rows.append(
            [
                trial.case.text,
                trial.case.intent or "(chat)",
                verdict.intent if verdict else "(failed)",
                f"{verdict.confidence:.3f}" if verdict else "",
                ", ".join(f"{k}={v}" for k, v in verdict.slots.items()) if verdict else "",
                f"{verdict.seconds * 1000:.0f}" if verdict else "",
            ]
        )
    return markdown_table(["utterance", "label", "chosen", "confidence", "slots", "ms"], rows)


async def run(
    models_dir: Path | None,
    model_id: str,
    specs: Sequence[IntentSpec],
    cases: Sequence[Case],
    cold_cases: int,
) -> tuple[list[Trial], list[Trial]]:
    """Measure ``cases`` on an installed model, loaded through the model manager, with the
    system prompt in the KV cache (consecutive requests); then the first ``cold_cases`` of
    them again after a chat turn each (the prompt evaluated again, as when chat and the
    stage take turns on one model)."""
    from benchmarks.common import model_store
    from runtime.llm.base import ChatMessage, GenerationOptions
    from runtime.manager import ModelManager

    manager = ModelManager(model_store(models_dir))

    async def chat_turn() -> None:
        async with manager.use(model_id) as model:
            hello = [ChatMessage("user", "Hello there, how are you today?")]
            once = GenerationOptions(max_tokens=1)
            await asyncio.to_thread(lambda: list(model.stream(hello, once)))

    try:
        stage = ModelStage(manager, model_id)
        await stage.ask("hello", specs)  # load the model and evaluate the system prompt
        warm = await measure(stage, specs, cases)
        cold = await measure(stage, specs, cases[:cold_cases], between=chat_turn)
        return warm, cold
    finally:
        await manager.close()


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(
        __doc__.split("\n")[0], tuning=False, prog="python -m benchmarks.skills_model_stage"
    )
    parser.add_argument("--model", default=MODEL, help=f"chat model id (default {MODEL})")
    parser.add_argument(
        "--labelled",
        type=Path,
        metavar="PATH",
        help="measure a labelled set's template misses with the shipped catalogue",
    )
    parser.add_argument(
        "--after-chat",
        type=int,
        metavar="N",
        help="ask about the first N cases again after a chat turn each (default 8; --quick 2)",
    )
    args = parser.parse_args(argv)
    if args.after_chat is not None and args.after_chat < 1:
        parser.error("--after-chat must be at least 1")
    print(header_line(machine_info(DISTRIBUTIONS)))
    specs: Sequence[IntentSpec] = SPECS
    cases: Sequence[Case] = CASES
    if args.labelled:
        specs = shipped_specs()
        cases = missed_by_templates(args.labelled, specs)
    if args.quick:
        positives = [case for case in cases if case.intent is not None]
        cases = (*positives[:2], *[case for case in cases if case.intent is None][:2])
    progress(f"{len(cases)} utterances through the model stage on {args.model}")
    cold_cases = args.after_chat or (2 if args.quick else 8)
    trials, cold = asyncio.run(run(args.models_dir, args.model, specs, cases, cold_cases))
    scores = score(trials)
    p50, p90 = latencies_ms(trials)
    cold_p50, cold_p90 = latencies_ms(cold)
    print(scores_table(scores))
    print(
        f"\nModel call latency, system prompt cached: p50 {p50:.0f} ms, p90 {p90:.0f} ms"
        f" ({len(trials)} calls); after a chat turn: p50 {cold_p50:.0f} ms,"
        f" p90 {cold_p90:.0f} ms ({len(cold)} calls)\n"
    )
    print(trials_table(trials))
    if args.json:
        write_json(
            args.json,
            {
                "scores": scores,
                "trials": trials,
                "p50_ms": p50,
                "p90_ms": p90,
                "after_chat_p50_ms": cold_p50,
                "after_chat_p90_ms": cold_p90,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
