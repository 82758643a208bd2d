"""End of turn, measured: fixed silences against the adaptive end of turn.

``python -m benchmarks.voice --endpointing`` runs this. The labelled pause set
(``tests/voice/data/pauses.yaml``: requests with one place where the speaker pauses, and
what kind of place) is spoken by Piper (noise off: the same audio every run) and by
espeak-ng, with pauses of 0.3-1.2 s put at that place, in digital silence and over a
quiet noise floor. Piper speaks the two parts on their own and they are joined by the
pause; espeak-ng speaks the whole request with an SSML break there, the break then cut
to the pause (its intonation runs on across the pause, as a speaker's does). The
synthesised audio is cached in the temporary directory.

Each turn goes frame by frame through the real Silero VAD and the segmenter, as the
listener feeds them. Under the adaptive policy, once the silence after speech reaches
``speculate_after_seconds`` the audio so far (from the command's start, with the
listener's pre-roll) is transcribed by the real whisper.cpp model, the transcript is
judged (``assistant.voice.endofturn``), and the silence it requires is handed to the
segmenter when the transcription is done (its measured time later; not at all if speech
came back meanwhile, as the listener does). A row with "STT time 0" hands it over at
once: what the rules alone give.

A turn is cut off when it ends before its last word (at its pause: the rest is lost);
the delay runs from the real end of speech to the end of the turn, over the turns not
cut off.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
import subprocess
import tempfile
import time
import wave
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from assistant.auth import PasswordHasher
from assistant.services import build_services
from assistant.settings import Settings
from assistant.voice.endofturn import (
    EndOfTurnOptions,
    TurnCompleteness,
    judge,
    required_silence,
)
from assistant.voice.options import PipelineOptions
from assistant.voice.segmenter import SegmenterOutcome, VoiceCommandSegmenter
from benchmarks.common import markdown_table, percentile, progress
from hal.audio import AudioChunk
from hal.audio.convert import convert
from runtime.engines import Capability
from runtime.stt.base import SpeechToText, TranscribeOptions
from runtime.tts.base import SynthesisOptions
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.framing import PcmFramer

Samples = npt.NDArray[np.float32]
"""Mono audio as floats in [-1, 1]."""

RATE = 16_000
PAUSE_SET = Path(__file__).parent.parent / "tests" / "voice" / "data" / "pauses.yaml"
PAUSES_SECONDS = (0.3, 0.45, 0.6, 0.75, 0.9, 1.2)
"""Pauses put at each turn's pause place."""
QUICK_PAUSES_SECONDS = (0.45, 1.2)
"""The pauses of a ``--quick`` run (one turn of each kind)."""
NOISE_FLOORS_DB = (None, -50.0)
"""Digital silence, and a quiet room's noise floor (RMS, dB below full scale)."""
ESPEAK_VOICES = ("en-us",)
"""espeak-ng voices that speak the set besides Piper."""
REPEATABLE = {"noise_scale": 0.0, "noise_w_scale": 0.0}
"""Piper without its generator and duration noise: the same audio every run."""
LEAD_SILENCE_SECONDS = 0.5
TRAIL_SILENCE_SECONDS = 2.5
BREAK_MS = 2000
"""The SSML break espeak-ng speaks at the pause place, found and cut to the pause."""
CACHE = Path(tempfile.gettempdir()) / "assistant-benchmark-pauses"
"""Where synthesised parts are kept between runs."""
FIXED_SILENCES = (0.6, 0.8)
"""Fixed tails compared (0.8 s is the default ``silence_seconds``)."""
SWEEP_COMPLETE_SECONDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
SWEEP_INCOMPLETE_SECONDS = (1.0, 1.3, 1.5)
"""The adaptive tails tried besides the defaults (the transcripts are reused: no more
whisper calls), to choose the defaults by."""


@dataclass(frozen=True)
class PausedTurn:
    """A request from the pause set, with the place where its speaker pauses."""

    before: str
    """Words before the pause."""
    after: str
    """Words after it."""
    kind: str
    """conjunction, mid-clause, clauses or complete (see the set's header)."""

    @property
    def text(self) -> str:
        return f"{self.before} {self.after}"


def load_pause_set(path: Path = PAUSE_SET) -> list[PausedTurn]:
    """The labelled turns of the pause set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    turns = []
    for item in data["turns"]:
        before, after = (part.strip() for part in str(item["text"]).split("|"))
        turns.append(PausedTurn(before, after, str(item["kind"])))
    return turns


@dataclass(frozen=True)
class SpokenTurn:
    """A turn as audio, with its pause and its real end of speech."""

    turn: PausedTurn
    voice: str
    noise_db: float | None
    pause_seconds: float
    samples: Samples
    pause_end_seconds: float
    """Where speech resumes after the pause."""
    speech_end_seconds: float
    """Where its last word ends."""


def trimmed(samples: Samples) -> Samples:
    """Without the quiet the voice leaves before and after the words."""
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def wav_samples(wav: bytes) -> Samples:
    """A WAV file's audio, mono 16 kHz."""
    with wave.open(io.BytesIO(wav)) as reader:
        chunk = AudioChunk(reader.readframes(reader.getnframes()), reader.getframerate())
    return convert(chunk, RATE).samples()


def cached(key: str, make: Callable[[], Samples]) -> Samples:
    """``make()``, kept on disk under ``key`` so later runs skip the synthesis."""
    path = CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    samples = make().astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, samples)
    return samples


def espeak_parts(voice: str, turn: PausedTurn) -> tuple[Samples, Samples]:
    """The request in one breath with a long SSML break at the pause, cut at the break."""
    ssml = f'<speak>{turn.before} <break time="{BREAK_MS}ms"/> {turn.after}</speak>'
    wav = subprocess.run(
        ["espeak-ng", "-m", "-z", "-v", voice, "--stdout", ssml], capture_output=True, check=True
    ).stdout
    samples = trimmed(wav_samples(wav))
    quiet = np.abs(samples) <= 0.003
    # The longest run of quiet is the break.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    if (ends[longest] - starts[longest]) < BREAK_MS / 1000 * RATE * 0.8:
        raise RuntimeError(f"espeak-ng left no break in {turn.text!r}")
    return samples[: starts[longest]], samples[ends[longest] :]


def assembled(
    parts: tuple[Samples, Samples], pause: float, noise_db: float | None, seed: int
) -> tuple[Samples, float, float]:
    """Lead silence, the parts with the pause between them, trailing silence, noise."""
    first, second = parts
    lead = np.zeros(int(LEAD_SILENCE_SECONDS * RATE), np.float32)
    gap = np.zeros(int(pause * RATE), np.float32)
    trail = np.zeros(int(TRAIL_SILENCE_SECONDS * RATE), np.float32)
    samples = np.concatenate([lead, first, gap, second, trail])
    pause_end = (lead.size + first.size + gap.size) / RATE
    speech_end = pause_end + second.size / RATE
    if noise_db is not None:
        # The same noise for the same turn and voice: the audio up to the pause (and so
        # its transcript) is the same at every pause length.
        rng = np.random.default_rng(seed)
        samples = samples + rng.normal(0, 10 ** (noise_db / 20), samples.size).astype(np.float32)
    return np.clip(samples, -1, 1).astype(np.float32), pause_end, speech_end


def probabilities(vad: VoiceActivityDetector, samples: Samples) -> list[float]:
    """The VAD's speech probability of each frame, from a fresh state."""
    vad.reset()
    framer = PcmFramer(vad.frame_samples, vad.sample_rate)
    frames = framer.push(AudioChunk.from_samples(samples, RATE))
    return [vad.probability(frame) for frame in frames]


@dataclass
class Transcriber:
    """Whisper on audio so far, each distinct clip transcribed once (timed)."""

    stt: SpeechToText
    seen: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Transcript and seconds taken, by a hash of the clip."""

    def __call__(self, samples: Samples) -> tuple[str, float]:
        key = hashlib.sha256(samples.tobytes()).hexdigest()
        if key not in self.seen:
            started = time.perf_counter()
            transcript = self.stt.transcribe(
                AudioChunk.from_samples(samples, RATE), TranscribeOptions(language="en")
            )
            self.seen[key] = (transcript.text.strip(), time.perf_counter() - started)
        return self.seen[key]

    def load(self, path: Path) -> None:
        """Reuse the transcripts saved in ``path`` (if it exists)."""
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.seen.update({key: (text, float(took)) for key, (text, took) in saved.items()})

    def save(self, path: Path) -> None:
        """Keep the transcripts in ``path``."""
        path.write_text(json.dumps(self.seen), encoding="utf-8")


@dataclass(frozen=True)
class Judged:
    """One speculative transcript and what the rules made of it."""

    transcript: str
    judgement: TurnCompleteness
    at_pause: bool
    """Taken before the turn's last word: in its pause, or as speech resumed after it
    (else after the last word)."""
    stt_seconds: float


@dataclass(frozen=True)
class Ending:
    """Where a policy ended one turn."""

    outcome: SegmenterOutcome | None
    position_seconds: float
    judged: tuple[Judged, ...] = ()


def end_of_turn(
    chances: Sequence[float],
    frame_seconds: float,
    spoken: SpokenTurn,
    options: PipelineOptions,
    transcribe: Callable[[Samples], tuple[str, float]] | None,
    *,
    stt_time: bool = True,
) -> Ending:
    """Where the listener's segmenter ends ``spoken``; adaptive when ``transcribe`` is given."""
    segmenter = VoiceCommandSegmenter(options.segmenter_options(options.listen_seconds))
    eot = options.end_of_turn
    judged: list[Judged] = []
    speculated_for: float | None = None  # speech end of the silence already speculated on
    pending: tuple[float, float | None, float] | None = None  # (due, speech end, silence)
    for chance in chances:
        if not segmenter.process(frame_seconds, chance >= options.vad_threshold):
            break
        if transcribe is None:
            continue
        position, speech_end = segmenter.position_seconds, segmenter.speech_end_seconds
        if pending is not None and position >= pending[0] - 1e-9:
            # The transcript is in: its silence holds if no speech came since it was taken.
            if pending[1] == speech_end:
                segmenter.require_silence(pending[2])
            pending = None
        if (
            segmenter.in_command
            and speech_end != speculated_for
            and segmenter.trailing_silence_seconds >= eot.speculate_after_seconds - 1e-9
        ):
            speculated_for = speech_end
            start = max(0.0, (segmenter.command_start_seconds or 0.0) - options.pre_roll_seconds)
            audio = spoken.samples[int(start * RATE) : int(position * RATE)]
            text, seconds = transcribe(audio)
            judgement = judge(text)
            at_pause = position < spoken.speech_end_seconds
            judged.append(Judged(text, judgement, at_pause, seconds))
            silence = required_silence(text, eot)
            pending = (position + (seconds if stt_time else 0.0), speech_end, silence)
            if not stt_time:
                segmenter.require_silence(silence)
                pending = None
    return Ending(segmenter.outcome, segmenter.position_seconds, tuple(judged))


async def speak_set(
    services: Any,
    turns: Sequence[PausedTurn],
    espeak_voices: Sequence[str],
    pauses: Sequence[float] = PAUSES_SECONDS,
) -> list[SpokenTurn]:
    """Every turn in every voice, at every pause, over every noise floor."""
    from runtime.tts.piper import PiperTextToSpeech

    voice_id = services.voice.preferred_voice(None)
    folder = services.models.require(voice_id).path
    piper: PiperTextToSpeech | None = None

    def piper_part(text: str) -> Samples:
        nonlocal piper
        if piper is None:
            piper = PiperTextToSpeech.load(voice_id, folder, {"threads": 1, **REPEATABLE})
        chunks = piper.synthesize(text, SynthesisOptions())
        return trimmed(np.concatenate([convert(c, RATE).samples() for c in chunks]))

    voices: dict[str, Callable[[PausedTurn], tuple[Samples, Samples]]] = {
        voice_id: lambda turn: (
            cached(f"{voice_id}|{REPEATABLE}|{turn.before}", lambda: piper_part(turn.before)),
            cached(f"{voice_id}|{REPEATABLE}|{turn.after}", lambda: piper_part(turn.after)),
        )
    }
    if shutil.which("espeak-ng"):
        for name in espeak_voices:

            def espeak(turn: PausedTurn, name: str = name) -> tuple[Samples, Samples]:
                key = f"espeak-ng|{name}|{turn.before}|{turn.after}"
                first = cached(key + "|1", lambda: espeak_parts(name, turn)[0])
                return first, cached(key + "|2", lambda: espeak_parts(name, turn)[1])

            voices[f"espeak-ng {name}"] = espeak
    spoken = []
    try:
        for voice_index, (voice, parts_of) in enumerate(voices.items()):
            progress(f"speaking {len(turns)} turns in {voice}")
            for turn_index, turn in enumerate(turns):
                parts = await asyncio.to_thread(parts_of, turn)
                for noise in NOISE_FLOORS_DB:
                    for pause in pauses:
                        seed = voice_index * 1000 + turn_index
                        samples, pause_end, end = assembled(parts, pause, noise, seed)
                        spoken.append(
                            SpokenTurn(turn, voice, noise, pause, samples, pause_end, end)
                        )
    finally:
        if piper is not None:
            piper.close()
    return spoken


POLICIES = ("fixed 0.6 s", "fixed 0.8 s (today)", "adaptive", "adaptive, STT time 0")


async def endpointing(
    quick: bool,
    models_dir: Path | None,
    espeak_voices: Sequence[str] = ESPEAK_VOICES,
    transcripts: Path | None = None,
    turn_count: int | None = None,
) -> dict[str, Any]:
    """Cut-offs, end-of-turn delay and judgements of each policy on the pause set.

    ``transcripts``: a JSON file of earlier transcripts (and their times) to reuse and
    extend, for trying rules without waiting for whisper again; not for measuring.
    ``turn_count``: only the first turns of the set (of the quick set: one per kind), for
    a smoke run; each is spoken in every voice, at every pause, over every noise floor.
    """
    turns = load_pause_set()
    if quick:  # the first turn of each kind
        turns = list({turn.kind: turn for turn in reversed(turns)}.values())
    turns = turns[:turn_count]
    with tempfile.TemporaryDirectory() as tmp:
        store = models_dir or Settings.load().models_dir
        settings = Settings.load(data_dir=Path(tmp), models={"dir": store})
        services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
        adaptive = settings.voice.pipeline_options()
        try:
            pauses = QUICK_PAUSES_SECONDS if quick else PAUSES_SECONDS
            spoken = await speak_set(services, turns, espeak_voices, pauses)
            vad_id = services.voice.model_for(Capability.VAD)
            stt_id = services.voice.model_for(Capability.STT)
            progress(f"running {vad_id} over {len(spoken)} turns")
            async with services.manager.use(vad_id) as vad:
                frame_seconds = vad.frame_samples / vad.sample_rate
                chances = [
                    await asyncio.to_thread(probabilities, vad, turn.samples) for turn in spoken
                ]
            progress(f"ending them with each policy ({stt_id} for the adaptive one)")
            endings: dict[str, list[Ending]] = {policy: [] for policy in POLICIES}
            async with services.manager.use(stt_id) as stt:
                transcriber = Transcriber(stt)
                if transcripts is not None:
                    transcriber.load(transcripts)
                for index, (turn, chance) in enumerate(zip(spoken, chances, strict=True)):
                    for silence, policy in zip(FIXED_SILENCES, POLICIES, strict=False):
                        fixed = PipelineOptions(silence_seconds=silence)
                        endings[policy].append(
                            end_of_turn(chance, frame_seconds, turn, fixed, None)
                        )
                    endings["adaptive"].append(
                        await asyncio.to_thread(
                            end_of_turn, chance, frame_seconds, turn, adaptive, transcriber
                        )
                    )
                    endings["adaptive, STT time 0"].append(
                        end_of_turn(
                            chance, frame_seconds, turn, adaptive, transcriber, stt_time=False
                        )
                    )
                    if index % 50 == 49:
                        progress(f"{index + 1}/{len(spoken)} turns")
                if transcripts is not None:
                    transcriber.save(transcripts)
                progress("sweeping the adaptive tails")
                sweep: dict[str, dict[str, list[Ending]]] = {}
                for complete in SWEEP_COMPLETE_SECONDS:
                    for incomplete in SWEEP_INCOMPLETE_SECONDS:
                        eot = replace(
                            adaptive.end_of_turn,
                            complete_silence_seconds=complete,
                            incomplete_silence_seconds=incomplete,
                        )
                        options = replace(adaptive, end_of_turn=eot)
                        sweep[f"{complete} / {incomplete}"] = {
                            timing: [
                                end_of_turn(
                                    chance,
                                    frame_seconds,
                                    turn,
                                    options,
                                    transcriber,
                                    stt_time=timing == "measured",
                                )
                                for turn, chance in zip(spoken, chances, strict=True)
                            ]
                            for timing in ("measured", "instant")
                        }
        finally:
            await services.manager.close()
            services.close()
    results = summary(spoken, endings, vad_id, stt_id, adaptive.end_of_turn)
    results["sweep"] = {
        tails: {
            timing: {
                "cut_off": cut_off(spoken, ends)[0],
                "delay_seconds": [
                    ending.position_seconds - turn.speech_end_seconds
                    for turn, ending in zip(spoken, ends, strict=True)
                    if not is_cut_off(turn, ending)
                ],
            }
            for timing, ends in timings.items()
        }
        for tails, timings in sweep.items()
    }
    return results


def is_cut_off(turn: SpokenTurn, ending: Ending) -> bool:
    """The turn ended before its last word."""
    ended = ending.outcome is SegmenterOutcome.SPEECH_ENDED
    return ended and ending.position_seconds < turn.speech_end_seconds


def cut_off(spoken: Sequence[SpokenTurn], ends: Sequence[Ending]) -> tuple[int, Counter[str]]:
    """Turns cut off, in all and by kind."""
    kinds = Counter(t.turn.kind for t, e in zip(spoken, ends, strict=True) if is_cut_off(t, e))
    return sum(kinds.values()), kinds


def summary(
    spoken: Sequence[SpokenTurn],
    endings: dict[str, list[Ending]],
    vad_id: str,
    stt_id: str,
    options: EndOfTurnOptions,
) -> dict[str, Any]:
    """The measures of each policy, JSON-ready."""
    policies: dict[str, Any] = {}
    for policy, ends in endings.items():
        cut_by_pause: Counter[str] = Counter()
        cut_by_kind: Counter[str] = Counter()
        delays: list[float] = []
        for turn, ending in zip(spoken, ends, strict=True):
            if is_cut_off(turn, ending):
                cut_by_pause[str(turn.pause_seconds)] += 1
                cut_by_kind[turn.turn.kind] += 1
            else:
                delays.append(ending.position_seconds - turn.speech_end_seconds)
        judgements: Counter[str] = Counter()
        for turn, ending in zip(spoken, ends, strict=True):
            for judged in ending.judged:
                where = turn.turn.kind if judged.at_pause else "end"
                judgements[f"{where}|{judged.judgement}"] += 1
        policies[policy] = {
            "cut_off": sum(cut_by_pause.values()),
            "cut_off_by_pause": dict(cut_by_pause),
            "cut_off_by_kind": dict(cut_by_kind),
            "delay_seconds": delays,
            "judgements": dict(judgements),
        }
    transcripts = sorted(
        {
            (turn.turn.kind if judged.at_pause else "end", judged.transcript, judged.judgement)
            for turn, ending in zip(spoken, endings["adaptive"], strict=True)
            for judged in ending.judged
        }
    )
    stt_seconds = [judged.stt_seconds for ending in endings["adaptive"] for judged in ending.judged]
    return {
        "vad": vad_id,
        "stt": stt_id,
        "voices": sorted({turn.voice for turn in spoken}),
        "noise_floors_db": list(NOISE_FLOORS_DB),
        "pauses_seconds": sorted({turn.pause_seconds for turn in spoken}),
        "turns": len(spoken),
        "turns_by_kind": dict(Counter(turn.turn.kind for turn in spoken)),
        "turns_per_pause": len(spoken) // len({turn.pause_seconds for turn in spoken}),
        "end_of_turn": {
            "speculate_after_seconds": options.speculate_after_seconds,
            "complete_silence_seconds": options.complete_silence_seconds,
            "unsure_silence_seconds": options.unsure_silence_seconds,
            "incomplete_silence_seconds": options.incomplete_silence_seconds,
        },
        "policies": policies,
        "speculative_stt_seconds": stt_seconds,
        "transcripts": [list(item) for item in transcripts],
    }


def cells(values: Sequence[float]) -> list[str]:
    """p50 and p95 of seconds, in milliseconds."""
    if not values:
        return ["-", "-"]
    return [f"{percentile(values, q) * 1000:.0f}" for q in (50, 95)]


def endpointing_report(results: dict[str, Any]) -> str:
    """Markdown: cut-offs and delay per policy, by pause and by kind, and the judgements."""
    per_pause = results["turns_per_pause"]
    total = results["turns"]
    pauses = [str(pause) for pause in results["pauses_seconds"]]
    rows = []
    for policy, row in results["policies"].items():
        rows.append(
            [
                policy,
                f"{row['cut_off']}/{total}",
                *(f"{row['cut_off_by_pause'].get(p, 0)}/{per_pause}" for p in pauses),
                *cells(row["delay_seconds"]),
            ]
        )
    headers = [
        "policy",
        "cut off",
        *(f"at {pause} s pause" for pause in pauses),
        "end-of-turn delay p50 (ms)",
        "p95 (ms)",
    ]
    by_pause = markdown_table(headers, rows)
    kinds = list(results["turns_by_kind"])
    by_kind = markdown_table(
        ["policy", *(f"cut off: {kind}" for kind in kinds)],
        [
            [
                policy,
                *(
                    f"{row['cut_off_by_kind'].get(kind, 0)}/{results['turns_by_kind'][kind]}"
                    for kind in kinds
                ),
            ]
            for policy, row in results["policies"].items()
        ],
    )
    judged = results["policies"]["adaptive"]["judgements"]
    places = [*kinds, "end"]
    verdicts = [str(verdict) for verdict in TurnCompleteness]
    judgements = markdown_table(
        ["transcript taken", *verdicts],
        [
            [
                f"in the pause: {place}" if place != "end" else "after the last word",
                *(str(judged.get(f"{place}|{verdict}", 0)) for verdict in verdicts),
            ]
            for place in places
        ],
    )
    sweep = markdown_table(
        [
            "adaptive: complete / incomplete tail (s)",
            "cut off",
            "delay p50 (ms)",
            "p95 (ms)",
            "STT time 0: cut off",
            "delay p50 (ms)",
            "p95 (ms)",
        ],
        [
            [
                tails,
                *(
                    cell
                    for timing in ("measured", "instant")
                    for cell in (
                        f"{row[timing]['cut_off']}/{total}",
                        *cells(row[timing]["delay_seconds"]),
                    )
                ),
            ]
            for tails, row in results.get("sweep", {}).items()
        ],
    )
    eot = results["end_of_turn"]
    return (
        f"{by_pause}\n\n{by_kind}\n\n{judgements}\n\n{sweep}\n\n"
        f"VAD {results['vad']}, STT {results['stt']}; voices {', '.join(results['voices'])};"
        f" noise floors {results['noise_floors_db']} dBFS; {total} turns. Adaptive: transcript"
        f" after {eot['speculate_after_seconds']} s of silence, then"
        f" {eot['complete_silence_seconds']} / {eot['unsure_silence_seconds']} /"
        f" {eot['incomplete_silence_seconds']} s for complete / unsure / incomplete;"
        f" speculative STT p50/p95 {' / '.join(cells(results['speculative_stt_seconds']))} ms."
        " A cut-off ends the turn in its pause (the rest is lost); the delay runs from the"
        " real end of speech to the end of the turn, over the turns not cut off."
    )
