"""What the input side of the voice pipeline listens with: the push-to-talk button, the
VAD over a stretch of the stream, the wake-word detector over the stream, and the
listening window that collects a command's audio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.threads import off_loop
from assistant.voice.runs import Run
from assistant.voice.segmenter import VoiceCommandSegmenter
from hal.audio import AudioChunk
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.framing import PcmFramer
from runtime.wake.base import WakeDetection, WakeWordDetector


@dataclass
class PushToTalk:
    """Presses and releases of the button, taken by the next microphone chunk."""

    pressed: bool = False
    """Listen now (interrupting a reply)."""
    released: bool = False
    """The command is over."""

    def take_press(self) -> bool:
        """Whether it was pressed since the last look (and forget it)."""
        pressed, self.pressed = self.pressed, False
        return pressed

    def take_release(self) -> bool:
        """Whether it was released since the last look (and forget it)."""
        released, self.released = self.released, False
        return released


class SpeechFrames:
    """The VAD over one stretch of the stream: whole frames, the VAD reset before the first
    (its recurrent state belongs to the audio before the stretch)."""

    def __init__(self, vad: VoiceActivityDetector) -> None:
        self.vad = vad
        self.framer = PcmFramer(vad.frame_samples, vad.sample_rate)
        self.frame_seconds = vad.frame_samples / vad.sample_rate
        """Length of a frame."""
        self._fresh = True

    async def probabilities(self, chunk: AudioChunk) -> list[float]:
        """Speech probability of each whole frame ``chunk`` completes."""
        frames = self.framer.push(chunk)
        if not frames:
            return []
        reset, self._fresh = self._fresh, False
        return await off_loop(_probabilities, self.vad, frames, reset)


class WakeWatch:
    """The wake-word detector over the stream; reset first when it missed a chunk."""

    def __init__(self, detector: WakeWordDetector) -> None:
        self.detector = detector
        self._last_heard: int | None = None

    async def detect(self, chunk: AudioChunk, index: int) -> WakeDetection | None:
        """Feed chunk number ``index`` of the stream."""
        if self._last_heard != index - 1:
            await off_loop(self.detector.reset)
        detection = await off_loop(self.detector.process, chunk)
        self._last_heard = index
        return detection


@dataclass
class ListeningWindow:
    """One listening window: the segmenter and the audio since the window opened."""

    run: Run
    """The run it listens for."""
    segmenter: VoiceCommandSegmenter
    """Where the command starts and ends."""
    speech: SpeechFrames
    """The VAD over the window's audio."""
    rate: int
    """Sample rate of the audio."""
    keep_all: bool
    """Keep every sample (push-to-talk: the user decides what is speech)."""
    follow_up: bool
    """Opened after a reply, without the wake word."""
    audio: bytearray = field(default_factory=bytearray)
    """16-bit samples since the window opened (less what was trimmed)."""
    dropped_seconds: float = 0.0
    """Seconds of the window trimmed off the front of ``audio``."""
    announced: float | None = None
    """Command start reported with ``stt-vad-start``."""

    def trim(self, pre_roll_seconds: float) -> None:
        """Forget audio that cannot belong to a command any more (while none started)."""
        if self.keep_all or self.segmenter.in_command:
            return
        start = self.segmenter.candidate_start_seconds
        anchor = self.segmenter.position_seconds if start is None else start
        samples = round((anchor - pre_roll_seconds - self.dropped_seconds) * self.rate)
        if samples >= self.rate:  # trim in steps of a second or more, not every chunk
            del self.audio[: samples * 2]
            self.dropped_seconds += samples / self.rate

    def utterance(self, pre_roll_seconds: float) -> AudioChunk:
        """The command: from its start less the pre-roll to the latest sample."""
        start = None if self.keep_all else self.segmenter.candidate_start_seconds
        samples = 0
        if start is not None:
            samples = max(0, round((start - pre_roll_seconds - self.dropped_seconds) * self.rate))
        offset = min(samples * 2, len(self.audio))
        return AudioChunk(audio=bytes(self.audio[offset:]), rate=self.rate)


@dataclass
class BargeInMonitor:
    """Speech detection over a reply (barge-in on speech)."""

    segmenter: VoiceCommandSegmenter
    """Tells speech long enough to count."""
    speech: SpeechFrames
    """The VAD over the audio heard during the reply."""


def _probabilities(
    vad: VoiceActivityDetector, frames: Sequence[AudioChunk], reset: bool
) -> list[float]:
    if reset:
        vad.reset()
    return [vad.probability(frame) for frame in frames]
