"""``assistant models ps`` against a real server with models loaded (fake engines)."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from assistant.cli import app
from runtime.engines import Capability
from tests.compat.conftest import CompatEnv

runner = CliRunner()

LONG_ID = "a-model-with-a-rather-long-name-for-a-narrow-terminal:q4_k_m-instruct-2025"


def test_models_ps_shows_loaded_models_with_their_keep_alive(
    live_url: str, compat_env: CompatEnv
) -> None:
    key = compat_env.api_key()  # the first account: an admin
    compat_env.services.manager.clock = lambda: 5_000.0  # expiries exact, nothing reaped
    compat_env.services.models.models[LONG_ID] = (Capability.LLM, 300)  # type: ignore[attr-defined]
    compat_env.services.manager.pin("fake:vision")
    for model_id, keep_alive in (
        ("fake:small", 90.5),  # expires in a fraction of seconds: a float on the wire
        ("fake:big", -1),  # kept for ever: no expiry (null)
        ("fake:vision", None),  # pinned
        (LONG_ID, 7_200),
    ):
        loaded = httpx.post(
            f"{live_url}/api/v1/models/{model_id}/load",
            headers={"Authorization": f"Bearer {key}"},
            json={"keep_alive": keep_alive},
        )
        assert loaded.status_code == 200, loaded.text
    result = runner.invoke(
        app, ["models", "ps", "--url", live_url, "--api-key", key], terminal_width=80
    )
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "in 1 min 30 s" in rows["fake:small"]
    assert "never" in rows["fake:big"]
    assert "yes" in rows["fake:vision"] and "never" in rows["fake:vision"]
    assert "in 2 h" in result.output
    models = "".join(line.split("│")[1].strip() for line in result.output.splitlines()[3:-2])
    assert LONG_ID in models  # folded onto several lines, not cut off
    assert "MB budget in use" in result.output
