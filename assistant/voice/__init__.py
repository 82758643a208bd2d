"""Voice: the pipeline from wake word to spoken reply, and its pure parts.

- ``pipeline``: ``VoicePipeline``, the state machine (wake word, VAD, STT, chat, TTS,
  speaker, barge-in, follow-up), its settings and the Protocols it is built from;
- ``events``: the timed events it reports and the per-stage latencies derived from them;
- ``segmenter``: end-of-speech detection over VAD decisions (no clock, no I/O);
- ``sentences``: streaming sentence splitting of a reply for text to speech.
"""

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
from assistant.voice.pipeline import (
    PipelineSettings,
    PipelineState,
    TurnResult,
    VoicePipeline,
    held,
)
from assistant.voice.segmenter import SegmenterOptions, SegmenterOutcome, VoiceCommandSegmenter
from assistant.voice.sentences import SentenceSplitter, SplitterOptions, split_sentences

__all__ = [
    "ErrorCode",
    "ListenTrigger",
    "PipelineEvent",
    "PipelineEventType",
    "PipelineSettings",
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
