"""End-of-speech segmentation: when a spoken command starts and when it is over.

Pure, in the manner of Home Assistant's ``VoiceCommandSegmenter``: no clock and no I/O.
The caller feeds the duration of each audio chunk and whether the VAD called it speech;
``process`` answers whether it wants more audio. Positions are seconds of audio fed since
the last ``reset``, so the caller can cut the command out of what it buffered.

- Speech starts a command once a run of speech reaches ``speech_seconds`` (debounce); a
  pause of ``reset_seconds`` before that forgets the run.
- A command ends after ``silence_seconds`` of silence; bursts of speech shorter than
  ``reset_seconds`` inside that silence do not start the count again. The caller may ask
  for another silence for the current command (``require_silence``): an adaptive end of
  turn asks for less after a complete sentence and more after a trailing "and"
  (``assistant.voice.endofturn``); speech that restarts the count forgets the request.
- A command with less than ``min_speech_seconds`` of speech when its silence runs out was
  noise (a cough, a click): it is dropped and the segmenter waits for speech again.
- A command longer than ``max_command_seconds`` is cut there (its audio is still usable).
- No command within ``no_speech_seconds`` ends the wait (nothing to transcribe).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_EPSILON = 1e-9
"""Slack for sums of float chunk durations (ten 0.1 s chunks are 0.9999999999999999 s)."""


class SegmenterOutcome(StrEnum):
    """Why the segmenter stopped asking for audio."""

    SPEECH_ENDED = "speech-ended"
    """A command was followed by enough silence."""
    MAX_LENGTH = "max-length"
    """A command ran longer than ``max_command_seconds`` and was cut."""
    NO_SPEECH = "no-speech"
    """No command started within ``no_speech_seconds``."""


@dataclass(frozen=True)
class SegmenterOptions:
    """Timing of the segmenter, in seconds of audio."""

    speech_seconds: float = 0.2
    """Speech needed before a command starts (debounce against clicks)."""
    silence_seconds: float = 0.8
    """Silence that ends a command. Measured on spoken commands with a pause inside
    (``python -m benchmarks.voice --endpointing``, Silero VAD): 0.6 s cut off most
    commands paused for 0.6-0.75 s, 0.8 s almost none, for about 0.2 s more wait."""
    min_speech_seconds: float = 0.3
    """Speech a command must hold when its silence ends, or it is dropped as noise."""
    max_command_seconds: float | None = 15.0
    """Longest command, from its first speech; None: no limit."""
    no_speech_seconds: float | None = 8.0
    """Longest wait for a command to start; None: wait for ever."""
    reset_seconds: float = 0.3
    """Silence that forgets a run of speech before a command; speech that restarts the
    silence count inside one."""

    def __post_init__(self) -> None:
        for name in ("speech_seconds", "silence_seconds", "min_speech_seconds", "reset_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("max_command_seconds", "no_speech_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive (or None for no limit)")


class VoiceCommandSegmenter:
    """Finds the end of one spoken command in a stream of VAD decisions."""

    position_seconds: float
    """Audio fed since the last reset."""
    command_start_seconds: float | None
    """Where the current command's first speech began; None outside a command."""
    speech_end_seconds: float | None
    """Where the command's latest speech ended; None outside a command."""
    speech_total_seconds: float
    """Speech inside the current command (its debounce run included)."""
    outcome: SegmenterOutcome | None
    """Why it stopped; None while it still wants audio."""
    dropped: int
    """Commands dropped as noise since the last reset."""
    _required_seconds: float | None
    _run_start: float | None
    _run_speech: float
    _run_silence: float
    _silence: float
    _speech_streak: float

    def __init__(self, options: SegmenterOptions | None = None) -> None:
        self.options = options or SegmenterOptions()
        """Timing."""
        self.reset()

    @property
    def in_command(self) -> bool:
        """Speech has started a command that has not been dropped."""
        return self.command_start_seconds is not None

    @property
    def speech_started(self) -> bool:
        """A run of speech is under way (not necessarily long enough for a command yet)."""
        return self._run_start is not None or self.in_command

    @property
    def candidate_start_seconds(self) -> float | None:
        """Start of the command, or of the speech run that may become one."""
        return self.command_start_seconds if self.in_command else self._run_start

    @property
    def trailing_silence_seconds(self) -> float:
        """Silence since the current command's latest speech, as counted towards its end
        (bursts shorter than ``reset_seconds`` do not restart it); 0.0 while speech goes
        on or outside a command."""
        if self.command_start_seconds is None or self._speech_streak > 0:
            return 0.0
        return self._silence

    @property
    def required_silence_seconds(self) -> float:
        """Silence that ends the current command: what ``require_silence`` asked for, or
        ``options.silence_seconds``."""
        required = self._required_seconds
        return self.options.silence_seconds if required is None else required

    def require_silence(self, seconds: float | None) -> None:
        """End the current command after ``seconds`` of silence instead (None: after
        ``options.silence_seconds`` again).

        Takes effect on the next ``process``: if the trailing silence already reaches it,
        that call ends the command (the chunk it is given is not part of the command).
        Forgotten by ``reset``, when the command is dropped as
        noise, and when speech restarts the silence count (the request was about the
        command as it stood before that speech)."""
        if seconds is not None and not seconds >= 0:
            raise ValueError("seconds must not be negative")
        self._required_seconds = seconds

    @property
    def finished(self) -> bool:
        """``process`` has returned False (until ``reset``)."""
        return self.outcome is not None

    @property
    def timed_out(self) -> bool:
        """Stopped by a limit rather than by silence after speech."""
        return self.outcome in (SegmenterOutcome.NO_SPEECH, SegmenterOutcome.MAX_LENGTH)

    def process(self, chunk_seconds: float, is_speech: bool) -> bool:
        """Feed one chunk's length and VAD decision; False once the command is over."""
        if chunk_seconds < 0:
            raise ValueError("chunk_seconds must not be negative")
        if self.outcome is not None:
            return False
        start = self.position_seconds
        self.position_seconds += chunk_seconds
        if self.command_start_seconds is None:
            self._wait_for_command(start, chunk_seconds, is_speech)
        else:
            self._follow_command(chunk_seconds, is_speech)
        return self._check_limits()

    def reset(self) -> None:
        """Start again, as if new."""
        self.position_seconds = 0.0
        self.command_start_seconds = self.speech_end_seconds = None
        self.speech_total_seconds = 0.0
        self.outcome = None
        self.dropped = 0
        self._required_seconds = None
        self._forget_run()

    def _wait_for_command(self, start: float, chunk_seconds: float, is_speech: bool) -> None:
        options = self.options
        if is_speech:
            if self._run_start is None:
                self._run_start, self._run_speech = start, 0.0
            self._run_speech += chunk_seconds
            self._run_silence = 0.0
            if self._run_speech >= options.speech_seconds - _EPSILON:
                self.command_start_seconds = self._run_start
                self.speech_end_seconds = self.position_seconds
                self.speech_total_seconds = self._run_speech
                self._silence = 0.0
                self._speech_streak = self._run_speech
        elif self._run_start is not None:
            self._run_silence += chunk_seconds
            if self._run_silence >= options.reset_seconds - _EPSILON:
                self._forget_run()

    def _follow_command(self, chunk_seconds: float, is_speech: bool) -> None:
        options = self.options
        trailing = self.trailing_silence_seconds
        if trailing and trailing >= self.required_silence_seconds - _EPSILON:
            # The silence so far already reaches a silence required since the last chunk:
            # the command ended before this chunk, whatever it holds. (Not while a burst
            # of speech goes on: a request that arrives late must not cut it.)
            self._end_command()
            return
        if is_speech:
            self.speech_total_seconds += chunk_seconds
            self.speech_end_seconds = self.position_seconds
            self._speech_streak += chunk_seconds
            if self._speech_streak >= options.reset_seconds - _EPSILON:
                if self._silence:
                    self._required_seconds = None
                self._silence = 0.0
            return
        self._speech_streak = 0.0
        self._silence += chunk_seconds
        if self._silence >= self.required_silence_seconds - _EPSILON:
            self._end_command()

    def _end_command(self) -> None:
        if self.speech_total_seconds >= self.options.min_speech_seconds - _EPSILON:
            self.outcome = SegmenterOutcome.SPEECH_ENDED
            return
        # Too little speech for a command: noise. Wait for real speech again.
        self.dropped += 1
        self.command_start_seconds = self.speech_end_seconds = None
        self.speech_total_seconds = 0.0
        self._required_seconds = None
        self._forget_run()

    def _check_limits(self) -> bool:
        options = self.options
        if self.outcome is not None:
            return False
        start = self.command_start_seconds
        if start is not None:
            limit = options.max_command_seconds
            if limit is not None and self.position_seconds - start >= limit - _EPSILON:
                self.outcome = SegmenterOutcome.MAX_LENGTH
                return False
        elif (
            options.no_speech_seconds is not None
            and self.position_seconds >= options.no_speech_seconds - _EPSILON
        ):
            self.outcome = SegmenterOutcome.NO_SPEECH
            return False
        return True

    def _forget_run(self) -> None:
        self._run_start = None
        self._run_speech = 0.0
        self._run_silence = 0.0
        self._silence = 0.0
        self._speech_streak = 0.0
