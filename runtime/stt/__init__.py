"""stt capability."""
