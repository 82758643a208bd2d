"""``/api/v1/voice``: transcription and streamed speech synthesis."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, WebSocket, post, websocket
from litestar.params import JSONBody, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from assistant.settings import Settings
from assistant.voice.subtitles import to_srt, to_vtt
from runtime.stt.base import TranscribeOptions
from server.deps import LoopsDep, PrincipalDep, SettingsDep, VoiceDep
from server.docs import documented
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.voice import (
    FORMATS,
    LANGUAGE,
    SPEECH,
    TRANSCRIPTS,
    UPLOAD_BODY,
    UPLOAD_DESCRIPTION,
    SynthesizeIn,
    TranscribeParams,
    TranscriptionOut,
)
from server.uploads import UPLOAD_HARD_LIMIT, read_upload
from server.voicestream import VoiceStream


def parse_params(query: dict[str, Any], form: dict[str, str]) -> TranscribeParams:
    """Transcription options from the query string and form fields (form wins); invalid
    ones raise pydantic's ValidationError, which the classifier answers as 422."""
    values = {k: v for k, v in {**query, **form}.items() if k != "file" and v not in (None, "")}
    return TranscribeParams.model_validate(values)


class VoiceController(Controller):
    """Speech in and out for the signed-in user."""

    path = "/api/v1/voice"
    tags = ["voice"]

    @post(
        "/transcribe",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=problems(*PARAMETERS, 401, 413, 503),
        operation_class=documented(
            body=UPLOAD_BODY, body_description=UPLOAD_DESCRIPTION, answers=TRANSCRIPTS
        ),
        summary="Transcribe audio",
    )
    async def transcribe(
        self,
        request: Request[Any, Any, Any],
        voice_service: VoiceDep,
        principal: PrincipalDep,
        language: Annotated[
            str | None, Parameter(description="ISO 639-1; default: detect", schema_extra=LANGUAGE)
        ] = None,
        model: Annotated[
            str | None,
            Parameter(description="Speech-to-text model", schema_extra={"maxLength": 100}),
        ] = None,
        initial_prompt: Annotated[
            str | None, Parameter(description="Priming text", schema_extra={"maxLength": 1000})
        ] = None,
        timestamps: Annotated[bool, Parameter(description="Include timed segments")] = True,
        format: Annotated[
            str, Parameter(description="json, text, srt or vtt", schema_extra=FORMATS)
        ] = "json",
    ) -> Response[Any]:
        """Send a multipart form with the audio as ``file`` (options as fields or query
        parameters), or the raw file as the body. WAV, FLAC, Ogg/Opus, MP3, M4A and WebM
        are decoded to 16 kHz mono. Corrupt, empty or silent audio answers 400 or 422,
        audio over the length or size limit 413."""
        settings: Settings = request.app.state.settings
        data, form = await read_upload(request, settings.server.max_upload_bytes)
        params = parse_params(
            {
                "language": language,
                "model": model,
                "initial_prompt": initial_prompt,
                "timestamps": timestamps,
                "format": format,
            },
            form,
        )
        result = await voice_service.transcribe(
            principal.user_id,
            data,
            TranscribeOptions(language=params.language, initial_prompt=params.initial_prompt),
            params.model,
        )
        segments = result.transcript.segments
        if params.format == "text":
            return Response(result.transcript.text, media_type="text/plain")
        if params.format == "srt":
            return Response(to_srt(segments), media_type="application/x-subrip")
        if params.format == "vtt":
            return Response(to_vtt(segments), media_type="text/vtt")
        return Response(TranscriptionOut.of(result, timestamps=params.timestamps))

    @post(
        "/synthesize",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 503),
        operation_class=documented(answers=SPEECH),
        summary="Speak text (streamed audio)",
    )
    async def synthesize(
        self, data: JSONBody[SynthesizeIn], voice_service: VoiceDep, principal: PrincipalDep
    ) -> Stream:
        """The audio streams as it is made: the first sentence plays before the last is
        synthesised. Headers carry the voice (``X-Voice``) and the sample rate
        (``X-Sample-Rate``). WAV is streamed with an open-ended header."""
        speech = await voice_service.speech(
            principal.user_id, data.text, voice=data.voice, rate=data.rate, audio_format=data.format
        )
        return Stream(
            speech.chunks,
            media_type=speech.content_type,
            headers={"X-Voice": speech.voice, "X-Sample-Rate": str(speech.rate)},
        )

    @websocket("/stream")
    async def stream(
        self,
        socket: WebSocket[Any, Any, Any],
        voice_service: VoiceDep,
        loops: LoopsDep,
        settings: SettingsDep,
    ) -> None:
        """Real-time voice (browsers: ``?access_token=``). Send a start message
        ``{"type": "start", "rate": 16000, "channels": 1, "mode": "conversation"|"transcribe",
        "wake_word": false, "push_to_talk": false, "conversation_id"?, "language"?}``, then
        binary 16-bit PCM frames.

        transcribe: ``speech-start``, ``partial`` and ``transcript`` messages per utterance.
        conversation: the voice pipeline's events (``stt-vad-start``, ``stt-speculation``,
        ``stt-end``, ``chat-delta``, ``tts-start``, ``run-end``...) and the reply as ``audio-start``
        (rate, width, channels), binary PCM frames and ``audio-end``. Send
        ``{"type": "cancel"}`` to barge in (stop the reply and listen), ``{"type": "stop"}``
        to end the input; ``end`` follows once the last turn is done. Push-to-talk
        (``"push_to_talk": true``, no wake word): nothing is heard until
        ``{"type": "listen"}`` (the button goes down; during a reply it barges in), and the
        command ends at ``{"type": "release"}`` (the button comes up) or at the silence
        after it. Keep sending audio: commands take effect at the next frame.
        """
        await VoiceStream(socket, voice_service, loops, settings.voice).run()
