"""The interpreter WebSocket: PCM in; per-stage events and the spoken translations out.

The handler only translates: the client's start message and PCM frames to a call of the
interpreter, its events to messages, its speech to ``audio-start``, binary PCM and
``audio-end`` (as the voice WebSocket plays replies).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import WebSocket
from pydantic import BaseModel, ConfigDict, Field

from assistant.settings import VoiceSettings
from assistant.translate.interpret import Interpreter, InterpretOptions
from assistant.translate.speech import SpeechTranslator
from server.schemas.translate import Language
from server.voicestream import STREAM_RATE, PcmSocket, SocketSpeaker


class InterpretStart(BaseModel):
    """The first message of an interpreter stream."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["start"]
    languages: Annotated[list[Language], Field(min_length=2, max_length=2)]
    """The two languages spoken (ISO 639-1)."""
    rate: Annotated[int, Field(ge=8000, le=192_000)] = 16_000
    """Sample rate of the PCM frames the client sends."""
    width: Literal[2] = 2
    """Bytes per sample (16-bit little-endian)."""
    channels: Annotated[int, Field(ge=1, le=2)] = 1
    stt_model: Annotated[str, Field(max_length=100)] | None = None
    model: Annotated[str, Field(max_length=100)] | None = None


class InterpretStream(PcmSocket[InterpretStart]):
    """One interpreter WebSocket connection."""

    start_model = InterpretStart

    def __init__(
        self, socket: WebSocket[Any, Any, Any], speech: SpeechTranslator, settings: VoiceSettings
    ) -> None:
        super().__init__(socket)
        self.speech = speech
        self.settings = settings

    async def serve(self, start: InterpretStart) -> None:
        await self.send_json({"type": "ready", "rate": STREAM_RATE, "languages": start.languages})
        count = await Interpreter(self.speech).run(
            self.user_id,
            self._chunks(),
            SocketSpeaker(self.send_json, self.send_bytes),
            InterpretOptions(
                languages=(start.languages[0], start.languages[1]),
                stt_model=start.stt_model,
                model=start.model,
            ),
            self.settings.pipeline_options(push_to_talk=True),
            self.send_json,
        )
        await self.send_json({"type": "end", "utterances": count})
