"""The configuration loader: the shipped config.toml, unknown keys, wrong types, ranges,
lookup order."""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest

from pcse_intake.config import (
    RULES,
    Between,
    ConfigError,
    Settings,
    find_config,
    load_settings,
    settings_from_mapping,
)

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


def _every_key() -> list[tuple[str, str, type]]:
    keys = []
    for section, section_type in typing.get_type_hints(Settings).items():
        if section == "source":
            continue
        for name, hint in typing.get_type_hints(section_type).items():
            keys.append((section, name, hint))
    return keys


def test_every_numeric_key_has_a_range_and_every_default_is_inside_its_rule() -> None:
    defaults = Settings()
    for section, key, hint in _every_key():
        rule = RULES.get(section, {}).get(key)
        if hint in (int, float):
            assert isinstance(rule, Between), f"[{section}] {key} has no range"
        if rule is not None:
            assert rule.allows(getattr(getattr(defaults, section), key)), (section, key)


@pytest.mark.parametrize(
    ("section", "key"),
    [(s, k) for s, rules in RULES.items() for k, r in rules.items() if isinstance(r, Between)],
)
def test_both_ends_of_a_range_are_accepted_and_one_step_past_either_is_refused(
    section: str, key: str
) -> None:
    rule = RULES[section][key]
    assert isinstance(rule, Between)
    whole = typing.get_type_hints(type(getattr(Settings(), section)))[key] is int
    step = 1 if whole else 0.001
    for value in (rule.low, rule.high):
        given = int(value) if whole else value
        loaded = settings_from_mapping({section: {key: given}})
        assert getattr(getattr(loaded, section), key) == given
    for value in (rule.low - step, rule.high + step):
        given = int(value) if whole else value
        with pytest.raises(ConfigError, match=rf"^mapping: \[{section}\] {key} = .* must be"):
            settings_from_mapping({section: {key: given}})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400, True, "24", [24]])
def test_a_number_that_is_not_finite_or_not_a_number_is_refused_naming_the_range(
    value: object,
) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from_mapping({"workflow": {"cooling_off_hours": value}})
    message = str(refused.value)
    assert message.startswith("mapping: [workflow] cooling_off_hours = ")
    assert message.endswith("it must be a number from 0 to 720 hours")
    assert "\n" not in message and len(message) < 200


def test_words_and_times_are_checked_against_what_is_allowed() -> None:
    assert settings_from_mapping({"logging": {"level": "debug"}}).logging.level == "debug"
    schedule = settings_from_mapping({"schedule": {"reminders_time": "7:05"}}).schedule
    assert schedule.reminders_time == "7:05"
    for section, key, value in (
        ("mailbox", "security", "tls"),
        ("smtp", "security", "SSL"),
        ("mailbox", "auth", "basic"),
        ("schedule", "reminders_time", "24:00"),
        ("schedule", "retention_time", "02:30:00"),
        ("logging", "level", "TRACE"),
    ):
        with pytest.raises(ConfigError, match=rf"\[{section}\] {key} = .* it must be "):
            settings_from_mapping({section: {key: value}})


def test_too_deeply_nested_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[database]\nurl = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="too deeply"):
        load_settings(path)


def test_every_range_is_documented_for_operators() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for section, rules in RULES.items():
        for key in rules:
            assert f"`{section}.{key}`" in operations, f"{section}.{key}"
