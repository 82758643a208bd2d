"""vad capability."""
