"""Migrations: they build exactly the models' schema, and an unmigrated database is refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pcse_intake.workflows.db import make_engine
from pcse_intake.workflows.migrate import DatabaseNotReady, require_current, upgrade
from pcse_intake.workflows.models import Base
from tests.conftest import TestDatabase


def test_migrations_build_exactly_the_schema_the_models_declare(database: TestDatabase) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_an_unmigrated_database_is_refused_with_the_command_to_run(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with pytest.raises(DatabaseNotReady, match="pcse-intake db upgrade"):
        require_current(engine)
    upgrade(engine)
    require_current(engine)


def test_upgrade_twice_is_harmless(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    upgrade(engine)
    require_current(engine)
