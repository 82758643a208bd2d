"""URLs that clients send (push endpoints, image URLs, sync remotes, app redirects)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from assistant.errors import InvalidInput


def split_url(value: str, field: str) -> SplitResult:
    """``value`` split into its parts; a URL that cannot be split (an unclosed IPv6
    bracket, a port that is not a number) is ``InvalidInput`` naming ``field``, not the
    ``ValueError`` that ``urlsplit`` and ``SplitResult.port`` raise."""
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise InvalidInput(f"{field} is not a URL that can be read: {exc}", field=field) from exc
    return parts
