"""What the workflow commands share: one transaction per action, refusals as one-line exits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.common import Refused, UsageProblem, open_database, settings_from

T = TypeVar("T")


@contextmanager
def refusals() -> Iterator[None]:
    """WorkflowRefusal -> exit 1; a malformed value (InvalidValue) -> exit 2."""
    from pcse_intake.workflows.errors import InvalidValue, WorkflowRefusal

    try:
        yield
    except InvalidValue as exc:
        raise UsageProblem(str(exc)) from exc
    except WorkflowRefusal as exc:
        raise Refused(str(exc)) from exc
    except OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()
        raise UsageProblem(f"database error: {first[0] if first else 'unknown'}") from exc


def clock() -> datetime:
    """The time every command works with (the wall clock, in UTC)."""
    return datetime.now(UTC)


def run_in_transaction(ctx: click.Context, action: Callable[[Session, Settings, datetime], T]) -> T:
    """Open the database, run `action` in one transaction (rolled back on refusal)."""
    from pcse_intake.workflows.db import transaction

    settings = settings_from(ctx)
    database = open_database(settings)
    try:
        with refusals(), transaction(database.sessions) as session:
            return action(session, settings, clock())
    finally:
        database.engine.dispose()


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
