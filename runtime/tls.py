"""One TLS context for the HTTP clients of a process.

httpx loads the certificate store again for every client it makes (``verify=True``):
50-120 ms each on this 2-core machine, paid by every ``build_services`` (the model
downloader, the push channels, each OpenID provider) and so by every CLI command. The
store is loaded once instead and the context shared; it is read-only once made, which
is what sharing it between clients and threads needs.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def tls_context() -> ssl.SSLContext:
    """The context every client verifies servers with: httpx's default (certifi's store,
    or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), made once per setting."""
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # The arguments only key the cache: httpx reads the same variables itself.
    return httpx.create_ssl_context()
