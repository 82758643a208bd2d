"""The HTTP face of the assistant: a Litestar app serving ``/api/v1``."""
