"""Load `config.toml` once into frozen, typed settings that are passed down explicitly."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "PCSE_INTAKE_CONFIG"


class ConfigError(Exception):
    """The configuration file is missing, unreadable or holds a wrong key or value."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///pcse-intake.db"


@dataclass(frozen=True)
class MailboxSettings:
    host: str = "127.0.0.1"
    port: int = 993
    security: str = "ssl"  # ssl | starttls | none
    allow_insecure: bool = False
    username: str = "pcse.datamanager@nhs.net"
    password_env: str = "PCSE_INTAKE_IMAP_PASSWORD"
    auth: str = "password"  # password | xoauth2
    oauth_tenant_id: str = ""
    oauth_client_id: str = ""
    oauth_client_secret_env: str = "PCSE_INTAKE_OAUTH_CLIENT_SECRET"
    oauth_scope: str = "https://outlook.office365.com/.default"
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    authserv_id: str = ""
    batch_size: int = 100
    batch_max_megabytes: float = 64.0  # a batch also stops at this many bytes of mail
    parse_helper: bool = True  # parse the next batch in a helper process (2+ cores)
    timeout_seconds: float = 30.0
    idle: bool = False
    max_attempts: int = 3
    backlog_ack_max_age_hours: float = 72.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 587
    security: str = "starttls"  # ssl | starttls | none
    allow_insecure: bool = False
    username: str = ""
    password_env: str = "PCSE_INTAKE_SMTP_PASSWORD"
    from_address: str = "pcse.datamanager@nhs.net"
    from_name: str = "PCSE Data Management"
    bounce_address: str = ""
    timeout_seconds: float = 30.0
    max_attempts: int = 8


@dataclass(frozen=True)
class ScheduleSettings:
    poll_seconds: int = 60
    outbox_seconds: int = 30
    reminders_time: str = "08:00"
    retention_time: str = "02:30"


@dataclass(frozen=True)
class ParserSettings:
    max_message_bytes: int = 36_700_160  # 35 MiB, the NHSmail attachment cap


@dataclass(frozen=True)
class WorkflowSettings:
    four_eyes: bool = True
    cooling_off_hours: float = 24.0
    reminder_working_days: int = 3
    staff_digest_address: str = ""
    acknowledgements_per_sender_per_day: int = 1
    replies_per_address_per_hour: int = 3
    loop_alert_after: int = 10


@dataclass(frozen=True)
class RetentionSettings:
    raw_message_days: int = 730


@dataclass(frozen=True)
class ConsoleSettings:
    bind: str = "127.0.0.1"
    port: int = 8080
    secure_cookies: bool = True
    session_idle_minutes: int = 30
    session_absolute_hours: int = 10
    second_factor: str = "required"  # required | off: a code from an authenticator app
    # Addresses or networks of the reverse proxies whose X-Forwarded-For is believed; from any
    # other peer the header is ignored (it would let a client choose the address it is
    # throttled and recorded under).
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"[console] trusted_proxies: {proxy!r} is not an IP address or network"
                ) from None


@dataclass(frozen=True)
class HealthSettings:
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = 9108
    stale_poll_seconds: int = 600


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    mailbox: MailboxSettings = field(default_factory=MailboxSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    parser: ParserSettings = field(default_factory=ParserSettings)
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    source: str = "built-in defaults"


@dataclass(frozen=True)
class Between:
    """A finite number from `low` to `high`, both included (never nan, inf or a boolean)."""

    low: float
    high: float
    unit: str = ""

    def allows(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return self.low <= value <= self.high

    def allowed(self, expected: type) -> str:
        kind = "a whole number" if expected is int else "a number"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} from {_number(self.low)} to {_number(self.high)}{unit}"


@dataclass(frozen=True)
class OneOf:
    """One of a few words (compared without regard to case when `any_case`)."""

    choices: tuple[str, ...]
    any_case: bool = False

    def allows(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        if self.any_case:
            return value.upper() in (c.upper() for c in self.choices)
        return value in self.choices

    def allowed(self, expected: type) -> str:
        return "one of " + ", ".join(f'"{c}"' for c in self.choices)


_CLOCK = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")


@dataclass(frozen=True)
class ClockTime:
    """A time of day written HH:MM (24-hour clock)."""

    def allows(self, value: object) -> bool:
        return isinstance(value, str) and _CLOCK.fullmatch(value) is not None

    def allowed(self, expected: type) -> str:
        return 'a time of day from "00:00" to "23:59"'


Rule = Between | OneOf | ClockTime
PORT = Between(1, 65535)
SECURITY = OneOf(("ssl", "starttls", "none"))
TIMEOUT = Between(0.1, 3600, "seconds")
ATTEMPTS = Between(1, 100)

# What each numeric or enumerated key may hold, checked as the file is read: a value out of
# range (a negative cooling-off, port 99999, nan) stops start-up with one line naming it.
# Every int and float key must have a rule here (tests/test_config.py checks).
RULES: dict[str, dict[str, Rule]] = {
    "mailbox": {
        "port": PORT,
        "security": SECURITY,
        "auth": OneOf(("password", "xoauth2")),
        "batch_size": Between(1, 10_000),
        "batch_max_megabytes": Between(0.1, 4096, "megabytes"),
        "timeout_seconds": TIMEOUT,
        "max_attempts": ATTEMPTS,
        "backlog_ack_max_age_hours": Between(0, 8760, "hours"),
    },
    "smtp": {
        "port": PORT,
        "security": SECURITY,
        "timeout_seconds": TIMEOUT,
        "max_attempts": ATTEMPTS,
    },
    "schedule": {
        "poll_seconds": Between(1, 86_400, "seconds"),
        "outbox_seconds": Between(1, 86_400, "seconds"),
        "reminders_time": ClockTime(),
        "retention_time": ClockTime(),
    },
    "parser": {"max_message_bytes": Between(1_000, 1_073_741_824, "bytes")},
    "workflow": {
        "cooling_off_hours": Between(0, 720, "hours"),
        "reminder_working_days": Between(1, 60, "working days"),
        "acknowledgements_per_sender_per_day": Between(0, 1_000),
        "replies_per_address_per_hour": Between(0, 1_000),
        "loop_alert_after": Between(1, 1_000_000, "messages"),
    },
    "retention": {"raw_message_days": Between(1, 36_500, "days")},
    "console": {
        "port": PORT,
        "session_idle_minutes": Between(1, 1_440, "minutes"),
        "session_absolute_hours": Between(1, 168, "hours"),
        "second_factor": OneOf(("required", "off")),
    },
    "health": {
        "port": PORT,
        "stale_poll_seconds": Between(60, 604_800, "seconds"),
    },
    "logging": {"level": OneOf(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), any_case=True)},
}


def find_config(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The file to read: --config, else ./config.toml, else $PCSE_INTAKE_CONFIG, else none."""
    if explicit:
        return Path(explicit)
    local = Path("config.toml")
    if local.is_file():
        return local
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else None


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """Read the configuration file (or use the built-in defaults when there is none)."""
    path = find_config(explicit)
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib reads nested arrays and tables recursively
        raise ConfigError(f"config file {path} nests arrays or tables too deeply") from exc
    return settings_from_mapping(data, source=str(path))


def settings_from_mapping(data: dict[str, Any], *, source: str = "mapping") -> Settings:
    """Build Settings from parsed TOML, refusing unknown sections, keys and wrong types."""
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for name, table in data.items():
        section_type = hints.get(name)
        if section_type is None or name == "source":
            raise ConfigError(f"{source}: unknown section [{name}]")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        where = f"{source}: [{name}]"
        sections[name] = _build_section(section_type, table, where, RULES.get(name, {}))
    return Settings(**sections, source=source)


def _build_section(
    section_type: type[Any], table: dict[str, Any], where: str, rules: dict[str, Rule]
) -> Any:
    hints = typing.get_type_hints(section_type)
    known = {f.name for f in dataclasses.fields(section_type)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where} unknown key {key!r}")
        rule = rules.get(key)
        try:
            values[key] = _coerce(hints[key], value, f"{where} {key}")
        except ConfigError:
            if rule is None:
                raise
            values[key] = None  # the wrong type: refused below, with what is allowed
        if rule is not None and not rule.allows(values[key]):
            raise ConfigError(
                f"{where} {key} = {_shown(value)} is not allowed: "
                f"it must be {rule.allowed(hints[key])}"
            )
    return section_type(**values)


def _shown(value: object) -> str:
    """The value as the file wrote it, on one short line (a hostile value may be huge)."""
    text = json.dumps(value) if isinstance(value, str | bool) else repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _coerce(expected: Any, value: Any, where: str) -> Any:
    if typing.get_origin(expected) is tuple:  # tuple[str, ...]: a TOML array of strings
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, not {value!r}")
        return tuple(value)
    if isinstance(expected, types.UnionType):
        expected = next(t for t in typing.get_args(expected) if t is not type(None))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # past any float: out of every range, refused by its rule
            return math.inf if value > 0 else -math.inf
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{where} must be a whole number, not {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where} must be {expected.__name__}, not {value!r}")
    return value
