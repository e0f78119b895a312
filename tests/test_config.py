"""The configuration loader: the shipped config.toml, unknown keys, wrong types, lookup order."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcse_intake.config import ConfigError, Settings, find_config, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_holds_only_known_keys_and_the_documented_defaults() -> None:
    shipped = load_settings(ROOT / "config.toml")
    defaults = Settings()
    for section in (
        "database",
        "mailbox",
        "smtp",
        "schedule",
        "parser",
        "workflow",
        "retention",
        "console",
        "health",
        "logging",
    ):
        assert getattr(shipped, section) == getattr(defaults, section), section


def test_every_key_in_the_shipped_config_has_a_comment_above_it() -> None:
    lines = (ROOT / "config.toml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            above = lines[i - 1]
            assert above.startswith("#") or "=" in above, f"uncommented key: {line}"


def test_unknown_key_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mailbox]\nhots = "x"\n')
    with pytest.raises(ConfigError, match="hots"):
        load_settings(path)


def test_wrong_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[schedule]\npoll_seconds = "often"\n')
    with pytest.raises(ConfigError, match="poll_seconds"):
        load_settings(path)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[database\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_lookup_prefers_explicit_then_local_file_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PCSE_INTAKE_CONFIG", str(tmp_path / "env.toml"))
    assert find_config(None) == tmp_path / "env.toml"
    (tmp_path / "config.toml").write_text("")
    assert find_config(None) == Path("config.toml")
    assert find_config("other.toml") == Path("other.toml")
