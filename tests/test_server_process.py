"""`assistant serve` as a real process: it answers, documents itself and shuts down cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent / "assistant"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()[0]}")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start within 30 s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN), "--data-dir", str(tmp_path / "data"), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ASSISTANT_LOG_LEVEL": "INFO"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_answers_health_docs_and_the_auth_flow(
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = server
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(url + "/readyz").status_code == 200
    docs = httpx.get(url + "/docs", follow_redirects=True)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn.jsdelivr" not in docs.text  # works offline
    assert httpx.get(url + "/docs/static/swagger-ui-bundle.js").status_code == 200
    schema = httpx.get(url + "/schema/openapi.json").json()
    assert "/api/v1/auth/login" in schema["paths"]
    tokens = httpx.post(
        url + "/api/v1/auth/register", json={"username": "ada", "password": "correct horse"}
    ).json()
    me = httpx.get(
        url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["username"] == "ada"


def test_sigterm_finishes_cleanly(server: tuple[str, subprocess.Popen[str]]) -> None:
    _, process = server
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so supervisors see it.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output
    assert "serving on http://127.0.0.1" in output


def test_binding_to_all_interfaces_is_announced(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN), "--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "reachable from the network" in output


def test_models_ps_talks_to_the_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "ASSISTANT_SERVER__PORT": str(port)}
    created = subprocess.run(
        [str(BIN), "--data-dir", str(data), "users", "add", "ada", "--password-stdin"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "created ada" in created.stdout
    key = (
        subprocess.run(
            [str(BIN), "--data-dir", str(data), "users", "api-key", "ada", "cli"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert key.startswith("ak_")
    process = subprocess.Popen(
        [str(BIN), "--data-dir", str(data), "serve"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
        ps = subprocess.run(
            [str(BIN), "--data-dir", str(data), "models", "ps", "--api-key", key],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert ps.returncode == 0, ps.stdout + ps.stderr
        assert "MB budget in use" in ps.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.parametrize("trusted", [False, True], ids=["no-proxy", "trusted-proxy"])
def test_forwarded_headers_count_only_from_configured_proxies(
    tmp_path: Path, trusted: bool
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local process could
    pick the address that login throttling counts and sessions record."""
    port = free_port()
    env = {**os.environ, "ASSISTANT_AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS": "3"}
    if trusted:
        env["ASSISTANT_SERVER__TRUSTED_PROXIES"] = '["127.0.0.1"]'
    process = subprocess.Popen(
        [str(BIN), "--data-dir", str(tmp_path / "data"), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        tokens = httpx.post(
            url + "/api/v1/auth/register",
            json={"username": "ada", "password": "correct horse"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        ).json()
        sessions = httpx.get(
            url + "/api/v1/auth/sessions",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ).json()
        # Failed logins for different accounts, each claiming another address.
        statuses = [
            httpx.post(
                url + "/api/v1/auth/login",
                json={"username": f"user{i}", "password": "wrong horse"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(4)
        ]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    if trusted:
        assert sessions[0]["client_address"] == "203.0.113.9"
        assert statuses == [401, 401, 401, 401]
        assert "trusting X-Forwarded-For and X-Forwarded-Proto from 127.0.0.1" in output
    else:
        assert sessions[0]["client_address"] == "127.0.0.1"
        assert statuses == [401, 401, 401, 429]
