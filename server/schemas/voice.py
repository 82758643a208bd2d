"""Bodies of ``/api/v1/voice``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.voice.service import Transcription
from server.docs import (
    AUDIO_TYPES,
    JSON,
    MULTIPART,
    OCTETS,
    TEXT,
    binary,
    schema_of,
    struct_json,
    text,
)

TranscriptFormat = Literal["json", "text", "srt", "vtt"]
VoiceName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.:-]*$")]
"""A voice: an installed voice model's id (``piper:en_US-joe-medium``), or a name a
compatible API maps to the default voice (``alloy``)."""
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


class TranscribeParams(BaseModel):
    """Options of a transcription (query parameters, or multipart form fields)."""

    model_config = ConfigDict(extra="forbid")

    language: Annotated[str, Field(pattern=LANGUAGE_PATTERN)] | None = None
    """ISO 639-1 code; leave out to detect it."""
    model: Annotated[str, Field(max_length=100)] | None = None
    """Speech-to-text model; leave out for the default."""
    initial_prompt: Annotated[str, Field(max_length=1000)] | None = None
    """Text that primes spelling and vocabulary."""
    timestamps: bool = True
    """Include timed segments."""
    format: TranscriptFormat = "json"
    """json, text, srt or vtt."""


class SegmentOut(msgspec.Struct, kw_only=True):
    """A timed piece of the transcript."""

    start: float
    end: float
    text: str


class TranscriptionOut(msgspec.Struct, kw_only=True):
    """What was said."""

    text: str
    language: str
    language_probability: float
    duration: float
    """Seconds of audio."""
    processing_seconds: float
    model: str
    segments: list[SegmentOut] | None

    @classmethod
    def of(cls, result: Transcription, *, timestamps: bool) -> TranscriptionOut:
        transcript = result.transcript
        return cls(
            text=transcript.text,
            language=transcript.language,
            language_probability=round(transcript.language_probability, 4),
            duration=round(transcript.duration, 3),
            processing_seconds=round(result.processing_seconds, 3),
            model=result.model,
            segments=[
                SegmentOut(start=round(s.start, 2), end=round(s.end, 2), text=s.text.strip())
                for s in transcript.segments
            ]
            if timestamps
            else None,
        )


class SynthesizeIn(BaseModel):
    """Text to speak."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: Annotated[str, Field(min_length=1, max_length=100_000)]
    voice: VoiceName | None = None
    """A voice model id; default: your preference, else the device's."""
    rate: Annotated[float, Field(ge=0.5, le=2.0)] | None = None
    """Speaking rate; default: your preference (1.0)."""
    format: Literal["wav", "pcm", "mp3", "ogg", "opus", "flac"] = "wav"
    """Audio format of the answer; pcm is raw 16-bit little-endian mono."""


# For the API's document -----------------------------------------------------------------

LANGUAGE: dict[str, Any] = {"pattern": LANGUAGE_PATTERN}
FORMATS: dict[str, Any] = {"enum": list(get_args(TranscriptFormat))}


def _upload_form() -> dict[str, Any]:
    options = TranscribeParams.model_json_schema()
    return {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            **{
                name: {k: v for k, v in field.items() if k != "title"}
                for name, field in options["properties"].items()
            },
        },
        "additionalProperties": False,
    }


UPLOAD_BODY = {
    MULTIPART: schema_of(_upload_form()),
    OCTETS: binary("The audio file itself"),
    "audio/*": binary("The audio file itself"),
}
UPLOAD_DESCRIPTION = (
    "A multipart form with the audio as `file` (options as fields, or as query"
    " parameters), or the raw audio file as the whole body."
)
TRANSCRIPTS = {
    JSON: schema_of(struct_json(TranscriptionOut)),
    TEXT: text("format=text: the transcript"),
    "application/x-subrip": text("format=srt: SubRip subtitles"),
    "text/vtt": text("format=vtt: WebVTT subtitles"),
}
SPEECH = {media: binary("The audio, streamed as it is made") for media in AUDIO_TYPES}
