"""Fixtures every test area shares: fresh SQLite and PostgreSQL databases, migrated."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.inbox_worker.cli import workflow_support
from pcse_intake.workflows import staff as staff_accounts
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.migrate import upgrade
from tests.staff_support import CliClock, CliStaff

# The PostgreSQL server the dev and CI machines run (trust auth); override to point elsewhere.
PG_ADMIN_URL = os.environ.get(
    "PCSE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CORPUS = Path(__file__).parent / "data" / "corpus"


@dataclass(frozen=True)
class TestDatabase:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    __test__ = False  # not a test class, whatever its name says


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pcse-intake.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    name = f"pcse_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def database(db_url: str) -> Iterator[TestDatabase]:
    """A migrated database (both backends), with an engine and a sessionmaker."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield TestDatabase(db_url, engine, make_sessionmaker(engine))
    engine.dispose()


@pytest.fixture
def cli_staff(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliStaff]:
    """Staff for commands run in this process (click's CliRunner): the command line's clock
    moves on a code step for each set of credentials, and Argon2 uses its cheapest
    parameters (production hashing is slow by design). Add accounts once the database is
    migrated."""
    clock = CliClock()
    monkeypatch.setattr(workflow_support, "clock", clock)
    monkeypatch.setattr(staff_accounts, "_hasher", PasswordHasher.from_parameters(CHEAPEST))
    engine = make_engine(db_url)
    yield CliStaff(make_sessionmaker(engine), clock)
    engine.dispose()
