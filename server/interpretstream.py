"""The interpreter WebSocket: PCM in; per-stage events and the spoken translations out.

The handler only translates: the client's start message and PCM frames to a call of the
interpreter, its events to messages, its speech to ``audio-start``, binary PCM and
``audio-end`` (as the voice WebSocket plays replies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.auth import Principal
from assistant.errors import InvalidInput
from assistant.problems import OWN_ERRORS
from assistant.settings import VoiceSettings
from assistant.translate.interpret import Interpreter, InterpretOptions
from assistant.translate.speech import SpeechTranslator
from hal.audio import AudioChunk
from hal.audio.convert import ChunkConverter
from server.problems import classify, problem_event
from server.requestid import ensure_request_id
from server.schemas.translate import Language
from server.voicestream import STREAM_RATE, SocketSpeaker


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


class InterpretStream:
    """One interpreter WebSocket connection."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], speech: SpeechTranslator, settings: VoiceSettings
    ) -> None:
        self.socket = socket
        self.speech = speech
        self.settings = settings
        principal = socket.scope.get("user")
        assert isinstance(principal, Principal)
        self.user_id = principal.user_id
        self.audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=500)
        self._send_lock = asyncio.Lock()
        self._position = 0.0

    async def send_json(self, data: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.socket.send_json(data)

    async def send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self.socket.send_bytes(data)

    async def run(self) -> None:
        await self.socket.accept()
        try:
            start = await self._start()
        except (*OWN_ERRORS, WebSocketDisconnect) as exc:
            if not isinstance(exc, WebSocketDisconnect):
                await self._error(exc)
            await self.socket.close()
            return
        receiver = asyncio.create_task(self._receive(start, ChunkConverter(STREAM_RATE, 1, 2)))
        try:
            await self.send_json(
                {"type": "ready", "rate": STREAM_RATE, "languages": start.languages}
            )
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
        except OWN_ERRORS as exc:
            await self._error(exc)
        except WebSocketDisconnect:
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            with contextlib.suppress(Exception):
                await self.socket.close()

    async def _start(self) -> InterpretStart:
        message = await self.socket.receive_json()
        try:
            return InterpretStart.model_validate(message)
        except ValidationError as exc:
            problem = classify(exc)
            raise InvalidInput(
                f"The first message must be a start message: {problem.detail}", field=problem.field
            ) from exc

    async def _receive(self, start: InterpretStart, converter: ChunkConverter) -> None:
        """Client messages: binary PCM frames, or JSON {"type": "stop"}."""
        try:
            while True:
                message: dict[str, Any] = dict(await self.socket.receive())
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    data = message["bytes"]
                    usable = len(data) - len(data) % (start.width * start.channels)
                    chunk = AudioChunk(
                        data[:usable], start.rate, start.width, start.channels, self._position
                    )
                    self._position += chunk.seconds
                    await self.audio.put(converter.convert(chunk))
                elif message.get("text") is not None:
                    if _command(message["text"]) == "stop":
                        break
                    await self._error(
                        InvalidInput("Send binary PCM, or JSON with type stop", field="type")
                    )
        finally:
            await self.audio.put(None)

    async def _chunks(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self.audio.get()) is not None:
            yield chunk

    async def _error(self, exc: Exception) -> None:
        problem = problem_event(
            exc, instance=self.socket.url.path, request_id=ensure_request_id(self.socket.scope)
        )
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "problem": problem})


def _command(text: str) -> str | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data.get("type") if isinstance(data, dict) else None
