"""Voice: the pipeline from wake word to spoken reply, dictation, and their pure parts.

- ``pipeline``: ``VoicePipeline``, which joins the two sides below and runs them;
- ``listener``: the input side, one state machine (wait, listen, barge in);
- ``turn``: the turn side (speech to text -> chat -> sentence TTS -> speaker);
- ``runs``: runs and the events both sides report through;
- ``options``: ``PipelineOptions``, the per-run options (one default per knob);
- ``engines``: how engines are lent to the pipeline (``held``, ``EngineSource``);
- ``events``: the timed events and the per-stage latencies derived from them;
- ``dictation``: live transcription of a stream, utterance by utterance;
- ``segmenter``: end-of-speech detection over VAD decisions (no clock, no I/O);
- ``sentences``: streaming sentence splitting of a reply for text to speech;
- ``service``: the voice service (transcription, synthesis, dictation, voice loops).
"""

from assistant.voice.engines import EngineSource, held
from assistant.voice.events import (
    ErrorCode,
    ListenTrigger,
    PipelineEvent,
    PipelineEventType,
    PipelineStage,
    RunOutcome,
    StageLatencies,
    stage_latencies,
    strip_timestamps,
)
from assistant.voice.options import BargeIn, PipelineOptions
from assistant.voice.pipeline import TurnResult, VoicePipeline
from assistant.voice.segmenter import SegmenterOptions, SegmenterOutcome, VoiceCommandSegmenter
from assistant.voice.sentences import SentenceSplitter, SplitterOptions, split_sentences
from assistant.voice.state import PipelineState

__all__ = [
    "BargeIn",
    "EngineSource",
    "ErrorCode",
    "ListenTrigger",
    "PipelineEvent",
    "PipelineEventType",
    "PipelineOptions",
    "PipelineStage",
    "PipelineState",
    "RunOutcome",
    "SegmenterOptions",
    "SegmenterOutcome",
    "SentenceSplitter",
    "SplitterOptions",
    "StageLatencies",
    "TurnResult",
    "VoiceCommandSegmenter",
    "VoicePipeline",
    "held",
    "split_sentences",
    "stage_latencies",
    "strip_timestamps",
]
