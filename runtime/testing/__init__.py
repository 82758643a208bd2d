"""Tiny deterministic models and helpers for tests and benchmarks."""
