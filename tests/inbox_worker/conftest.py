"""The real-server fixtures (tests/servers.py) made available to the inbox worker's tests."""

from collections.abc import Iterator

import pytest

from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.migrate import upgrade
from tests.conftest import TestDatabase
from tests.servers import dovecot_server, pymap_server, smtp_sink

__all__ = ["dovecot_server", "pymap_server", "smtp_sink", "sqlite_database"]


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[TestDatabase]:
    """A migrated SQLite database (for tests whose subject is not the database backend)."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield TestDatabase(sqlite_url, engine, make_sessionmaker(engine))
    engine.dispose()
