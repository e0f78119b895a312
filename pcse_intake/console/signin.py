"""Signing in: per-address throttling, the five-strikes lock, and an audit row per attempt.

With the second factor on, a right password only starts a half-finished sign-in
(`second_factor.py` checks the code that completes it).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.workflows.models import SignInAttempt, Staff
from pcse_intake.workflows.staff import hash_password, verify_password

log = logging.getLogger(__name__)

# The PCSE rule (FAQ, user management): five wrong passwords in a row lock the account until
# an admin unlocks it.
LOCK_AFTER_FAILURES = 5
# Per-address throttling, so one machine cannot guess across many accounts (nor lock them all
# quickly): at most this many failures from one address in the window, then refuse unchecked.
ADDRESS_FAILURE_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)


class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    REAUTHENTICATED = "reauthenticated"  # the password asked again before an approval
    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_USER = "unknown_user"
    LOCKED = "locked"
    NOW_LOCKED = "now_locked"
    DISABLED = "disabled"
    THROTTLED = "throttled"
    # The second factor's own outcomes.
    PASSWORD_ACCEPTED = "password_accepted"  # the code is asked for next
    ENROLLED = "enrolled"  # the first code from a new authenticator: confirmed and signed in
    WRONG_CODE = "wrong_code"
    REPLAYED_CODE = "replayed_code"  # a right code already used once
    CODE_TOO_LATE = "code_too_late"  # the half-finished sign-in had expired


# Not failures: neither counted for the per-address throttle nor shown as failed sign-ins.
_NOT_FAILURES = frozenset(
    {
        Outcome.SIGNED_IN,
        Outcome.REAUTHENTICATED,
        Outcome.PASSWORD_ACCEPTED,
        Outcome.ENROLLED,
        Outcome.CODE_TOO_LATE,
    }
)
_FAILURES = [o.value for o in Outcome if o not in _NOT_FAILURES]


# What each refusal shows, in plain English, and its status code.
REFUSALS: dict[Outcome, tuple[int, str]] = {
    Outcome.WRONG_PASSWORD: (401, "The username or password is not correct."),
    Outcome.UNKNOWN_USER: (401, "The username or password is not correct."),
    Outcome.DISABLED: (401, "The username or password is not correct."),
    Outcome.NOW_LOCKED: (
        403,
        f"The password was wrong {LOCK_AFTER_FAILURES} times in a row, so the account is "
        "now locked. Ask an administrator to unlock it.",
    ),
    Outcome.LOCKED: (403, "This account is locked. Ask an administrator to unlock it."),
    Outcome.THROTTLED: (
        429,
        "There have been too many failed sign-ins from your network. Wait 15 minutes, "
        "then try again.",
    ),
    Outcome.WRONG_CODE: (
        401,
        "The code is not correct. Enter the 6-digit code your authenticator app shows now.",
    ),
    Outcome.REPLAYED_CODE: (
        401,
        "That code has already been used. Wait for your app to show a new code, then enter it.",
    ),
    Outcome.CODE_TOO_LATE: (
        401,
        "You took too long to enter the code. Sign in again with your password, then enter "
        "a new code.",
    ),
}
# A code, not the password, was the fifth wrong one in a row.
CODE_LOCK_MESSAGE = (
    f"A wrong password or code was entered {LOCK_AFTER_FAILURES} times in a row, so the "
    "account is now locked. Ask an administrator to unlock it."
)


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    staff: Staff | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.SIGNED_IN, Outcome.ENROLLED)


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    now: datetime,
    second_factor: bool = False,
) -> SignInResult:
    """Check one attempt and record it; the caller's transaction commits it either way.

    With `second_factor`, a right password gives PASSWORD_ACCEPTED (and the staff member),
    not SIGNED_IN: the code is still to come.
    """
    username = username.strip()[:100]
    outcome, staff = _decide(
        session,
        username=username,
        password=password,
        address=address,
        now=now,
        second_factor=second_factor,
    )
    record_attempt(session, username=username, address=address, now=now, outcome=outcome)
    passed = outcome in (Outcome.SIGNED_IN, Outcome.PASSWORD_ACCEPTED)
    return SignInResult(outcome, staff if passed else None)


def record_attempt(
    session: Session, *, username: str, address: str, now: datetime, outcome: Outcome
) -> None:
    """The audit row and the security log line (ASVS 16.3.1): never the password or code."""
    session.add(SignInAttempt(at=now, address=address[:64], username=username, outcome=outcome))
    log.info("console sign-in %s user=%r address=%s", outcome.value, username, address)


def _decide(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    now: datetime,
    second_factor: bool,
) -> tuple[Outcome, Staff | None]:
    if recent_failures_from(session, address=address, now=now) >= ADDRESS_FAILURE_LIMIT:
        return Outcome.THROTTLED, None
    staff = session.scalars(select(Staff).where(Staff.username == username)).one_or_none()
    if staff is None:
        # Spend the time a real check would, so a wrong name cannot be told from a wrong password.
        verify_password(_dummy_hash(), password)
        return Outcome.UNKNOWN_USER, None
    if staff.locked:
        return Outcome.LOCKED, staff
    if staff.disabled:
        return Outcome.DISABLED, staff
    # With a second factor the count of wrong ones starts again only once the code is right
    # too; otherwise someone with the password could guess codes four at a time for ever.
    wrong = _check_password(staff, password, reset=not second_factor)
    if wrong is not None:
        return wrong, staff
    if second_factor:
        return Outcome.PASSWORD_ACCEPTED, staff
    staff.last_login_at = now
    return Outcome.SIGNED_IN, staff


def _check_password(staff: Staff, password: str, *, reset: bool = True) -> Outcome | None:
    """None if right (the count of wrong ones starts again if `reset`); else counts it."""
    if verify_password(staff.password_hash, password):
        if reset:
            staff.failed_logins = 0
        return None
    return count_failure(staff, Outcome.WRONG_PASSWORD)


def count_failure(staff: Staff, outcome: Outcome) -> Outcome:
    """One more wrong password or code: `outcome`, or NOW_LOCKED at the fifth in a row."""
    staff.failed_logins += 1
    if staff.failed_logins >= LOCK_AFTER_FAILURES:
        staff.locked = True
        return Outcome.NOW_LOCKED
    return outcome


def reauthenticate(
    session: Session, *, username: str, password: str, address: str, now: datetime
) -> Outcome:
    """The password asked again before a decision that changes the records (ASVS 7.5.3).

    A wrong one counts towards the same five-strikes lock as signing in: a stolen session
    cannot be used to guess the password.
    """
    staff = session.scalars(select(Staff).where(Staff.username == username)).one()
    if staff.locked:
        outcome = Outcome.LOCKED
    else:
        outcome = _check_password(staff, password) or Outcome.REAUTHENTICATED
    session.add(SignInAttempt(at=now, address=address[:64], username=username, outcome=outcome))
    log.info("console re-authentication %s user=%r address=%s", outcome.value, username, address)
    return outcome


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-Aa1!")


def recent_failures_from(session: Session, *, address: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(SignInAttempt.id)).where(
                SignInAttempt.address == address[:64],
                SignInAttempt.at > now - ADDRESS_WINDOW,
                SignInAttempt.outcome.in_(_FAILURES),
            )
        )
        or 0
    )
