"""Hardware abstraction: microphone, speaker and camera behind small Protocols."""
