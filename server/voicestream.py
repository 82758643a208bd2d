"""The voice WebSocket: PCM in, events (and synthesised PCM) out.

The handler only translates: client messages to calls of the voice service (a voice
loop's pipeline, or dictation) and their events to messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar, cast

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.auth import Principal
from assistant.errors import InvalidInput
from assistant.problems import OWN_ERRORS
from assistant.settings import VoiceSettings
from assistant.voice.dictation import DictationEvent
from assistant.voice.events import PipelineEvent, RunEnd
from assistant.voice.service import VoiceLoops, VoiceService
from hal.audio import AudioChunk
from hal.audio.convert import ChunkConverter
from server.problems import classify, problem_event
from server.requestid import ensure_request_id

log = logging.getLogger(__name__)

STREAM_RATE = 16_000


class StreamStart(BaseModel):
    """The first message of a voice stream."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["start"]
    rate: Annotated[int, Field(ge=8000, le=192_000)] = 16_000
    """Sample rate of the PCM frames the client sends."""
    width: Literal[2] = 2
    """Bytes per sample (16-bit little-endian)."""
    channels: Annotated[int, Field(ge=1, le=2)] = 1
    mode: Literal["conversation", "transcribe"] = "conversation"
    """conversation: whole voice turns (transcript, chat, speech); transcribe: dictation."""
    wake_word: bool = False
    """conversation: wait for the wake word; otherwise listen at once and after each turn."""
    push_to_talk: bool = False
    """conversation without the wake word: listen only from a ``listen`` command to a
    ``release`` (a held button), not at once and after each turn."""
    conversation_id: str | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")] | None = None
    """transcribe: the language spoken; default: detect."""


class SocketSpeaker:
    """Plays replies by sending them down the socket: audio-start, binary PCM, audio-end."""

    name = "websocket"

    def __init__(self, send_json: Any, send_bytes: Any) -> None:
        self.send_json = send_json
        self.send_bytes = send_bytes
        self._stopped = False

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        self._stopped = False
        started = False
        async for chunk in chunks:
            if self._stopped:
                break
            if not started:
                started = True
                await self.send_json(
                    {
                        "type": "audio-start",
                        "rate": chunk.rate,
                        "width": chunk.width,
                        "channels": chunk.channels,
                    }
                )
            await self.send_bytes(chunk.audio)
        if started:
            await self.send_json({"type": "audio-end", "stopped": self._stopped})
        return not self._stopped

    def stop(self) -> None:
        self._stopped = True

    async def close(self) -> None:
        """Nothing to release."""


class PcmStart(Protocol):
    """What every start message says of the PCM frames that follow it."""

    rate: int
    width: int
    channels: int


Start = TypeVar("Start", bound=BaseModel)


class PcmSocket(Generic[Start]):
    """One WebSocket that takes a start message, then binary PCM frames and JSON commands,
    and answers with JSON events (and binary audio): the voice and interpreter streams.

    A subclass names its start message (``start_model``), the commands it takes
    (``commands``: ``stop`` is always one) and what a session does (``serve``)."""

    start_model: type[Start]
    usage = "Send binary PCM, or JSON with type stop"

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket
        principal = socket.scope.get("user")
        assert isinstance(principal, Principal)
        self.user_id = principal.user_id
        self.audio: asyncio.Queue[AudioChunk | Callable[[], None] | None] = asyncio.Queue(
            maxsize=500
        )
        """Frames and commands in the order they came (None: the input ended)."""
        self._send_lock = asyncio.Lock()
        self._position = 0.0
        self.commands: dict[str, Callable[[], None]] = {}

    async def send_json(self, data: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.socket.send_json(data)

    async def send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self.socket.send_bytes(data)

    async def serve(self, start: Start) -> None:
        """The session, from ``ready`` to the last event before ``end``."""
        raise NotImplementedError

    async def run(self) -> None:
        await self.socket.accept()
        try:
            start = await self._start()
        except (*OWN_ERRORS, WebSocketDisconnect) as exc:
            if not isinstance(exc, WebSocketDisconnect):
                await self._error(exc)
            await self.socket.close()
            return
        converter = ChunkConverter(STREAM_RATE, 1, 2)
        receiver = asyncio.create_task(self._receive(cast(PcmStart, start), converter))
        try:
            await self.serve(start)
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

    async def _start(self) -> Start:
        message = await self.socket.receive_json()
        try:
            return self.start_model.model_validate(message)
        except ValidationError as exc:
            problem = classify(exc)
            raise InvalidInput(
                f"The first message must be a start message: {problem.detail}", field=problem.field
            ) from exc

    async def _receive(self, start: PcmStart, converter: ChunkConverter) -> None:
        """Client messages: binary PCM frames, or JSON ``{"type": <command>}``."""
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
                    command = _command(message["text"])
                    if command == "stop":
                        break
                    handler = self.commands.get(command or "")
                    if handler is not None:
                        # In line with the audio: a release applies after the frames
                        # sent before it, however far behind the pipeline runs.
                        await self.audio.put(handler)
                    else:
                        await self._error(InvalidInput(self.usage, field="type"))
        finally:
            await self.audio.put(None)

    async def _chunks(self) -> AsyncIterator[AudioChunk]:
        """The frames; a command runs when the frames sent before it have been taken."""
        while (item := await self.audio.get()) is not None:
            if isinstance(item, AudioChunk):
                yield item
            else:
                item()

    async def _error(self, exc: Exception) -> None:
        problem = problem_event(
            exc, instance=self.socket.url.path, request_id=ensure_request_id(self.socket.scope)
        )
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "problem": problem})


class VoiceStream(PcmSocket[StreamStart]):
    """One voice WebSocket connection."""

    start_model = StreamStart
    usage = "Send binary PCM, or JSON with type cancel, listen, release or stop"

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        voice: VoiceService,
        loops: VoiceLoops,
        settings: VoiceSettings,
    ) -> None:
        super().__init__(socket)
        self.voice = voice
        self.loops = loops
        self.settings = settings

    async def serve(self, start: StreamStart) -> None:
        await self.send_json({"type": "ready", "rate": STREAM_RATE, "mode": start.mode})
        if start.mode == "transcribe":
            await self._dictate(start)
        else:
            await self._converse(start)
        await self.send_json({"type": "end"})

    async def _converse(self, start: StreamStart) -> None:
        speaker = SocketSpeaker(self.send_json, self.send_bytes)
        listen_again = not start.wake_word and not start.push_to_talk

        async def forward(event: PipelineEvent) -> None:
            await self.send_json({"type": event.type.value, **event.to_dict()})
            if listen_again and isinstance(event, RunEnd):
                asyncio.get_running_loop().call_soon(pipeline.start_listening)

        options = self.settings.pipeline_options(push_to_talk=not start.wake_word)
        if start.push_to_talk:
            options = replace(options, follow_up_seconds=0.0)  # heard only while held
        pipeline = await self.loops.pipeline(
            self.user_id,
            speaker,
            options,
            conversation_id=start.conversation_id,
            on_event=forward,
        )
        self.commands.update(
            cancel=pipeline.start_listening,
            listen=pipeline.start_listening,
            release=pipeline.stop_listening,
        )

        async def open_microphone() -> AsyncIterator[AudioChunk]:
            first = True
            async for chunk in self._chunks():
                if first and listen_again:
                    pipeline.start_listening()  # hands-free: listen from the start
                first = False
                yield chunk

        await pipeline.run(open_microphone())

    async def _dictate(self, start: StreamStart) -> None:
        options = replace(self.settings.pipeline_options(), language=start.language)

        async def forward(event: DictationEvent) -> None:
            await self.send_json(event.to_dict())

        await self.voice.dictate(self.user_id, self._chunks(), options, forward)


def _command(text: str) -> str | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data.get("type") if isinstance(data, dict) else None
