"""Shared set-up for the attack tests.

A world to attack: the sample registry, an e-mail change that a fraudster would like applied,
staff who have all signed in once, the command line and the console on one database and one
clock. `held()` says the fraud did not happen: the registry is as it was and nothing went to
the fraudster's address."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from pcse_intake.inbox_worker.cli import cli
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import (
    Organisation,
    OutboxMessage,
    Person,
    Request,
    Role,
    Staff,
)
from tests.conftest import CORPUS, TestDatabase
from tests.console.conftest import Console, make_console, post_sign_in
from tests.console.conftest import cheap_argon2 as cheap_argon2  # autouse here too
from tests.staff_support import CliStaff

# 037.eml asks to move Glebe House Surgery's practice e-mail to this address.
REF = "PCSE-000001"
ATTACKER = "glebehouse.admin@nhs.net"
NOTE = "the practice manager confirmed it on the call"
DATA = resources.files("pcse_intake").joinpath("data")


BOTH_BACKENDS = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@dataclass
class World:
    database: TestDatabase
    staff: CliStaff
    console: Console
    config: Path
    runner: CliRunner
    before: dict[str, Any]
    passwords: dict[str, str]

    def run(self, *args: str, input: str | None = None) -> Result:
        """One `pcse-intake` command, as a person at a shell would run it."""
        return self.runner.invoke(cli, ["--config", str(self.config), *args], input=input)

    def decide(self, *args: str, stdin: str) -> Result:
        """A decision command with the given standard input as its credentials."""
        return self.run(*args, "--credentials-stdin", input=stdin)

    def add(self, username: str, role: str) -> None:
        """An account that has signed in once, with a password of its own."""
        self.passwords[username] = f"{username.title()}-Own-Secret-42!"
        self.staff.add(username, role, self.passwords[username])

    def creds(self, username: str) -> str:
        """`username`'s own password and a fresh code: what only they can type."""
        return self.staff.stdin(username, self.passwords[username])

    def held(self) -> None:
        """The registry is unchanged, the fraudster got no e-mail, the change is not approved."""
        assert registry(self.database) == self.before["registry"]
        with transaction(self.database.sessions) as session:
            sent = session.scalars(
                select(OutboxMessage.template).where(OutboxMessage.to_addr == ATTACKER)
            ).all()
            state = session.scalars(select(Request.state)).one()
        assert sent == [] and state != "completed"

    def account(self, username: str) -> Staff:
        with transaction(self.database.sessions) as session:
            staff = session.scalars(select(Staff).where(Staff.username == username)).one()
            session.expunge(staff)
            return staff

    def browser(self, peer: tuple[str, int] | None = None) -> TestClient:
        return TestClient(
            self.console.client.app, follow_redirects=False, client=peer or self.console.peer
        )

    def sign_in(self, username: str) -> TestClient:
        """A full console sign-in (password, then the app's current code)."""
        client = self.browser()
        response = post_sign_in(client, username, self.passwords[username])
        assert response.headers["location"].startswith("/sign-in/code"), response.text
        self.console.clock.advance(seconds=30)
        code = self.staff.code(username)
        assert submit_code(client, code).status_code == 303
        return client


def submit_code(client: TestClient, code: str, page: str = "/sign-in/code") -> httpx.Response:
    form = client.get(page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    response: httpx.Response = client.post(page, data={"code": code, "csrf_token": token.group(1)})
    return response


def registry(database: TestDatabase) -> list[tuple[Any, ...]]:
    """Every organisation, person and role, column by column."""
    rows: list[tuple[Any, ...]] = []
    with transaction(database.sessions) as session:
        for model in (Organisation, Person, Role):
            columns = [c.name for c in model.__table__.columns]  # type: ignore[attr-defined]
            for item in session.scalars(select(model)).all():
                rows.append((model.__name__, *(getattr(item, c) for c in columns)))
    return sorted(rows, key=repr)


@pytest.fixture
def world(database: TestDatabase, cli_staff: CliStaff, tmp_path: Path) -> Iterator[World]:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    console = make_console(database, clock=cli_staff.clock, second_factor="required")
    made = World(database, cli_staff, console, config, CliRunner(), {}, {})
    for name in ("epraccur_sample.csv", "practice_contacts.csv"):
        assert made.run("registry", "import", str(DATA.joinpath(name))).exit_code == 0
    assert made.run("ingest", str(CORPUS / "037.eml")).exit_code == 0
    for username, role in (
        ("appy", "verifier"),
        ("adam", "approver"),
        ("ada", "admin"),
        ("bea", "admin"),
    ):
        made.add(username, role)
    made.before["registry"] = registry(database)
    with console.client:
        yield made


def verify_args(by: str) -> tuple[str, ...]:
    return ("verify", REF, "--by", by, "--outcome", "confirmed", "--notes", NOTE)


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
