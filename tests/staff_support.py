"""Staff accounts for tests that drive the command line: set up as after a first sign-in (a
password of their own, an authenticator key the test knows), and the standard input that
`--credentials-stdin` reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.workflows import totp
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import Staff, StaffRole
from pcse_intake.workflows.staff import create_staff

PASSWORD = "Correct-Horse-42!"


class CliClock:
    """The command line's clock in a test: moved on a code step for every set of credentials,
    so each command gets a code never used before (no waiting 30 s between commands)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def enrol_staff(
    session: Session, username: str, role: str, *, now: datetime, password: str = PASSWORD
) -> Staff:
    """An account that has signed in once: its own password and a confirmed authenticator."""
    staff = create_staff(
        session,
        username=username,
        role=StaffRole(role),
        password=password,
        now=now,
        by="test",
        one_time_password=False,
    )
    staff.totp_secret = totp.new_secret()
    staff.totp_confirmed_at = now
    return staff


@dataclass
class CliStaff:
    """Staff the command line can authenticate, and the time it reads (None: the wall clock,
    for a command run as a subprocess)."""

    sessions: sessionmaker[Session]
    clock: CliClock | None = None

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def add(self, username: str, role: str, password: str = PASSWORD) -> None:
        with transaction(self.sessions) as session:
            enrol_staff(session, username, role, now=self.now(), password=password)

    def code(self, username: str) -> str:
        """The code the person's app shows now, or the next one if this one was used (a code
        is accepted one step either side of the server's time); a guess for an account
        without an app."""
        with transaction(self.sessions) as session:
            row = session.execute(
                select(Staff.totp_secret, Staff.totp_last_step).where(Staff.username == username)
            ).one_or_none()
        if row is None or row[0] is None:
            return "000000"  # no such account, or no app: whatever someone would guess
        secret, last = row
        step = totp.time_step(self.now())
        if last is not None and last >= step:
            step = last + 1
        return totp.code_at(secret, step)

    def stdin(self, username: str, password: str = PASSWORD, code: str | None = None) -> str:
        """Two lines: the password, then the code (a fresh one unless given)."""
        if self.clock is not None:
            self.clock.advance(seconds=totp.STEP_SECONDS)
        return f"{password}\n{code if code is not None else self.code(username)}\n"


# The commands that make a decision, and so ask for STAFF's password and code.
DECISION_COMMANDS = frozenset({"verify", "approve", "reject", "cancel", "hold"})


def with_credentials(staff: CliStaff, args: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """A decision command's arguments with `--credentials-stdin`, and the standard input that
    proves `--by` (a fresh code); other commands unchanged, with no input."""
    if not args or args[0] not in DECISION_COMMANDS or "--by" not in args:
        return args, None
    by = args[args.index("--by") + 1]
    return (*args, "--credentials-stdin"), staff.stdin(by)
