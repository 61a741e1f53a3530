"""Source tables: ``[sources.<name>]``, the deprecated ``[carriers.<name>]``, own keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import load_settings, settings_from_dict
from collector.errors import ConfigError
from collector.poll import configured_sources


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "parcelproof.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sources_table_is_the_name_and_carriers_still_works_with_a_warning(
    tmp_path: Path,
) -> None:
    new = load_settings(write(tmp_path, "[sources.cainiao]\nrequests_per_second = 0.2\n"))
    assert new.source("cainiao").requests_per_second == 0.2
    assert new.warnings == ()
    old = load_settings(write(tmp_path, "[carriers.cainiao]\nrequests_per_second = 0.2\n"))
    assert old.source("cainiao").requests_per_second == 0.2
    assert old.warnings == (
        "[carriers.cainiao] is deprecated: rename the table to [sources.cainiao]",
    )
    _, warnings = configured_sources(old)
    assert warnings[0].startswith("[carriers.cainiao] is deprecated")


def test_the_same_source_in_both_tables_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"carriers\.cainiao: also given as \[sources\.cainiao\]"):
        settings_from_dict({"sources": {"cainiao": {}}, "carriers": {"cainiao": {}}})


def test_errors_name_the_table_as_written() -> None:
    with pytest.raises(ConfigError, match=r"sources\.17track\.batch_size: expected a whole"):
        settings_from_dict({"sources": {"17track": {"batch_size": 4.5}}})
    with pytest.raises(ConfigError, match=r"sources\.17track\.colour: unknown key"):
        settings_from_dict({"sources": {"17track": {"colour": "red"}}})
    with pytest.raises(ConfigError, match=r"sources\.mystery\.colour: unknown key"):
        settings_from_dict({"sources": {"mystery": {"colour": "red"}}})
