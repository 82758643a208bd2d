"""One controller per service."""
