"""OpenAI-compatible speech endpoints: ``/v1/audio/transcriptions`` and ``/v1/audio/speech``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK
from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import InvalidInput
from assistant.settings import Settings
from assistant.voice.subtitles import to_srt, to_vtt
from runtime.stt.base import TranscribeOptions
from server.compat import openai_errors, openai_response
from server.deps import PrincipalDep, VoiceDep
from server.docs import JSON, MULTIPART, OCTETS, TEXT, binary, documented, schema_of, text
from server.problems import exception_handlers
from server.schemas.voice import VoiceName
from server.uploads import UPLOAD_HARD_LIMIT, read_upload

# OpenAI's model and voice names mean "the device's default".
OPENAI_STT_MODELS = {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"}
OPENAI_TTS_MODELS = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
OPENAI_VOICES = {
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
}  # fmt: skip
TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


class SpeechIn(BaseModel):
    """OpenAI's speech request."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str
    input: Annotated[str, Field(min_length=1, max_length=4096)]
    voice: VoiceName = "alloy"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0


TRANSCRIPTION_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string", "description": "whisper-1 means the device's default"},
        "language": {"type": "string"},
        "prompt": {"type": "string"},
        "response_format": {"enum": list(TRANSCRIPT_FORMATS), "default": "json"},
    },
}
TRANSCRIPTION_ANSWERS = {
    JSON: schema_of(
        {
            "anyOf": [
                {
                    "type": "object",
                    "description": "response_format=json",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                },
                {
                    "type": "object",
                    "description": "response_format=verbose_json",
                    "required": ["task", "language", "duration", "text", "segments"],
                    "properties": {
                        "task": {"const": "transcribe"},
                        "language": {"type": "string"},
                        "duration": {"type": "number"},
                        "text": {"type": "string"},
                        "segments": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ]
        }
    ),
    TEXT: text("response_format=text, srt or vtt"),
}
SPEECH_ANSWERS = {
    media: binary("The audio, streamed as it is made")
    for media in ("audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "audio/wav", "audio/pcm")
}


def _mapped(name: str | None, defaults: set[str]) -> str | None:
    return None if not name or name in defaults else name


def verbose(text: str, language: str, duration: float, segments: list[Any]) -> dict[str, Any]:
    """OpenAI's ``verbose_json`` transcription."""
    return {
        "task": "transcribe",
        "language": language,
        "duration": round(duration, 3),
        "text": text,
        "segments": [
            {
                "id": index,
                "seek": 0,
                "start": round(s.start, 2),
                "end": round(s.end, 2),
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 0.0,
                "no_speech_prob": 0.0,
            }
            for index, s in enumerate(segments)
        ],
    }


class OpenAIAudioController(Controller):
    """Speech in and out as OpenAI's API offers it, on the device's models."""

    path = "/v1/audio"
    tags = ["openai"]
    exception_handlers = exception_handlers(openai_response)

    @post(
        "/transcriptions",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=openai_errors(400, 401, 404, 413, 503),
        operation_class=documented(
            body={
                MULTIPART: schema_of(TRANSCRIPTION_FORM),
                OCTETS: binary("The audio file itself"),
                "audio/*": binary("The audio file itself"),
            },
            body_description="A multipart form with the audio as `file` (or the raw file)",
            answers=TRANSCRIPTION_ANSWERS,
        ),
        summary="Transcribe audio (OpenAI)",
    )
    async def transcriptions(
        self, request: Request[Any, Any, Any], voice_service: VoiceDep, principal: PrincipalDep
    ) -> Response[Any]:
        """Multipart ``file`` plus ``model`` (whisper-1 means the device's default),
        ``language``, ``prompt`` and ``response_format`` (json, text, srt, verbose_json,
        vtt)."""
        settings: Settings = request.app.state.settings
        data, form = await read_upload(request, settings.server.max_upload_bytes)
        response_format = form.get("response_format", "json")
        if response_format not in TRANSCRIPT_FORMATS:
            raise InvalidInput(
                f"response_format must be one of {', '.join(TRANSCRIPT_FORMATS)}",
                field="response_format",
            )
        result = await voice_service.transcribe(
            principal.user_id,
            data,
            TranscribeOptions(
                language=form.get("language") or None, initial_prompt=form.get("prompt") or None
            ),
            _mapped(form.get("model"), OPENAI_STT_MODELS),
        )
        transcript = result.transcript
        if response_format == "text":
            return Response(transcript.text + "\n", media_type="text/plain")
        if response_format == "srt":
            return Response(to_srt(transcript.segments), media_type="text/plain")
        if response_format == "vtt":
            return Response(to_vtt(transcript.segments), media_type="text/plain")
        if response_format == "verbose_json":
            return Response(
                verbose(
                    transcript.text,
                    transcript.language,
                    transcript.duration,
                    list(transcript.segments),
                )
            )
        return Response({"text": transcript.text})

    @post(
        "/speech",
        status_code=HTTP_200_OK,
        responses=openai_errors(400, 401, 404, 413, 415, 503),
        operation_class=documented(answers=SPEECH_ANSWERS),
        summary="Speak text (OpenAI)",
    )
    async def speech(
        self, data: JSONBody[SpeechIn], voice_service: VoiceDep, principal: PrincipalDep
    ) -> Stream:
        """``model`` tts-1 and OpenAI's voice names mean the device's default voice; an
        installed voice id (``piper:...``) picks that voice. Streamed as it is made."""
        chosen = _mapped(data.voice, OPENAI_VOICES) or _mapped(data.model, OPENAI_TTS_MODELS)
        try:
            speech = await voice_service.speech(
                principal.user_id,
                data.input,
                voice=chosen,
                rate=data.speed,
                audio_format="ogg" if data.response_format == "opus" else data.response_format,
            )
        except InvalidInput as exc:
            if exc.field != "text":
                raise
            raise type(exc)(exc.detail, field="input") from exc  # OpenAI's name for the text
        return Stream(
            speech.chunks,
            media_type=speech.content_type,
            headers={"Content-Type": speech.content_type},
        )
