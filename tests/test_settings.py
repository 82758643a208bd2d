from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import InvalidInput
from assistant.settings import Settings


def test_defaults_put_everything_in_the_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = Settings.load()
    assert settings.data_dir == tmp_path / "assistant"
    assert settings.db_path == tmp_path / "assistant" / "assistant.db"
    assert settings.models_dir == tmp_path / "assistant" / "models"
    assert settings.server.host == "127.0.0.1"


def test_environment_nested_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "9001")
    monkeypatch.setenv("ASSISTANT_AUTH__OPEN_REGISTRATION", "true")
    settings = Settings.load()
    assert settings.server.port == 9001
    assert settings.auth.open_registration is True


def test_toml_file_below_environment_below_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "assistant.toml"
    config.write_text('log_level = "DEBUG"\n[server]\nport = 9100\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "9200")
    settings = Settings.load(config, data_dir=tmp_path / "d")
    assert settings.log_level == "DEBUG"
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 9200
    assert settings.data_dir == tmp_path / "d"
    assert type(settings) is Settings


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[server\nport=1", "not valid TOML"),
        ("[server]\nport = 0\n", "server.port"),
        ("[server]\nbogus = 1\n", "server.bogus"),
        ("colour = 'blue'\n", "colour"),
        ("[server]\ntrusted_proxies = ['proxy.lan']\n", "server.trusted_proxies"),
    ],
)
def test_bad_config_files_are_named_clearly(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        Settings.load(config)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        Settings.load(tmp_path / "nope.toml")


def test_public_dump_masks_secrets(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path, sync={"url": "https://x", "token": "s3cret"})
    dumped = settings.public_dump()
    assert "s3cret" not in str(dumped)
    assert dumped["sync"]["token"] == "**********"
    assert settings.sync.token is not None
    assert settings.sync.token.get_secret_value() == "s3cret"


def test_no_proxy_is_trusted_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().server.trusted_proxies == []
    monkeypatch.setenv("ASSISTANT_SERVER__TRUSTED_PROXIES", '["127.0.0.1", " 10.1.2.3/8 ", "::1"]')
    assert Settings.load().server.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]


def test_per_model_keep_alive_has_seconds_in_its_name(tmp_path: Path) -> None:
    config = tmp_path / "assistant.toml"
    config.write_text('[models.keep_alive_seconds_by_model]\n"a:1" = 30\n')
    assert Settings.load(config).models.keep_alive_seconds_by_model == {"a:1": 30.0}


def test_the_former_keep_alive_name_still_works_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "assistant.toml"
    config.write_text('[models.keep_alive]\n"a:1" = 30\n')
    assert Settings.load(config).models.keep_alive_seconds_by_model == {"a:1": 30.0}
    assert "models.keep_alive is deprecated: rename it models.keep_alive_seconds_by_model" in (
        caplog.text
    )
    monkeypatch.setenv("ASSISTANT_MODELS__KEEP_ALIVE", '{"b:1": -1}')
    assert Settings.load().models.keep_alive_seconds_by_model == {"b:1": -1.0}


def test_the_former_and_the_current_name_together_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "assistant.toml"
    config.write_text(
        '[models.keep_alive]\n"a:1" = 30\n[models.keep_alive_seconds_by_model]\n"a:1" = 5\n'
    )
    with pytest.raises(InvalidInput, match=r"set models\.keep_alive_seconds_by_model only"):
        Settings.load(config)


def test_voice_replies_start_with_their_first_clause(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().voice.pipeline_options().sentences.first_clause_words == 4
    monkeypatch.setenv("ASSISTANT_VOICE__FIRST_CLAUSE_WORDS", "0")  # off: whole sentences
    assert Settings.load().voice.pipeline_options().sentences.first_clause_words is None
    monkeypatch.setenv("ASSISTANT_VOICE__FIRST_CLAUSE_WORDS", "7")
    assert Settings.load().voice.pipeline_options().sentences.first_clause_words == 7
