"""One Wyoming connection: events in, calls of the Wyoming service, events out.

Flows (``->`` from the client, ``<-`` to it):

- ``describe`` <- ``info``; ``ping`` <- ``pong``.
- ``transcribe``? -> ``audio-start`` -> ``audio-chunk``... (any format) <- ``transcript-start``
  and ``transcript-chunk`` as text is final -> ``audio-stop`` <- ``transcript`` <-
  ``transcript-stop``.
- ``synthesize`` <- ``audio-start``, ``audio-chunk``..., exactly one ``audio-stop``.
- ``synthesize-start`` -> ``synthesize-chunk``... (each finished sentence is spoken at
  once, ``audio-start``/chunks/``audio-stop`` per sentence, one format) -> ``synthesize``
  (ignored, sent for old servers) -> ``synthesize-stop`` <- the rest <- ``synthesize-stopped``.
- ``detect`` -> ``audio-start`` -> ``audio-chunk``... <- ``detection`` per wake word heard
  -> ``audio-stop`` <- ``not-detected`` when none was.
- ``transcript`` (text to handle, ``context.conversation_id``) <- ``handled-start``,
  ``handled-chunk``..., ``handled``, ``handled-stop`` (or ``not-handled`` saying why).

A request that fails answers an ``error`` event (code and text from the one classifier)
and the connection stays usable; a frame that cannot be read (malformed, over the limits)
is answered the same way and ends the connection, as the stream cannot be followed past
it. Unknown events are ignored, as the protocol asks of servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.event import Event, async_write_event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStopped,
)
from wyoming.wake import Detect, Detection, NotDetected

from assistant.errors import InvalidInput
from assistant.voice.sentences import SentenceSplitter
from assistant.wyoming import service as wyoming
from assistant.wyoming.service import WakeListener, WyomingRequest, WyomingService, elapsed
from assistant.wyoming.transcription import TranscriptionSession
from hal.audio import AudioChunk
from runtime.tts.base import SynthesisOptions
from server.problems import classify
from server.wyoming.errors import error_event
from server.wyoming.framing import FrameError, FrameLimits, FrameTooLarge, read_event
from server.wyoming.info import info_of

log = logging.getLogger(__name__)

SAMPLES_PER_CHUNK = 1024
"""Audio frames per ``audio-chunk`` sent (as wyoming-piper does)."""
SUPPORTED_WIDTHS = (1, 2, 4)
"""Bytes per sample of audio accepted."""

_ids = itertools.count(1)


@dataclass(frozen=True)
class ConnectionOptions:
    """What every connection is held to."""

    limits: FrameLimits
    """Largest parts of one event."""
    idle_timeout_seconds: float
    """Silence after which the connection is closed."""
    version: str
    """This software's version, in ``info``."""


@dataclass
class _Transcription:
    session: TranscriptionSession
    model: str
    started: float
    streamed: bool = False


@dataclass
class _Wake:
    listener: WakeListener
    started: float
    audio_seconds: float = 0.0


class WyomingConnection:
    """Serves one client until it hangs up, goes quiet or sends what cannot be read."""

    def __init__(
        self,
        service: WyomingService,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        options: ConnectionOptions,
    ) -> None:
        self.service = service
        self.reader = reader
        self.writer = writer
        self.options = options
        peer = writer.get_extra_info("peername")
        self.name = f"wyoming {peer[0]}:{peer[1]} #{next(_ids)}" if peer else "wyoming"
        self._transcribe: Transcribe | None = None
        self._detect: Detect | None = None
        self._transcription: _Transcription | None = None
        self._wake: _Wake | None = None
        self._audio_format: tuple[int, int, int] | None = None
        self._speaker: _StreamingSpeaker | None = None
        self._ignore_audio = False
        self._write_lock = asyncio.Lock()

    async def run(self) -> None:
        """Read and answer events until the connection ends."""
        try:
            while True:
                try:
                    event = await asyncio.wait_for(
                        read_event(self.reader, self.options.limits),
                        self.options.idle_timeout_seconds,
                    )
                except TimeoutError:
                    log.info(
                        "%s: idle for %.0f s, closing", self.name, self.options.idle_timeout_seconds
                    )
                    return
                except (FrameError, FrameTooLarge) as exc:
                    await self.write(error_event(exc, self.name))
                    return
                if event is None:
                    return
                try:
                    await self.dispatch(event)
                except (ConnectionError, asyncio.IncompleteReadError):
                    raise
                except Exception as exc:
                    self._end_request(classify(exc).code)
                    await self.write(error_event(exc, f"{self.name} {event.type}"))
                    if self._transcription is not None or self._wake is not None:
                        # One error per stream: the rest of its audio is dropped unheard.
                        await self._drop_audio_stream()
                        self._ignore_audio = True
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("%s: client went away (%s)", self.name, type(exc).__name__)
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop what is under way and close the socket."""
        speaker, self._speaker = self._speaker, None
        if speaker is not None:
            await speaker.cancel()
        if self._transcription is not None:
            await self._transcription.session.close()
            self._transcription = None
        if self._wake is not None:
            self._wake.listener.close()
            self._wake = None
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def write(self, event: Event) -> None:
        """Send one event (whole, even when several tasks write)."""
        async with self._write_lock:
            await async_write_event(event, self.writer)

    # Dispatch --------------------------------------------------------------------------

    async def dispatch(self, event: Event) -> None:
        """Answer one event."""
        kind = event.type
        handler = self._handlers().get(kind)
        if handler is None:
            log.debug("%s: ignoring unknown event %r", self.name, kind)
            return
        await handler(event)

    def _handlers(self) -> dict[str, Callable[[Event], Awaitable[None]]]:
        return {
            "describe": self._describe,
            "ping": self._ping,
            "transcribe": self._on_transcribe,
            "audio-start": self._on_audio_start,
            "audio-chunk": self._on_audio_chunk,
            "audio-stop": self._on_audio_stop,
            "synthesize": self._on_synthesize,
            "synthesize-start": self._on_synthesize_start,
            "synthesize-chunk": self._on_synthesize_chunk,
            "synthesize-stop": self._on_synthesize_stop,
            "detect": self._on_detect,
            "transcript": self._on_handle,
        }

    async def _describe(self, event: Event) -> None:
        assert Describe.is_type(event.type)
        offer = await asyncio.to_thread(self.service.offer)
        await self.write(info_of(offer, self.options.version).event())

    async def _ping(self, event: Event) -> None:
        await self.write(Pong(text=_parse(Ping.from_event, event).text).event())

    # Speech to text and wake words ------------------------------------------------------

    async def _on_transcribe(self, event: Event) -> None:
        self._transcribe = _parse(Transcribe.from_event, event)
        _optional_str(self._transcribe.name, "name")
        _optional_str(self._transcribe.language, "language")
        self._detect = None

    async def _on_detect(self, event: Event) -> None:
        detect = _parse(Detect.from_event, event)
        names = detect.names
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) for n in names)
        ):
            raise InvalidInput("names must be a list of wake word names", field="names")
        self._detect = detect
        self._transcribe = None

    async def _on_audio_start(self, event: Event) -> None:
        self._ignore_audio = False
        start = _parse(AudioStart.from_event, event)
        self._audio_format = _format(start.rate, start.width, start.channels)
        await self._begin_audio()

    async def _begin_audio(self) -> None:
        await self._drop_audio_stream()
        started = time.perf_counter()
        if self._detect is not None:
            listener = await self.service.wake_listener(self._detect.names)
            self._wake = _Wake(listener, started)
            return
        request = self._transcribe or Transcribe()
        holder: list[_Transcription] = []

        async def on_text(text: str) -> None:
            if not holder[0].streamed:
                holder[0].streamed = True
                await self.write(TranscriptStart(language=request.language).event())
            await self.write(TranscriptChunk(text=text).event())

        session, model, _ = await self.service.transcription(
            request.name, request.language, on_text
        )
        holder.append(_Transcription(session, model, started))
        self._transcription = holder[0]

    async def _on_audio_chunk(self, event: Event) -> None:
        if self._ignore_audio:
            return
        chunk = _parse(WyomingChunk.from_event, event)
        rate, width, channels = _format(chunk.rate, chunk.width, chunk.channels)
        audio = chunk.audio or b""
        if len(audio) % (width * channels):
            raise InvalidInput(
                "The audio chunk does not hold whole frames of its format", field="audio"
            )
        if self._transcription is None and self._wake is None:
            await self._begin_audio()  # a chunk without audio-start starts the stream
        ours = AudioChunk(audio, rate, width, channels)
        if self._wake is not None:
            self._wake.audio_seconds += ours.seconds
            for name, detection in await self._wake.listener.process(ours):
                stamp = round(detection.timestamp * 1000)
                await self.write(Detection(name=name, timestamp=stamp).event())
        elif self._transcription is not None:
            await self._transcription.session.feed(ours)

    async def _on_audio_stop(self, event: Event) -> None:
        if self._ignore_audio:
            self._ignore_audio = False
            self._transcribe = self._detect = None
            return
        if self._wake is not None:
            wake, self._wake = self._wake, None
            wake.listener.close()
            if wake.listener.detections == 0:
                await self.write(NotDetected().event())
            self._served(
                WyomingRequest(
                    kind="detect",
                    model=",".join(dict.fromkeys(wake.listener.words.values())),
                    seconds=elapsed(wake.started),
                    audio_seconds=wake.audio_seconds,
                    extra={"detections": wake.listener.detections},
                )
            )
            self._detect = None
            return
        transcription = self._transcription
        if transcription is None:
            if self._transcribe is None:
                return  # a stray stop: nothing under way
            await self._begin_audio()  # a transcription of no audio at all
            transcription = self._transcription
            assert transcription is not None
        result = await transcription.session.finish()
        self._transcription, self._transcribe = None, None
        language = result.language or None
        if not transcription.streamed:  # nothing was final before the end
            await self.write(TranscriptStart(language=language).event())
        await self.write(Transcript(text=result.text, language=language).event())
        await self.write(TranscriptStop().event())
        await self.service.transcribed(result)
        self._served(
            WyomingRequest(
                kind="transcribe",
                model=transcription.model,
                seconds=elapsed(transcription.started),
                audio_seconds=result.audio_seconds,
                extra={
                    "passes": result.passes,
                    "decoded_at_end_seconds": result.decoded_at_end_seconds,
                },
            )
        )

    async def _drop_audio_stream(self) -> None:
        if self._transcription is not None:
            await self._transcription.session.close()
            self._transcription = None
        if self._wake is not None:
            self._wake.listener.close()
            self._wake = None

    # Text to speech ---------------------------------------------------------------------

    async def _on_synthesize(self, event: Event) -> None:
        if self._speaker is not None:
            return  # sent inside a stream for servers that do not stream: ignored
        request = _parse(Synthesize.from_event, event)
        if not isinstance(request.text, str):
            raise InvalidInput("text must be a string", field="text")
        voice = request.voice
        started = time.perf_counter()
        voice_id, options = await self.service.voice_for(
            voice.name if voice else None,
            voice.speaker if voice else None,
            voice.language if voice else None,
        )
        sent = await _speak(self, self.service, voice_id, request.text, options, started)
        await self.write(AudioStop().event())
        await self.service.synthesized(len(request.text))
        self._served(
            WyomingRequest(
                kind="synthesize",
                model=voice_id,
                seconds=elapsed(started),
                audio_seconds=sent.audio_seconds,
                first_audio_seconds=sent.first_audio_seconds,
            )
        )

    async def _on_synthesize_start(self, event: Event) -> None:
        request = _parse(SynthesizeStart.from_event, event)
        if self._speaker is not None:
            await self._speaker.cancel()
        voice = request.voice
        voice_id, options = await self.service.voice_for(
            voice.name if voice else None,
            voice.speaker if voice else None,
            voice.language if voice else None,
        )
        self._speaker = _StreamingSpeaker(self, voice_id, options)

    async def _on_synthesize_chunk(self, event: Event) -> None:
        chunk = _parse(SynthesizeChunk.from_event, event)
        if not isinstance(chunk.text, str):
            raise InvalidInput("text must be a string", field="text")
        if self._speaker is None:
            raise InvalidInput("synthesize-chunk before synthesize-start", field="type")
        self._speaker.push(chunk.text)

    async def _on_synthesize_stop(self, event: Event) -> None:
        speaker, self._speaker = self._speaker, None
        if speaker is None:
            raise InvalidInput("synthesize-stop before synthesize-start", field="type")
        await speaker.finish()
        await self.write(SynthesizeStopped().event())
        await self.service.synthesized(speaker.characters)
        self._served(
            WyomingRequest(
                kind="synthesize-stream",
                model=speaker.voice_id,
                seconds=elapsed(speaker.started),
                audio_seconds=speaker.audio_seconds,
                first_audio_seconds=speaker.first_audio_seconds,
                extra={"sentences": speaker.sentences},
            )
        )

    # Conversation -----------------------------------------------------------------------

    async def _on_handle(self, event: Event) -> None:
        request = _parse(Transcript.from_event, event)
        if not isinstance(request.text, str):
            raise InvalidInput("text must be a string", field="text")
        context = request.context or {}
        if not isinstance(context, dict):
            raise InvalidInput("context must be an object", field="context")
        conversation = context.get("conversation_id")
        if conversation is not None and not isinstance(conversation, str):
            raise InvalidInput("conversation_id must be a string", field="context.conversation_id")
        started = time.perf_counter()
        await self.write(HandledStart(context=context or None).event())
        outcome = "ok"
        model: str | None = None
        try:
            async with contextlib.aclosing(
                self.service.handle(request.text, conversation, request.language)
            ) as pieces:
                async for piece in pieces:
                    if isinstance(piece, wyoming.Handled):
                        model = piece.model
                        reply = {**context, "conversation_id": piece.conversation_id}
                        await self.write(Handled(text=piece.text, context=reply).event())
                    else:
                        await self.write(HandledChunk(text=piece).event())
        except (ConnectionError, asyncio.IncompleteReadError):
            raise
        except Exception as exc:
            problem = classify(exc)
            outcome = problem.code
            error_event(exc, f"{self.name} transcript")  # logs it as any face does
            await self.write(NotHandled(text=problem.detail, context=context or None).event())
        await self.write(HandledStop().event())
        self._served(
            WyomingRequest(kind="handle", model=model, seconds=elapsed(started), outcome=outcome)
        )

    # Requests ---------------------------------------------------------------------------

    def _served(self, request: WyomingRequest) -> None:
        self.service.served(request)

    def _end_request(self, code: str) -> None:
        kind = "transcribe" if self._transcription else "detect" if self._wake else None
        if kind is not None:
            self.service.served(WyomingRequest(kind=kind, model=None, seconds=0.0, outcome=code))


@dataclass
class _Sent:
    audio_seconds: float = 0.0
    first_audio_seconds: float | None = None


async def _speak(
    connection: WyomingConnection,
    service: WyomingService,
    voice_id: str,
    text: str,
    options: SynthesisOptions,
    started: float,
    sent: _Sent | None = None,
) -> _Sent:
    """``audio-start`` and the audio of ``text`` as it is made (no ``audio-stop``)."""
    sent = sent or _Sent()
    began = False
    async with contextlib.aclosing(service.synthesize(voice_id, text, options)) as chunks:
        async for chunk in chunks:
            if not began:
                began = True
                await connection.write(AudioStart(rate=chunk.rate, width=2, channels=1).event())
            step = SAMPLES_PER_CHUNK * 2
            for start in range(0, len(chunk.audio), step):
                piece = chunk.audio[start : start + step]
                await connection.write(
                    WyomingChunk(rate=chunk.rate, width=2, channels=1, audio=piece).event()
                )
                if sent.first_audio_seconds is None:
                    sent.first_audio_seconds = elapsed(started)
            sent.audio_seconds += chunk.seconds
    if not began:
        raise InvalidInput(f"The voice {voice_id} made no sound of this text", field="text")
    return sent


class _StreamingSpeaker:
    """Speaks a text stream sentence by sentence, as the sentences complete."""

    def __init__(
        self, connection: WyomingConnection, voice_id: str, options: SynthesisOptions
    ) -> None:
        self.connection = connection
        self.voice_id = voice_id
        self.options = options
        self.started = time.perf_counter()
        self.splitter = SentenceSplitter()
        self.characters = 0
        self.sentences = 0
        self._sent = _Sent()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._speak_all())

    @property
    def audio_seconds(self) -> float:
        """Audio sent so far."""
        return self._sent.audio_seconds

    @property
    def first_audio_seconds(self) -> float | None:
        """From ``synthesize-start`` to the first audio sent."""
        return self._sent.first_audio_seconds

    def push(self, text: str) -> None:
        """More text; finished sentences are queued for speaking."""
        self.characters += len(text)
        for sentence in self.splitter.push(text):
            self._queue.put_nowait(sentence)

    async def finish(self) -> None:
        """The text is over: speak the rest and wait until everything is sent."""
        rest = self.splitter.flush()
        if rest:
            self._queue.put_nowait(rest)
        self._queue.put_nowait(None)
        await self._task

    async def cancel(self) -> None:
        """Stop speaking (the client went away or started another stream)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def _speak_all(self) -> None:
        service = self.connection.service
        while (sentence := await self._queue.get()) is not None:
            if not any(c.isalnum() for c in sentence):
                continue  # punctuation alone: nothing to say
            self.sentences += 1
            await _speak(
                self.connection,
                service,
                self.voice_id,
                sentence,
                self.options,
                self.started,
                self._sent,
            )
            await self.connection.write(AudioStop().event())


T = TypeVar("T")


def _parse(parse: Callable[[Event], T], event: Event) -> T:
    """An event's typed form; InvalidInput naming the field a malformed one lacks."""
    try:
        return parse(event)
    except KeyError as exc:
        raise InvalidInput(f"{event.type} needs {exc.args[0]!r}", field=str(exc.args[0])) from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"{event.type} is malformed: {exc}", field="data") from exc


def _optional_str(value: object, field: str) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)


def _format(rate: object, width: object, channels: object) -> tuple[int, int, int]:
    """An audio format, checked."""
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1000 <= rate <= 768_000:
        raise InvalidInput("rate must be between 1,000 and 768,000 Hz", field="rate")
    if width not in SUPPORTED_WIDTHS:
        raise InvalidInput("width must be 1, 2 or 4 bytes", field="width")
    if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= 32:
        raise InvalidInput("channels must be between 1 and 32", field="channels")
    return rate, int(width), channels
