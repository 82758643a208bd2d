"""What the voice pipeline tells the world: stages, timed events, and latencies from them.

Every event is a frozen dataclass carrying the id of its run and a timestamp (seconds from
the pipeline's monotonic clock). One run is one turn, in this order (HA's assist
pipeline, with chat in place of intent and TTS streamed sentence by sentence)::

    run-start
      wake-word-start, wake-word-end            (not when push-to-talk or a follow-up starts it)
      stt-start, stt-vad-start, stt-vad-end, stt-end
      stt-speculation...                        (when speculation is on: started and
                                                 dropped while the silence runs, at most
                                                 one hit or miss right after stt-vad-end)
      chat-start, chat-delta..., chat-end       (tts-* interleave: speech starts at the
      tts-start, tts-audio..., tts-end          first sentence, not at chat-end)
      ... one tts-start/tts-audio/tts-end group per sentence
      error                                     (at most one, then run-end)
      engine-fallback                           (any time a remote engine is down and a
                                                 local model stands in)
    run-end
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar


class PipelineStage(StrEnum):
    """The stages of a run."""

    WAKE_WORD = "wake-word"
    STT = "stt"
    CHAT = "chat"
    TTS = "tts"


class PipelineEventType(StrEnum):
    """The kinds of event."""

    RUN_START = "run-start"
    RUN_END = "run-end"
    WAKE_WORD_START = "wake-word-start"
    WAKE_WORD_END = "wake-word-end"
    STT_START = "stt-start"
    STT_VAD_START = "stt-vad-start"
    STT_VAD_END = "stt-vad-end"
    STT_END = "stt-end"
    STT_SPECULATION = "stt-speculation"
    CHAT_START = "chat-start"
    CHAT_DELTA = "chat-delta"
    CHAT_END = "chat-end"
    SKILL = "skill"
    TTS_START = "tts-start"
    TTS_AUDIO = "tts-audio"
    TTS_END = "tts-end"
    ERROR = "error"
    ENGINE_FALLBACK = "engine-fallback"


class ListenTrigger(StrEnum):
    """What made the pipeline listen for a command."""

    WAKE_WORD = "wake-word"
    """The wake word (also as barge-in while the assistant spoke)."""
    PUSH_TO_TALK = "push-to-talk"
    """``start_listening()`` (a button)."""
    SPEECH = "speech"
    """Speech while the assistant spoke (barge-in on speech)."""
    FOLLOW_UP = "follow-up"
    """The follow-up window after a reply."""
    AUDIO = "audio"
    """A whole recording handed to ``run_once``."""


class RunOutcome(StrEnum):
    """How a run ended."""

    COMPLETED = "completed"
    """The reply was spoken to the end."""
    INTERRUPTED = "interrupted"
    """Barge-in: the user cut the reply short and a new run started."""
    NO_SPEECH = "no-speech"
    """Nobody spoke in the listening window."""
    ERROR = "error"
    """A stage failed (an ``error`` event came before)."""
    CANCELLED = "cancelled"
    """The pipeline stopped (the microphone ended or ``run`` was cancelled)."""


class SpeculationOutcome(StrEnum):
    """What became of a speculative transcription (and the chat turn started on it)."""

    STARTED = "started"
    """The silence after speech reached ``speculate_after_seconds``: what was said so far
    is transcribed (and answered, unheard) while the silence runs on."""
    DROPPED = "dropped"
    """Speech resumed (or the window closed without a command): thrown away."""
    HIT = "hit"
    """The command ended as transcribed: its transcript (and the reply already under way)
    is used."""
    MISS = "miss"
    """The command's final transcript differs: the speculative turn was cancelled and the
    command is answered afresh."""


class ErrorCode(StrEnum):
    """What failed, one or more per stage."""

    WAKE_WORD_FAILED = "wake-word-failed"
    """The wake-word detector raised."""
    VAD_FAILED = "stt-vad-failed"
    """The voice-activity detector raised."""
    STT_FAILED = "stt-failed"
    """Speech to text raised."""
    STT_NO_TEXT = "stt-no-text-recognized"
    """Speech to text heard nothing it could write down."""
    CHAT_FAILED = "chat-failed"
    """The chat service raised."""
    TTS_FAILED = "tts-failed"
    """Text to speech raised."""
    PLAYBACK_FAILED = "tts-playback-failed"
    """The speaker raised."""


@dataclass(frozen=True, kw_only=True)
class _Event:
    type: ClassVar[PipelineEventType]

    run_id: str
    """The run (one turn) the event belongs to."""
    timestamp: float
    """Seconds on the pipeline's monotonic clock."""

    def to_dict(self, *, timestamps: bool = True) -> dict[str, Any]:
        """JSON-ready form: ``type``, ``run_id``, ``timestamp`` (unless left out), fields."""
        data: dict[str, Any] = {"type": str(self.type)}
        for item in fields(self):
            if item.name == "timestamp" and not timestamps:
                continue
            value = getattr(self, item.name)
            data[item.name] = str(value) if isinstance(value, StrEnum) else value
        return data


@dataclass(frozen=True, kw_only=True)
class RunStart(_Event):
    """A run began."""

    type: ClassVar[PipelineEventType] = PipelineEventType.RUN_START
    start_stage: PipelineStage
    """Wake word (waiting for it) or STT (listening straight away)."""
    conversation_id: str | None
    """The conversation the turn continues; None until the chat service starts one."""


@dataclass(frozen=True, kw_only=True)
class RunEnd(_Event):
    """A run ended."""

    type: ClassVar[PipelineEventType] = PipelineEventType.RUN_END
    outcome: RunOutcome
    """How."""


@dataclass(frozen=True, kw_only=True)
class WakeWordStart(_Event):
    """Listening for the wake word began."""

    type: ClassVar[PipelineEventType] = PipelineEventType.WAKE_WORD_START


@dataclass(frozen=True, kw_only=True)
class WakeWordEnd(_Event):
    """The wake word was heard (or push-to-talk pre-empted it: ``word`` is None)."""

    type: ClassVar[PipelineEventType] = PipelineEventType.WAKE_WORD_END
    word: str | None
    """Which wake word."""
    score: float | None
    """The detector's score."""


@dataclass(frozen=True, kw_only=True)
class SttStart(_Event):
    """Listening for the command began."""

    type: ClassVar[PipelineEventType] = PipelineEventType.STT_START
    trigger: ListenTrigger
    """Why."""
    language: str | None
    """Language asked of speech to text; None: detect."""


@dataclass(frozen=True, kw_only=True)
class SttVadStart(_Event):
    """Speech began."""

    type: ClassVar[PipelineEventType] = PipelineEventType.STT_VAD_START
    offset_seconds: float
    """Where, in seconds of audio since listening began."""


@dataclass(frozen=True, kw_only=True)
class SttVadEnd(_Event):
    """The command is over (silence, length limit or push-to-talk release)."""

    type: ClassVar[PipelineEventType] = PipelineEventType.STT_VAD_END
    offset_seconds: float
    """When it was decided, in seconds of audio since listening began."""
    speech_end_seconds: float
    """Where the last speech ended, same scale (the gap to ``offset_seconds`` is the VAD
    tail)."""
    timed_out: bool
    """Cut at the longest command allowed."""


@dataclass(frozen=True, kw_only=True)
class SttEnd(_Event):
    """The command was transcribed."""

    type: ClassVar[PipelineEventType] = PipelineEventType.STT_END
    text: str
    """What was said."""
    language: str
    """Language spoken."""
    audio_seconds: float
    """Length of the audio transcribed."""


@dataclass(frozen=True, kw_only=True)
class SttSpeculation(_Event):
    """A speculative transcription started, was dropped, hit or missed (benchmarks count
    the hits and misses)."""

    type: ClassVar[PipelineEventType] = PipelineEventType.STT_SPECULATION
    outcome: SpeculationOutcome
    """What happened to it."""
    speech_end_seconds: float
    """Where the speech it transcribes ended, in seconds of audio since listening began."""
    text: str | None
    """Its transcript; None until there is one (started, dropped early)."""
    chat: bool
    """A chat turn ran on it, unheard (a hit keeps it: the reply is ready sooner)."""
    retranscribed: bool
    """Speech came after it before the command ended: the command was transcribed again
    and compared (always False but for hits and misses)."""


@dataclass(frozen=True, kw_only=True)
class ChatStart(_Event):
    """The transcript went to the chat service."""

    type: ClassVar[PipelineEventType] = PipelineEventType.CHAT_START
    text: str
    """The user's turn."""
    conversation_id: str | None
    """The conversation continued; None starts one."""


@dataclass(frozen=True, kw_only=True)
class ChatProgress(_Event):
    """New text of the reply (``chat-delta``; the engine's own deltas are
    ``runtime.llm.base.ChatDelta``)."""

    type: ClassVar[PipelineEventType] = PipelineEventType.CHAT_DELTA
    text: str
    """The piece."""


@dataclass(frozen=True, kw_only=True)
class ChatEnd(_Event):
    """The reply is complete."""

    type: ClassVar[PipelineEventType] = PipelineEventType.CHAT_END
    conversation_id: str | None
    """The conversation (kept for the next turn); None if the chat service named none."""
    text: str
    """The whole reply."""
    finish_reason: str
    """stop, length or cancelled."""


@dataclass(frozen=True, kw_only=True)
class SkillChosen(_Event):
    """A skill answered the command instead of the chat model (just before ``chat-end``)."""

    type: ClassVar[PipelineEventType] = PipelineEventType.SKILL
    name: str
    """The skill (``timer``)."""
    intent: str
    """The intent recognised (``timer.start``)."""
    stage: str
    """``template`` or ``model``: which stage chose it."""
    confidence: float
    """1.0 for a template; the model's probability for the model stage."""
    arguments: dict[str, Any]
    """The typed arguments it ran with."""
    question: bool
    """It asked back instead of acting (a slot could not be understood)."""


@dataclass(frozen=True, kw_only=True)
class TtsStart(_Event):
    """Synthesis of one sentence began."""

    type: ClassVar[PipelineEventType] = PipelineEventType.TTS_START
    sentence: int
    """Index of the sentence in the reply, from 0."""
    text: str
    """The sentence."""


@dataclass(frozen=True, kw_only=True)
class TtsAudio(_Event):
    """A chunk of speech is ready for the speaker."""

    type: ClassVar[PipelineEventType] = PipelineEventType.TTS_AUDIO
    sentence: int
    """Index of its sentence."""
    audio_seconds: float
    """Its length."""
    rate: int
    """Its sample rate."""


@dataclass(frozen=True, kw_only=True)
class TtsEnd(_Event):
    """Synthesis of one sentence finished."""

    type: ClassVar[PipelineEventType] = PipelineEventType.TTS_END
    sentence: int
    """Index of the sentence."""
    audio_seconds: float
    """Speech made for it."""


@dataclass(frozen=True, kw_only=True)
class StageFailed(_Event):
    """A stage failed; the run ends next and the pipeline waits again."""

    type: ClassVar[PipelineEventType] = PipelineEventType.ERROR
    stage: PipelineStage
    """Which stage."""
    code: ErrorCode
    """What failed."""
    message: str
    """Human-readable detail."""
    cause: str | None = None
    """The code of the runtime's error (``model-not-installed``...), when it was one."""


@dataclass(frozen=True, kw_only=True)
class EngineFallback(_Event):
    """A remote engine was down: a local model of the same capability stands in for it."""

    type: ClassVar[PipelineEventType] = PipelineEventType.ENGINE_FALLBACK
    requested: str
    """The remote model the pipeline asked for."""
    used: str
    """The local model that serves instead."""
    reason: str
    """Why the remote one could not."""


PipelineEvent = (
    RunStart
    | RunEnd
    | WakeWordStart
    | WakeWordEnd
    | SttStart
    | SttVadStart
    | SttVadEnd
    | SttEnd
    | SttSpeculation
    | ChatStart
    | ChatProgress
    | ChatEnd
    | SkillChosen
    | TtsStart
    | TtsAudio
    | TtsEnd
    | StageFailed
    | EngineFallback
)
"""Any event of the pipeline."""


def strip_timestamps(events: Iterable[PipelineEvent]) -> list[dict[str, Any]]:
    """The events as dicts without their timestamps (snapshot tests, logs diffs)."""
    return [event.to_dict(timestamps=False) for event in events]


@dataclass(frozen=True)
class StageLatencies:
    """Where the time of one run went; None where the run did not get there."""

    wake_to_speech_end_seconds: float | None = None
    """From the wake word to the end of the command (the user speaking, plus the VAD tail)."""
    vad_tail_seconds: float | None = None
    """Silence the segmenter waited for before calling the command over (audio seconds)."""
    stt_seconds: float | None = None
    """From the end of the command to its transcript."""
    chat_first_delta_seconds: float | None = None
    """From the chat request to its first text."""
    chat_first_sentence_seconds: float | None = None
    """From the chat request to the first complete sentence."""
    tts_first_chunk_seconds: float | None = None
    """From the first sentence to its first audio."""
    speech_end_to_first_audio_seconds: float | None = None
    """From the end of the command to the first audio: what the user waits through."""
    total_seconds: float | None = None
    """From the trigger (wake word, or start of listening) to the end of the run."""

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready form."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


def stage_latencies(events: Iterable[PipelineEvent], run_id: str | None = None) -> StageLatencies:
    """Per-stage latencies of one run (``run_id``, or the run of the first event)."""
    first: dict[PipelineEventType, PipelineEvent] = {}
    for event in events:
        if run_id is None:
            run_id = event.run_id
        if event.run_id == run_id:
            first.setdefault(event.type, event)

    def at(kind: PipelineEventType) -> float | None:
        event = first.get(kind)
        return None if event is None else event.timestamp

    def span(start: float | None, end: float | None) -> float | None:
        return None if start is None or end is None else end - start

    vad_end = first.get(PipelineEventType.STT_VAD_END)
    vad_tail = None
    if isinstance(vad_end, SttVadEnd):
        vad_tail = vad_end.offset_seconds - vad_end.speech_end_seconds
    listened = at(PipelineEventType.STT_VAD_END)
    if listened is None:
        listened = at(PipelineEventType.STT_START)
    triggered = at(PipelineEventType.WAKE_WORD_END)
    if triggered is None:
        triggered = at(PipelineEventType.STT_START)
    chat_start = at(PipelineEventType.CHAT_START)
    first_sentence = at(PipelineEventType.TTS_START)
    first_audio = at(PipelineEventType.TTS_AUDIO)
    return StageLatencies(
        wake_to_speech_end_seconds=span(
            at(PipelineEventType.WAKE_WORD_END), at(PipelineEventType.STT_VAD_END)
        ),
        vad_tail_seconds=vad_tail,
        stt_seconds=span(listened, at(PipelineEventType.STT_END)),
        chat_first_delta_seconds=span(chat_start, at(PipelineEventType.CHAT_DELTA)),
        chat_first_sentence_seconds=span(chat_start, first_sentence),
        tts_first_chunk_seconds=span(first_sentence, first_audio),
        speech_end_to_first_audio_seconds=span(listened, first_audio),
        total_seconds=span(triggered, at(PipelineEventType.RUN_END)),
    )
