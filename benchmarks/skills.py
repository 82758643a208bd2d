"""Skills: how fast and how well requests are recognised, and how soon a skill speaks.

Two groups, on the labelled utterance set (tests/skills/data/utterances.yaml) and the
offline models (the second stage, the chat model choosing under a JSON grammar, has its
own: ``python -m benchmarks.skills_model_stage --labelled tests/skills/data/utterances.yaml``):

- ``templates``: the first stage (hassil sentence templates) over every utterance of the
  set, repeated: latency p50/p99 per request (target < 2 ms), and precision/recall per
  skill (no near-miss may fire).
- ``voice``: end of speech -> first audio through the whole voice pipeline (Piper's
  voice fed in real time, VAD, whisper.cpp, the router, Piper, a speaker) for a timer
  request against a question the chat model answers, alternated; a skill should answer
  sooner than the LLM.

    python -m benchmarks.skills [--quick] [--only templates,voice] [--repetitions N]
                                [--json PATH] [--models-dir DIR]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.skills.evaluation import Labelled, Score, load_labelled, score, template_stage
from benchmarks.common import (
    base_parser,
    header_line,
    machine_info,
    markdown_table,
    parse_with_groups,
    percentile,
    progress,
    write_json,
)
from benchmarks.voice import REPLY, pipeline_turn, speak

GROUPS = ("templates", "voice")
UTTERANCES = Path(__file__).parent.parent / "tests" / "skills" / "data" / "utterances.yaml"
TARGET_TEMPLATE_P50_MS = 2.0
SKILL_REQUEST = "Set a timer for five minutes."
CHAT_REQUEST = "What is the capital of France?"


def build(tmp: str, models_dir: Path | None, **overrides: Any) -> tuple[Services, str]:
    """Services on a fresh data directory over the model store, and a user."""
    store = models_dir or Settings.load().models_dir
    settings = Settings.load(data_dir=Path(tmp), models={"dir": store}, **overrides)
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    return services, services.auth.create_user("bench", "benchmark password").id


def score_rows(scores: dict[str, Score]) -> str:
    """Precision, recall and near-misses fired per skill."""
    rows = [
        [
            name,
            f"{s.precision:.2f}",
            f"{s.recall:.2f}",
            str(s.true_positives + s.false_negatives),
            str(len(s.near_miss_fired)),
        ]
        for name, s in scores.items()
    ]
    return markdown_table(["skill", "precision", "recall", "utterances", "near-misses fired"], rows)


def scores_json(scores: dict[str, Score]) -> dict[str, Any]:
    return {
        name: {
            "precision": s.precision,
            "recall": s.recall,
            "true_positives": s.true_positives,
            "false_positives": s.false_positives,
            "false_negatives": s.false_negatives,
            "near_miss_fired": s.near_miss_fired,
        }
        for name, s in scores.items()
    }


def templates(labelled: list[Labelled], repetitions: int) -> dict[str, Any]:
    """The template stage over the set: latency per request and the scores."""
    with tempfile.TemporaryDirectory() as tmp:
        services, _ = build(tmp, None)
        try:
            recognize = template_stage(services.skills)

            times: list[float] = []
            for _ in range(repetitions):
                for item in labelled:
                    started = time.perf_counter()
                    recognize(item.text)
                    times.append(time.perf_counter() - started)
            scores = score(labelled, recognize)
        finally:
            services.close()
    return {"seconds": times, "scores": scores_json(scores), "table": score_rows(scores)}


async def voice(repetitions: int, models_dir: Path | None) -> dict[str, Any]:
    """End of speech -> first audio: a timer request against a chat question."""
    with tempfile.TemporaryDirectory() as tmp:
        services, user_id = build(tmp, models_dir)
        results: dict[str, list[float]] = {"skill": [], "chat": []}
        heard: dict[str, list[str]] = {"skill": [], "chat": []}
        try:
            voice_id = services.voice.preferred_voice(None)
            progress("synthesising the requests")
            spoken = {
                "skill": await asyncio.to_thread(speak, services, voice_id, SKILL_REQUEST),
                "chat": await asyncio.to_thread(speak, services, voice_id, CHAT_REQUEST),
            }
            options = replace(
                services.settings.voice.pipeline_options(push_to_talk=True),
                follow_up_seconds=0,
                chat_options=REPLY,
            )
            progress("loading models and priming the chat")
            await services.loops.warm_up(user_id, options)
            for index in range(repetitions):
                order = ("skill", "chat") if index % 2 == 0 else ("chat", "skill")
                for kind in order:
                    progress(f"round {index + 1}/{repetitions}: {kind}")
                    await services.chat.warm(user_id, spoken=True)
                    turn = await pipeline_turn(services, user_id, spoken[kind])
                    latencies = turn.latencies
                    after = latencies.speech_end_to_first_audio_seconds
                    if after is not None:
                        results[kind].append((latencies.vad_tail_seconds or 0.0) + after)
                    heard[kind].append(turn.first_sentence)
        finally:
            await services.manager.close()
            services.close()
    return {"seconds": results, "first_sentence": heard}


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.2f}" if values else "-"


def report(results: dict[str, Any]) -> str:
    parts = []
    if "templates" in results:
        t = results["templates"]
        p50 = percentile(t["seconds"], 50) * 1000
        parts.append(
            "Template stage (hassil) per request: p50 "
            f"{ms(t['seconds'], 50)} ms, p99 {ms(t['seconds'], 99)} ms"
            f" (target p50 < {TARGET_TEMPLATE_P50_MS} ms: "
            f"{'met' if p50 < TARGET_TEMPLATE_P50_MS else 'missed'})\n\n{t['table']}"
        )
    if "voice" in results:
        v = results["voice"]["seconds"]
        rows = [
            [label, ms(v[kind], 50), ms(v[kind], 95), str(len(v[kind]))]
            for label, kind in (
                (f"skill: {SKILL_REQUEST!r}", "skill"),
                (f"chat: {CHAT_REQUEST!r}", "chat"),
            )
        ]
        table = markdown_table(["end of speech -> first audio (ms)", "p50", "p95", "turns"], rows)
        parts.append(table)
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], GROUPS, tuning=False)
    args, groups = parse_with_groups(parser, argv, GROUPS)
    info = machine_info(["hassil", "llama-cpp-python", "pywhispercpp", "piper-tts"])
    print(header_line(info))
    labelled = load_labelled(UTTERANCES)
    results: dict[str, Any] = {}
    if "templates" in groups:
        progress("template stage")
        results["templates"] = templates(labelled, args.repetitions or (2 if args.quick else 20))
    if "voice" in groups:
        results["voice"] = asyncio.run(
            voice(args.repetitions or (1 if args.quick else 6), args.models_dir)
        )
    print(report(results))
    if args.json:
        write_json(args.json, {"machine": info, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
