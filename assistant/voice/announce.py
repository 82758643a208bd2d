"""Spoken alerts: when a timer or reminder fires, a chime and a sentence on the speaker.

The timer service calls ``Announcer.announce(fired)`` (an ``async (Fired) -> None``
callback); the alert is queued and played by one worker task, so two alerts that fire
together play one after the other, and the callback returns at once. One alert is::

    chime, "Your tea timer is done."   (pause)   chime, "Your tea timer is done."   ...

up to ``AlertOptions.repeats`` times, until ``stop()``. The voice loop stops it: its
events go through ``hearing(...)``, and the wake word or a press (the loop starting to
listen) ends the alert sounding; an alert also gives way by itself, between two pieces of
audio, when the loop is seen busy. It never talks over the loop: it waits until the loop
is idle (``idle()``: waiting for the wake word, not listening, thinking or speaking), and
the speaker plays one ``play()`` at a time, so a reply started meanwhile waits for the
piece being played.

The speech is synthesised once per alert, before anything plays (the voice is lent only
for that, never while the alert sounds), and the audio is cut into short pieces so that a
stop is heard within one piece.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

import numpy as np

from assistant.threads import off_loop
from assistant.voice.engines import EngineSource, EventCallback
from assistant.voice.events import ListenTrigger, PipelineEvent, SttStart, WakeWordEnd
from assistant.voice.options import AlertOptions
from assistant.voice.state import PipelineState
from assistant.voice.turn import VoiceOptionsSource
from hal.audio import AudioChunk, Speaker
from hal.audio.playback import Sleep, StopSignal, stoppable_sleep
from runtime.tts.base import SynthesisOptions, TextToSpeech

log = logging.getLogger(__name__)

CHIME_NOTES: tuple[tuple[float, float], ...] = ((784.0, 0.16), (1046.5, 0.34))
"""The chime's two tones, (hertz, seconds): G5 then C6, a rising fourth."""
CHIME_AMPLITUDE = 0.5
"""Peak of the chime, as a fraction of full scale (-6 dB: an alert, not a siren)."""
PIECE_SECONDS = 0.05
"""Length of the pieces the alert audio is played in (a stop is heard within one)."""
QUIET_STATES = frozenset({PipelineState.IDLE, PipelineState.WAITING})
"""Voice loop states in which an alert may sound (nobody is talking to it)."""


class Fired(Protocol):
    """What the timer service hands over when a timer or reminder fires (its ``Fired``)."""

    @property
    def kind(self) -> str:
        """``timer`` or ``reminder``."""
        ...

    @property
    def id(self) -> object:
        """The timer's or reminder's id."""
        ...

    @property
    def user_id(self) -> str:
        """Whose it is."""
        ...

    @property
    def spoken(self) -> str:
        """The alert as it is said ("Your tea timer is done.")."""
        ...


def chime(rate: int = 22_050, amplitude: float = CHIME_AMPLITUDE) -> AudioChunk:
    """The alert chime: two soft bell-like tones (a sine with a quiet octave overtone, a
    10 ms attack, an exponential decay and a 30 ms fade-out each), peaking at
    ``amplitude``. Deterministic: the same rate gives the same samples."""
    parts = []
    for hertz, seconds in CHIME_NOTES:
        frames = round(rate * seconds)
        t = np.arange(frames, dtype=np.float64) / rate
        tone = np.sin(2 * np.pi * hertz * t) + 0.25 * np.sin(4 * np.pi * hertz * t)
        envelope = np.exp(-6.0 * t)
        attack = min(frames, round(rate * 0.010))
        envelope[:attack] *= np.linspace(0.0, 1.0, attack)
        release = min(frames, round(rate * 0.030))
        envelope[frames - release :] *= np.linspace(1.0, 0.0, release)
        parts.append(tone * envelope)
    samples = np.concatenate(parts)
    samples *= amplitude / float(np.max(np.abs(samples)))
    return AudioChunk.from_samples(samples, rate)


def pieces(chunk: AudioChunk, seconds: float = PIECE_SECONDS) -> list[AudioChunk]:
    """``chunk`` cut into consecutive pieces of at most ``seconds`` (whole frames)."""
    frame_bytes = chunk.width * chunk.channels
    step = max(1, round(seconds * chunk.rate)) * frame_bytes
    return [
        AudioChunk(
            audio=chunk.audio[start : start + step],
            rate=chunk.rate,
            width=chunk.width,
            channels=chunk.channels,
            timestamp=chunk.timestamp + start / frame_bytes / chunk.rate,
        )
        for start in range(0, len(chunk.audio), step)
    ]


def starts_listening(event: PipelineEvent) -> bool:
    """Whether the voice loop heard its wake word or was pressed: someone wants to talk."""
    if isinstance(event, WakeWordEnd):
        return event.word is not None
    return isinstance(event, SttStart) and event.trigger in (
        ListenTrigger.WAKE_WORD,
        ListenTrigger.PUSH_TO_TALK,
    )


class Announcer:
    """Plays fired timers and reminders on a speaker: chime and speech, repeated, stoppable.

    ``tts`` lends the voice the loop speaks with and ``voice`` reads its options (the
    user's speaking rate); ``user_id`` keeps the alerts of one user (None: everyone's);
    ``idle`` tells whether the voice loop is quiet (``lambda: pipeline.state in
    QUIET_STATES``); ``sleep`` times the pauses (a test clock's).
    """

    def __init__(
        self,
        tts: EngineSource[TextToSpeech],
        speaker: Speaker,
        options: AlertOptions | None = None,
        *,
        voice: VoiceOptionsSource | None = None,
        user_id: str | None = None,
        idle: Callable[[], bool] = lambda: True,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.options = options or AlertOptions()
        """Repeats and pauses."""
        self.speaker = speaker
        """Where alerts play (the voice loop's speaker, volume included)."""
        self.user_id = user_id
        """Only this user's alerts are played; None: every user's."""
        self.played: list[tuple[Fired, int]] = []
        """Every alert played, with the repeats actually heard (for tests and logs)."""
        self._tts = tts
        self._voice = voice
        self._idle = idle
        self._sleep = sleep
        self._queue: asyncio.Queue[Fired] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._stop = StopSignal()
        self._current: Fired | None = None
        self._playing = False
        self._closed = False

    @property
    def sounding(self) -> Fired | None:
        """The alert being played (or pausing between repeats); None when quiet."""
        return self._current

    @property
    def pending(self) -> int:
        """Alerts queued behind the one sounding."""
        return self._queue.qsize()

    async def announce(self, fired: Fired) -> None:
        """The timer service's callback: queue the alert and return at once."""
        if self._closed or (self.user_id is not None and fired.user_id != self.user_id):
            return
        self._queue.put_nowait(fired)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="voice-announcer"
            )

    def stop(self) -> bool:
        """End the alert sounding now, its remaining repeats too (queued alerts still
        play); True if one was sounding. Safe from any thread."""
        if self._current is None:
            return False
        self._stop.set()
        if self._playing:
            self.speaker.stop()  # cut the piece being played, not only the next one
        return True

    def hearing(self, forward: EventCallback | None = None) -> EventCallback:
        """A voice loop event callback that stops the alert when the loop starts to
        listen (wake word, press), then passes the event on to ``forward``."""

        async def on_event(event: PipelineEvent) -> None:
            if starts_listening(event) and self.stop():
                log.info("alert stopped: the voice loop is listening")
            if forward is not None:
                result = forward(event)
                if inspect.isawaitable(result):
                    await result

        return on_event

    async def wait(self) -> None:
        """Until every queued alert has played or been stopped."""
        await self._queue.join()

    async def close(self) -> None:
        """Drop queued alerts, stop the one sounding, end the worker."""
        self._closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
        self.stop()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    # The worker ------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            fired = await self._queue.get()
            try:
                await self._sound(fired)
            except Exception:  # one broken alert must not silence the ones after it
                log.exception("the alert for %s %s failed", fired.kind, fired.id)
            finally:
                self._queue.task_done()

    async def _sound(self, fired: Fired) -> None:
        speech = await self._speech(fired.spoken)
        audio = [*pieces(chime(speech[0].rate if speech else 22_050))]
        for chunk in speech:
            audio.extend(pieces(chunk))
        repeats = 0
        self._stop.arm()
        self._current = fired
        try:
            for repeat in range(self.options.repeats):
                if repeat and not await stoppable_sleep(
                    self.options.pause_seconds, self._stop, self._sleep
                ):
                    break
                await self._until_idle()
                if self._stop.is_set():
                    break
                repeats += 1
                completed = await self.speaker.play(self._stream(audio))
                if not completed or self._stop.is_set():
                    break
        finally:
            self._current = None
            self.played.append((fired, repeats))
        log.info("%s %s announced %d time(s)", fired.kind, fired.id, repeats)

    async def _until_idle(self) -> None:
        """Wait while the voice loop listens, thinks or speaks (or the alert is stopped)."""
        while not self._idle() and not self._stop.is_set():
            await stoppable_sleep(self.options.poll_seconds, self._stop, self._sleep)

    async def _stream(self, audio: Sequence[AudioChunk]) -> AsyncIterator[AudioChunk]:
        self._playing = True
        try:
            for piece in audio:
                if self._stop.is_set():
                    return
                if not self._idle():  # the loop got busy without telling us: give way
                    self._stop.set()
                    return
                yield piece
        finally:
            self._playing = False

    async def _speech(self, text: str) -> list[AudioChunk]:
        """The spoken alert; empty (the chime alone) when there is nothing to say or the
        voice fails."""
        if not text.strip():
            return []
        options = await self._voice() if self._voice is not None else SynthesisOptions()
        try:
            async with self._tts() as tts:
                return await off_loop(lambda: list(tts.synthesize(text, options)))
        except Exception:
            log.exception("the alert %r could not be spoken; chiming only", text)
            return []
