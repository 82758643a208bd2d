"""The real OpenID provider of the OIDC tests: node-oidc-provider (``provider.mjs``)
started with Node on a loopback port, with signing keys made here, and a "browser" that
walks its login and consent forms with httpx."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

HERE = Path(__file__).parent
SCRIPT = HERE / "provider.mjs"
APP_ORIGIN = "http://testserver.local"
"""Where Litestar's test client serves the app (the registered redirect URIs point here)."""
CLIENT_SECRET = "a-test-client-secret-that-is-long-enough"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_signing_key() -> dict[str, Any]:
    """A private RSA JWK with a fresh ``kid``."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private))
    jwk.update(kid=uuid.uuid4().hex[:12], use="sig", alg="RS256")
    return jwk


def redirect_uris(*providers: str) -> list[str]:
    return [f"{APP_ORIGIN}/api/v1/auth/oidc/{p}/callback" for p in providers]


def clients(extra_redirect_uris: list[str] | None = None) -> list[dict[str, Any]]:
    """A confidential client and a public one (PKCE only, device flow too)."""
    return [
        {
            "client_id": "assistant",
            "client_secret": CLIENT_SECRET,
            "redirect_uris": redirect_uris("test", "strict") + (extra_redirect_uris or []),
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        {
            "client_id": "assistant-public",
            "redirect_uris": redirect_uris("public"),
            "grant_types": ["authorization_code", DEVICE_GRANT],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    ]


@dataclass
class Provider:
    """A running node-oidc-provider."""

    folder: Path
    port: int = field(default_factory=free_port)
    keys: list[dict[str, Any]] = field(default_factory=lambda: [new_signing_key()])
    process: subprocess.Popen[str] | None = None
    extra_redirect_uris: list[str] = field(default_factory=list)
    """Redirect URIs of apps served on real ports (the browser test)."""

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
            pytest.fail(
                "the test OpenID provider needs Node and `npm ci` in tests/oidc"
                " (run ./scripts/setup.sh test)"
            )
        keys_file = self.folder / "jwks.json"
        keys_file.write_text(json.dumps({"keys": self.keys}))
        env = {
            "PATH": str(Path(node).parent),
            "OIDC_PORT": str(self.port),
            "OIDC_CLIENTS": json.dumps(clients(self.extra_redirect_uris)),
            "OIDC_JWKS_FILE": str(keys_file),
            "NODE_ENV": "test",
        }
        self.process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("ready "):
                break
        else:
            pytest.fail(f"the OpenID provider did not start (exit {self.process.wait()})")
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        for _ in range(200):
            try:
                httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        pytest.fail("the OpenID provider does not answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def rotate(self) -> None:
        """Restart with a new signing key only (the old one is gone, as after a rotation)."""
        self.stop()
        self.keys = [new_signing_key()]
        self.start()

    def settings(self, **providers: dict[str, Any]) -> dict[str, Any]:
        """``auth.oidc`` settings naming this provider."""
        return {"providers": {name: {"issuer": self.issuer, **p} for name, p in providers.items()}}


_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_PROMPT = re.compile(r'name="prompt" value="([a-z]+)"')


def sign_in_at_provider(
    authorization_url: str, login: str, *, abort: bool = False, consent: bool = True
) -> str:
    """Walk the provider's login and consent forms as a browser would; the URL it finally
    redirects to (the app's callback, with ``code`` and ``state``)."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        answer = browser.get(authorization_url)
        for _ in range(12):
            location = answer.headers.get("location")
            if location is None:
                page = answer.text
                prompt = _PROMPT.search(page)
                action = _ACTION.search(page)
                assert prompt and action, page[:500]
                target = urljoin(str(answer.url), action.group(1))
                if abort:
                    answer = browser.get(target + "/abort")
                elif prompt.group(1) == "login":
                    answer = browser.post(
                        target, data={"prompt": "login", "login": login, "password": "any"}
                    )
                else:
                    assert consent
                    answer = browser.post(target, data={"prompt": "consent"})
                continue
            url = urljoin(str(answer.url), location)
            if not url.startswith(APP_ORIGIN):
                answer = browser.get(url)
                continue
            return url
    raise AssertionError("the provider never sent the browser back")


_FORM = re.compile(r"<form([^>]*)>(.*?)</form>", re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def approve_device(verification_uri_complete: str, login: str) -> str:
    """Open the device page with its code, confirm, sign in and consent, as the person
    with the phone would; the provider's last page."""
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(verification_uri_complete)
        for _ in range(12):
            forms = _FORM.findall(page.text)
            if not forms:
                return page.text
            attributes, body = forms[0]
            action = re.search(r'action="([^"]+)"', attributes)
            target = urljoin(str(page.url), action.group(1) if action else str(page.url))
            prompt = _PROMPT.search(body)
            if prompt and prompt.group(1) == "login":
                fields = {"prompt": "login", "login": login, "password": "any"}
            elif prompt:
                fields = {"prompt": prompt.group(1)}
            else:
                fields = dict(_HIDDEN.findall(body))
                if 'id="op.deviceConfirmForm"' in attributes:
                    fields["confirm"] = "yes"
            page = browser.post(target, data=fields)
    raise AssertionError("the device flow never finished")
