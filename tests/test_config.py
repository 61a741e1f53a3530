from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import Secret, find_config_path, load_settings
from collector.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_defaults_without_file(tmp_path: Path) -> None:
    settings = load_settings(None)
    assert settings.rules.stalled_days == 10.0
    assert settings.routing.default == ("17track", "cainiao")
    assert find_config_path(None) is None


def test_full_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVENTEENTRACK_API_KEY", "k-123")
    path = write(
        tmp_path,
        """
[carriers.17track]
api_key_env = "SEVENTEENTRACK_API_KEY"
base_url = "http://127.0.0.1:9/track/v2.2"
requests_per_second = 3
batch_size = 40

[routing]
default = ["17track"]
usps = ["cainiao", "17track"]

[rules]
stalled_days = 14
""",
    )
    settings = load_settings(path)
    source = settings.source("17track")
    assert source.requests_per_second == 3.0
    assert source.batch_size == 40
    assert source.secret() == Secret("k-123")
    assert settings.routing.sources_for("usps") == ("cainiao", "17track")
    assert settings.routing.sources_for("ups") == ("17track",)
    assert settings.rules.stalled_days == 14.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules]\nstaled_days = 3\n", "rules.staled_days: unknown key"),
        ("[rules]\nstalled_days = 'ten'\n", "rules.stalled_days: expected a number"),
        ("[carriers.17track]\nbatch_size = 4.5\n", "carriers.17track.batch_size: expected a whole"),
        ("[carriers.17track]\nbase = 'x'\n", "carriers.17track.base: unknown key"),
        ("[routing]\ndefault = 'cainiao'\n", "routing.default: expected a list of strings"),
        ("[nonsense]\n", "nonsense: unknown key"),
        ("[rules\n", "not valid TOML"),
        ("[rules]\nstalled_days = -1\n", "rules.stalled_days: must not be negative"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_settings(write(tmp_path, text))


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_secret_is_masked_everywhere(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[carriers.x]\napi_key = 'supersecret'\n"))
    assert "supersecret" not in repr(settings)
    assert "supersecret" not in str(settings.source("x").api_key)
    assert settings.source("x").secret() is not None
    assert settings.source("x").api_key.reveal() == "supersecret"  # type: ignore[union-attr]


def test_config_found_in_working_directory(tmp_path: Path) -> None:
    (tmp_path / "parcelproof.toml").write_text("[rules]\nstalled_days = 21\n")
    assert load_settings(None).rules.stalled_days == 21.0
