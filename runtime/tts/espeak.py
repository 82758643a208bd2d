"""Text to speech with espeak-ng: a formant voice for about 100 languages, no model file.

The fallback voice of translation: it speaks languages no installed Piper voice speaks,
intelligibly rather than naturally. It runs the ``espeak-ng`` program (Debian
``espeak-ng``) once per line and reads the WAV it writes to stdout. The program was chosen
over the C library through ctypes: measured on the shared 2-core test machine, one run
for a 40-character Spanish sentence takes about 30 ms, nearly all of it process start-up
(an empty text takes as long), which the library would save per line; in exchange a crash
or hang of espeak-ng cannot take the server with it (a timeout ends it), and there is no
ABI to track across espeak-ng versions.
"""

from __future__ import annotations

import io
import logging
import math
import shutil
import subprocess
import wave
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hal.audio import AudioChunk
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, UnsupportedInput
from runtime.params import parse_params
from runtime.tts.base import SynthesisOptions

log = logging.getLogger(__name__)

PROGRAM = "espeak-ng"
"""The program run (found on PATH)."""
BASE_WORDS_PER_MINUTE = 165
"""espeak-ng's speed at rate 1.0 (its own default is 175; a little slower is clearer)."""
MIN_RATE = 0.25
"""Slowest speaking rate accepted."""
MAX_RATE = 4.0
"""Fastest speaking rate accepted."""
SAMPLE_RATE = 22_050
"""espeak-ng writes 22,050 Hz 16-bit mono."""


@dataclass(frozen=True)
class EspeakParams:
    """Load-time parameters of the espeak-ng voice."""

    language: str = "en"
    """Language spoken when a call names none (an espeak-ng voice name or ISO 639-1)."""
    variant: str | None = None
    """An espeak-ng voice variant (``f3``, ``m2``...) appended to the voice name."""
    pitch: int = 50
    """0-99."""
    timeout_seconds: float = 30.0
    """Longest one sentence may take."""

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 99:
            raise ValueError("pitch must be between 0 and 99")
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise ValueError("timeout_seconds must be positive")


def parse_voices(listing: str) -> dict[str, str]:
    """Voice name -> language name from ``espeak-ng --voices`` output (pure)."""
    voices: dict[str, str] = {}
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 4:
            # Pty Language Age/Gender VoiceName File Other
            voices[columns[1].lower()] = columns[3]
    return voices


def voice_for(language: str, voices: Mapping[str, str]) -> str | None:
    """The espeak-ng voice of an ISO 639-1 code or BCP 47 tag (``pt-BR`` -> ``pt-br``,
    ``en`` -> ``en``, which espeak-ng resolves to its main English voice, ``zh`` ->
    ``cmn``), None when espeak-ng has none (pure)."""
    tag = language.strip().replace("_", "-").lower()
    base = tag.split("-")[0]
    base = ALIASES.get(base, base)
    if tag in voices:
        return tag
    if base in voices or any(name.split("-")[0] == base for name in voices):
        return base
    return None


ALIASES = {"zh": "cmn", "no": "nb"}
"""ISO 639-1 codes espeak-ng names otherwise."""


class EspeakTextToSpeech:
    """espeak-ng as a multi-language voice: ``SynthesisOptions.language`` picks the language."""

    sample_rate: int = SAMPLE_RATE

    def __init__(
        self, model_id: str, program: str, voices: dict[str, str], params: EspeakParams
    ) -> None:
        self.model_id = model_id
        self.voices = voices
        """espeak-ng voice name -> language name."""
        self._program: str | None = program
        self._params = params

    @classmethod
    def load(cls, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> EspeakTextToSpeech:
        """Find the program and list its voices (the model folder is empty)."""
        parsed = parse_params(EspeakParams, params, model_id)
        program = shutil.which(PROGRAM)
        if program is None:
            raise ModelLoadFailed(
                f"{model_id!r} needs the espeak-ng program: apt-get install espeak-ng"
            )
        try:
            # The program found on PATH at load, with fixed arguments.
            listing = subprocess.run(  # noqa: S603
                [program, "--voices"], capture_output=True, text=True, check=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise ModelLoadFailed(f"{model_id!r}: espeak-ng --voices failed: {exc}") from exc
        voices = parse_voices(listing)
        if not voices:
            raise ModelLoadFailed(f"{model_id!r}: espeak-ng lists no voices")
        log.info("loaded %s (%d espeak-ng voices)", model_id, len(voices))
        return cls(model_id, program, voices, parsed)

    def languages(self) -> tuple[str, ...]:
        """The voice names this espeak-ng speaks (ISO 639-1 codes among them)."""
        return tuple(sorted(self.voices))

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak ``text`` in ``options.language`` (else the default language), one chunk
        per line; bad options raise before anything is spoken."""
        program = require_open(self._program, self.model_id)
        if not (math.isfinite(options.rate) and MIN_RATE <= options.rate <= MAX_RATE):
            raise UnsupportedInput(f"rate must be between {MIN_RATE} and {MAX_RATE}", field="rate")
        language = options.language or self._params.language
        voice = voice_for(language, self.voices)
        if voice is None:
            raise UnsupportedInput(
                f"espeak-ng has no voice for language {language!r}", field="language"
            )
        if self._params.variant:
            voice += f"+{self._params.variant}"
        command = [
            program,
            "--stdout",
            "-b",
            "1",  # the text is UTF-8
            "-v",
            voice,
            "-s",
            str(round(BASE_WORDS_PER_MINUTE * options.rate)),
            "-p",
            str(self._params.pitch),
        ]
        return self._run(command, [line for line in text.splitlines() if line.strip()])

    def _run(self, command: list[str], lines: list[str]) -> Iterator[AudioChunk]:
        offset = 0.0
        for line in lines:
            try:
                # The text goes to stdin, never into the arguments.
                done = subprocess.run(  # noqa: S603
                    command,
                    input=line.encode("utf-8"),
                    capture_output=True,
                    check=True,
                    timeout=self._params.timeout_seconds,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise EngineError(f"{self.model_id!r}: espeak-ng failed: {exc}") from exc
            chunk = read_wav(done.stdout, offset)
            if chunk.frames:
                offset += chunk.seconds
                yield chunk

    def close(self) -> None:
        """Nothing stays loaded; later calls fail."""
        self._program = None


def read_wav(data: bytes, timestamp: float = 0.0) -> AudioChunk:
    """The PCM of the WAV espeak-ng wrote (its header may claim a length it did not know)."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            rate, width, channels = (
                reader.getframerate(),
                reader.getsampwidth(),
                reader.getnchannels(),
            )
            frames = reader.readframes(reader.getnframes() or 1 << 30)
    except (wave.Error, EOFError) as exc:
        raise EngineError(f"espeak-ng wrote no readable WAV: {exc}") from exc
    return AudioChunk(frames, rate, width, channels, timestamp)
