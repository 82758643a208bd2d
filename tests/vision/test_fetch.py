"""Fetching images from URLs: off by default; allow-list, public addresses, limits."""

from __future__ import annotations

import httpx
import pytest

from assistant.errors import InvalidInput, PayloadTooLarge
from assistant.vision.fetch import FetchPolicy, UrlFetcher, check_url, host_allowed

POLICY = FetchPolicy(allow_hosts=("example.com",), max_bytes=1000)


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/a.jpg", "Only https"),
        ("file:///etc/passwd", "Only https"),
        ("https://evil.test/a.jpg", "allow-list"),
        ("https://user:pw@example.com/a.jpg", "no user name"),
        ("https:///a.jpg", "needs a host"),
    ],
)
def test_urls_outside_the_policy_are_refused(url: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        check_url(url, POLICY, public)
    assert caught.value.field == "url"


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "169.254.169.254", "::1", "fd00::1"]
)
def test_private_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidInput, match="private or reserved"):
        check_url("https://img.example.com/a.jpg", POLICY, lambda host, port: [address])


def test_subdomains_of_allowed_hosts_are_allowed() -> None:
    assert host_allowed("img.example.com", ["example.com"])
    assert not host_allowed("badexample.com", ["example.com"])
    assert check_url("https://img.example.com/a.jpg", POLICY, public) == ("img.example.com", 443)


async def test_fetch_reads_within_the_limit() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sizes = {"/small.png": 10, "/big.png": 5000}
        if request.url.path == "/moved.png":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1/"})
        return httpx.Response(200, content=b"x" * sizes[request.url.path])

    fetcher = UrlFetcher(POLICY, resolve=public, transport=httpx.MockTransport(answer))
    assert await fetcher.fetch("https://example.com/small.png") == b"x" * 10
    with pytest.raises(PayloadTooLarge):
        await fetcher.fetch("https://example.com/big.png")
    with pytest.raises(InvalidInput, match="HTTP 302"):
        await fetcher.fetch("https://example.com/moved.png")
