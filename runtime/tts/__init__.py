"""tts capability."""
