"""Audio hardware and audio data: microphones, speakers, files, fakes and conversion."""

from hal.audio.base import Microphone, Speaker
from hal.audio.chunk import AudioChunk

__all__ = ["AudioChunk", "Microphone", "Speaker"]
