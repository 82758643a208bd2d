"""URLs from clients: what cannot be split is the client's mistake, named by its field."""

from __future__ import annotations

import pytest

from assistant.errors import InvalidInput
from assistant.urls import split_url


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://push.example.com/x", "push.example.com", None),
        ("http://127.0.0.1:8080/cb", "127.0.0.1", 8080),
        ("http://[::1]:9/", "::1", 9),
        ("/app/", None, None),
    ],
)
def test_urls_split_into_their_parts(url: str, host: str | None, port: int | None) -> None:
    parts = split_url(url, "url")
    assert (parts.hostname, parts.port) == (host, port)


@pytest.mark.parametrize(
    "url",
    [
        "http://]snZ",  # an IPv6 bracket never opened
        "http://[::1/x",  # one never closed
        "https://example.com:http/",  # a port that is not a number
        "https://example.com:99999/",  # a port out of range
    ],
)
def test_a_url_that_cannot_be_split_names_its_field(url: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        split_url(url, "endpoint")
    assert raised.value.field == "endpoint"
    assert "endpoint is not a URL" in str(raised.value)
