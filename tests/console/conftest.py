"""Fixtures for console tests: a migrated database, the app on it, a settable clock, staff."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi.testclient import TestClient

from pcse_intake.config import ConsoleSettings, Settings
from pcse_intake.console.app import create_app
from pcse_intake.workflows import staff as staff_accounts
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import StaffRole
from tests.conftest import TestDatabase
from tests.staff_support import CliClock

PASSWORD = "Correct-Horse-9!"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock(CliClock):
    """The app's clock, moved by the test (the console never reads the wall clock itself)."""

    def __init__(self, start: datetime = START) -> None:
        super().__init__(start)


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both backends with @BOTH_BACKENDS (keeps the suite lean)."""
    backend = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    return url


# The key behaviours (refusals, four eyes, lockout, sessions, escaping) run on both databases.
BOTH_BACKENDS = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2's cheapest parameters, in tests only: production hashing is slow by design."""
    monkeypatch.setattr(staff_accounts, "_hasher", PasswordHasher.from_parameters(CHEAPEST))


@dataclass
class Console:
    database: TestDatabase
    settings: Settings
    clock: CliClock
    client: TestClient
    peer: tuple[str, int] = ("testclient", 50000)

    def add_staff(self, username: str, role: str, password: str = PASSWORD) -> None:
        with transaction(self.database.sessions) as session:
            staff_accounts.create_staff(
                session,
                username=username,
                role=StaffRole(role),
                password=password,
                now=self.clock(),
                one_time_password=False,  # as after their first sign-in
            )

    def new_client(self) -> TestClient:
        """A second browser: its own cookie jar, the same app (and the same peer address)."""
        return TestClient(self.client.app, follow_redirects=False, client=self.peer)

    def sign_in(
        self, username: str, password: str = PASSWORD, client: TestClient | None = None
    ) -> TestClient:
        client = client or self.client
        response = post_sign_in(client, username, password)
        assert response.status_code == 303, response.text
        return client


def post_sign_in(
    client: TestClient,
    username: str,
    password: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    """Fetch the sign-in form (for its token and cookie), then post it (with `headers`)."""
    form = client.get("/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    cookie = form.cookies.get("pcse_signin")
    merged = {"cookie": f"pcse_signin={cookie}"}
    held = client.cookies.get("pcse_session")
    if headers and "cookie" in headers:
        merged["cookie"] += "; " + headers["cookie"]
    elif held:  # the session this browser already holds, as a browser would send it
        merged["cookie"] += f"; pcse_session={held}"
    merged |= {k: v for k, v in (headers or {}).items() if k != "cookie"}
    return client.post(
        "/sign-in",
        data={"username": username, "password": password, "signin_token": token.group(1), **extra},
        headers=merged,
    )


def session_cookie(value: str | None) -> dict[str, str]:
    """A Cookie header carrying just this session id (a replayed or planted cookie)."""
    return {"cookie": f"pcse_session={value}"}


def csrf_of(client: TestClient, page: str = "/") -> str:
    """The anti-forgery token from a page the signed-in client can see."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert match is not None
    return match.group(1)


def make_console(
    database: TestDatabase,
    *,
    clock: CliClock | None = None,
    peer: tuple[str, int] = ("testclient", 50000),
    **console_settings: object,
) -> Console:
    """The console on `database`. The second factor is off unless asked for: its own tests
    (test_second_factor.py, the browser test) turn it on; the rest test what lies beyond it.
    `peer` is the address the requests come from (the TCP peer, not any header)."""
    base = ConsoleSettings(secure_cookies=False, second_factor="off")
    settings = dataclasses.replace(
        Settings(), console=dataclasses.replace(base, **console_settings)
    )
    clock = clock or Clock()
    app = create_app(settings, database.sessions, clock=clock)
    client = TestClient(app, follow_redirects=False, client=peer)
    return Console(database, settings, clock, client, peer)


@pytest.fixture
def console(database: TestDatabase) -> Iterator[Console]:
    made = make_console(database)
    with made.client:
        yield made
