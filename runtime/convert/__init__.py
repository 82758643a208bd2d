"""convert capability."""
