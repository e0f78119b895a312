"""Fixtures for the attack tests: the console's cheap password hashing, a seeded database."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pcse_intake.inbox_worker.cli import cli
from tests.conftest import TestDatabase
from tests.console.conftest import Console, make_console
from tests.console.conftest import cheap_argon2 as cheap_argon2  # autouse here too

DATA = resources.files("pcse_intake").joinpath("data")


def run_cli(config: Path, *args: str) -> Result:
    """`pcse-intake --config CONFIG ARGS...` through click's runner, as an operator types it."""
    return CliRunner().invoke(cli, ["--config", str(config), *args])


@pytest.fixture
def config(database: TestDatabase, tmp_path: Path) -> Path:
    """A config on the test database whose reply caps let every message be answered alike."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{database.url}"\n\n[workflow]\n'
        "acknowledgements_per_sender_per_day = 1000\nreplies_per_address_per_hour = 1000\n"
        "loop_alert_after = 1000000\n",
        encoding="utf-8",
    )
    result = run_cli(path, "registry", "import", str(DATA.joinpath("epraccur_sample.csv")))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def staff_console(database: TestDatabase) -> Iterator[Console]:
    """The console on the test database, with an admin signed in."""
    made = make_console(database)
    with made.client:
        made.add_staff("tess", "admin")
        made.sign_in("tess")
        yield made
