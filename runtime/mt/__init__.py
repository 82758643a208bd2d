"""mt capability."""
