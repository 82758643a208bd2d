"""Fetching images from URLs, for devices that allow it (off by default).

A device must not become a proxy into its own network: only ``https`` (and ``http``
if allowed) URLs whose host is on the allow-list are fetched, every address the host
resolves to must be public (no loopback, private, link-local or reserved ranges), no
redirects are followed, and the body is cut off at the size limit and the time limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from assistant.errors import InvalidInput, PayloadTooLarge
from assistant.urls import split_url

Resolver = Callable[[str, int], Sequence[str]]
"""host, port -> the IP addresses it resolves to."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidInput(f"The host {host!r} cannot be resolved", field="url") from exc
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FetchPolicy:
    """What may be fetched."""

    allow_hosts: tuple[str, ...] = ()
    """Host names allowed (``example.com`` also allows ``img.example.com``)."""
    max_bytes: int = 10_000_000
    """Largest body read."""
    timeout_seconds: float = 10.0
    """Longest a whole fetch may take."""
    allow_http: bool = False
    """Also fetch plain ``http`` URLs."""


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether ``host`` is on the allow-list, or a subdomain of an entry."""
    host = host.lower().rstrip(".")
    return any(
        host == entry or host.endswith("." + entry) for entry in (a.lower() for a in allowed)
    )


def check_url(url: str, policy: FetchPolicy, resolve: Resolver) -> tuple[str, int]:
    """The URL's host and port if it may be fetched; InvalidInput naming ``url`` if not."""
    parts = split_url(url, "url")
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise InvalidInput(f"Only {' and '.join(schemes)} URLs are fetched", field="url")
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise InvalidInput("The URL needs a host, and no user name or password", field="url")
    if not host_allowed(host, policy.allow_hosts):
        raise InvalidInput(
            f"{host} is not on this device's allow-list (vision.fetch.allow_hosts)", field="url"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in resolve(host, port):
        if not ipaddress.ip_address(address).is_global:
            raise InvalidInput(
                f"{host} resolves to {address}, a private or reserved address", field="url"
            )
    return host, port


class UrlFetcher:
    """Fetches images within a policy."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolve: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.resolve = resolve
        self.transport = transport

    async def fetch(self, url: str) -> bytes:
        """The body at ``url``; InvalidInput or PayloadTooLarge naming ``url``."""
        await asyncio.to_thread(check_url, url, self.policy, self.resolve)
        deadline = time.monotonic() + self.policy.timeout_seconds
        limit = self.policy.max_bytes
        try:
            async with (
                httpx.AsyncClient(
                    transport=self.transport,
                    follow_redirects=False,
                    timeout=self.policy.timeout_seconds,
                ) as client,
                client.stream("GET", url, headers={"Accept": "image/*"}) as response,
            ):
                if response.status_code != 200:
                    raise InvalidInput(
                        f"The URL answered HTTP {response.status_code}, not an image",
                        field="url",
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise PayloadTooLarge(
                        f"The image at the URL is {int(declared):,} bytes; at most {limit:,}",
                        field="url",
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise PayloadTooLarge(
                            f"The image at the URL is larger than {limit:,} bytes", field="url"
                        )
                    if time.monotonic() > deadline:
                        raise InvalidInput(
                            f"The URL took longer than {self.policy.timeout_seconds:g} s",
                            field="url",
                        )
        except httpx.HTTPError as exc:
            raise InvalidInput(f"The URL could not be fetched: {exc}", field="url") from exc
        return bytes(body)
