"""What every command shares: loading settings, opening the database, failing in one line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click

from pcse_intake.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # SQLAlchemy loads only for commands that open a database (not `parse`)
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

EXIT_REFUSED = 1  # refused by the workflow: wrong state, four-eyes rule, not found
EXIT_USAGE = 2  # usage or configuration error


class Refused(click.ClickException):
    """The workflow said no; printed as one line, exit 1."""

    exit_code = EXIT_REFUSED


class UsageProblem(click.ClickException):
    """Bad input or configuration; printed as one line, exit 2."""

    exit_code = EXIT_USAGE


def settings_from(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    cached = root.meta.get("pcse.settings")
    if isinstance(cached, Settings):
        return cached
    config_path = (root.obj or {}).get("config_path")
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from exc
    root.meta["pcse.settings"] = settings
    return settings


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(settings: Settings, *, require_migrated: bool = True) -> Database:
    """Connect, and refuse clearly (exit 2) if the database has not been migrated."""
    from pcse_intake.workflows.db import make_engine, make_sessionmaker
    from pcse_intake.workflows.migrate import DatabaseNotReady, require_current

    try:
        engine = make_engine(settings.database.url)
        if require_migrated:
            require_current(engine)
    except DatabaseNotReady as exc:
        raise UsageProblem(str(exc)) from exc
    except Exception as exc:  # a driver error: unreachable server, bad URL, unreadable file
        raise UsageProblem(f"cannot open database: {_one_line(exc)}") from exc
    return Database(engine, make_sessionmaker(engine))


def fail(message: str, *, refused: bool = False) -> NoReturn:
    raise (Refused if refused else UsageProblem)(message)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
