"""Wake-word detection on a remote Wyoming service (wyoming-openwakeword, or another
instance of this runtime's Wyoming server)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.wake import Detect, Detection

from hal.audio import AudioChunk
from hal.audio.convert import ChunkConverter
from runtime.errors import UnsupportedInput
from runtime.params import parse_params
from runtime.remote import RemoteParams, WyomingConnection, describe, wyoming_connect
from runtime.wake.base import WakeDetection

log = logging.getLogger(__name__)


class WyomingWakeWord:
    """A remote wake-word spotter: one connection per stream, opened by the first chunk.

    Detections arrive whenever the service sends them; ``process`` returns the one that
    has arrived by the time it has sent its chunk, stamped with the service's timestamp.
    """

    def __init__(self, model_id: str, params: RemoteParams, words: tuple[str, ...]) -> None:
        self.model_id = model_id
        self.params = params
        self.words = words
        self._connection: WyomingConnection | None = None
        self._converter = ChunkConverter(params.sample_rate)
        self._sent_seconds = 0.0

    @classmethod
    def load(cls, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> WyomingWakeWord:
        """Check the service is there and has the wake word."""
        parsed = parse_params(RemoteParams, params, model_id)
        info = describe(parsed)
        names = [m.name for program in info.wake for m in program.models if m.installed]
        if parsed.model is not None and parsed.model not in names:
            raise UnsupportedInput(
                f"The Wyoming service at {parsed.url} has no wake word {parsed.model!r};"
                f" it has: {', '.join(names) or 'none'}",
                field="model",
            )
        words = (parsed.model,) if parsed.model is not None else tuple(names)
        log.info("remote wake words %s at %s", ", ".join(words), parsed.url)
        return cls(model_id, parsed, words)

    def process(self, chunk: AudioChunk) -> WakeDetection | None:
        """Send audio; a detection the service has sent back, if any."""
        connection = self._connection
        if connection is None:
            connection = self._connection = wyoming_connect(self.params)
            names = [self.params.model] if self.params.model is not None else None
            connection.send(Detect(names=names).event())
            connection.send(AudioStart(rate=self.params.sample_rate, width=2, channels=1).event())
        converted = self._converter.convert(chunk)
        self._sent_seconds += converted.seconds
        try:
            connection.send(
                WyomingChunk(
                    rate=converted.rate,
                    width=2,
                    channels=1,
                    audio=converted.audio,
                    timestamp=round(converted.timestamp * 1000),
                ).event()
            )
            while connection.pending():
                event = connection.receive()
                if Detection.is_type(event.type):
                    detection = Detection.from_event(event)
                    stamp = detection.timestamp
                    return WakeDetection(
                        word=detection.name or (self.words[0] if self.words else ""),
                        score=1.0,
                        timestamp=self._sent_seconds if stamp is None else stamp / 1000,
                    )
        except Exception:
            self.reset()
            raise
        return None

    def reset(self) -> None:
        """End the stream: the next chunk opens a new one."""
        connection, self._connection = self._connection, None
        self._converter = ChunkConverter(self.params.sample_rate)
        self._sent_seconds = 0.0
        if connection is not None:
            with contextlib.suppress(Exception):  # the stream is being dropped anyway
                connection.send(AudioStop().event())
            connection.close()

    def fork(self) -> WyomingWakeWord:
        """Another stream to the same service."""
        return WyomingWakeWord(self.model_id, self.params, self.words)

    def close(self) -> None:
        """End any stream under way."""
        self.reset()
