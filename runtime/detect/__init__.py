"""detect capability."""
