"""The shared TLS context of the HTTP clients."""

from __future__ import annotations

import ssl

import certifi
import pytest

from runtime.tls import tls_context


def test_one_context_is_made_and_shared() -> None:
    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the certificate store is loaded


def test_a_certificate_file_from_the_environment_gets_its_own_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = tls_context()
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    custom = tls_context()
    assert custom is not default and custom is tls_context()
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with pytest.raises(FileNotFoundError):
        tls_context()  # a wrong file is said at once, not at the first connection
    monkeypatch.undo()
    assert tls_context() is default  # back to the first setting: its context again
