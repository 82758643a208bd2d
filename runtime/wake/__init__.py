"""wake capability."""
