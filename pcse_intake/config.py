"""Load `config.toml` once into frozen, typed settings that are passed down explicitly."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
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
        if self.second_factor not in ("required", "off"):
            raise ConfigError(
                f'[console] second_factor must be "required" or "off", not {self.second_factor!r}'
            )
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
        sections[name] = _build_section(section_type, table, f"{source}: [{name}]")
    return Settings(**sections, source=source)


def _build_section(section_type: type[Any], table: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(section_type)
    known = {f.name for f in dataclasses.fields(section_type)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where} unknown key {key!r}")
        values[key] = _coerce(hints[key], value, f"{where} {key}")
    return section_type(**values)


def _coerce(expected: Any, value: Any, where: str) -> Any:
    if typing.get_origin(expected) is tuple:  # tuple[str, ...]: a TOML array of strings
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, not {value!r}")
        return tuple(value)
    if isinstance(expected, types.UnionType):
        expected = next(t for t in typing.get_args(expected) if t is not type(None))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise ConfigError(f"{where} must be a whole number, not {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where} must be {expected.__name__}, not {value!r}")
    return value
