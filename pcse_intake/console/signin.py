"""Signing in: per-address throttling, the five-strikes lock, and an audit row per attempt."""

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


_FAILURES = [o.value for o in Outcome if o not in (Outcome.SIGNED_IN, Outcome.REAUTHENTICATED)]


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    staff: Staff | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SIGNED_IN


def sign_in(
    session: Session, *, username: str, password: str, address: str, now: datetime
) -> SignInResult:
    """Check one attempt and record it; the caller's transaction commits it either way."""
    username = username.strip()[:100]
    outcome, staff = _decide(
        session, username=username, password=password, address=address, now=now
    )
    session.add(SignInAttempt(at=now, address=address[:64], username=username, outcome=outcome))
    # One line per attempt for the security log (ASVS 16.3.1); never the password.
    log.info("console sign-in %s user=%r address=%s", outcome.value, username, address)
    return SignInResult(outcome, staff if outcome is Outcome.SIGNED_IN else None)


def _decide(
    session: Session, *, username: str, password: str, address: str, now: datetime
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
    wrong = _check_password(staff, password)
    if wrong is not None:
        return wrong, staff
    staff.last_login_at = now
    return Outcome.SIGNED_IN, staff


def _check_password(staff: Staff, password: str) -> Outcome | None:
    """None if right (the count of wrong ones starts again); else counts it, locking at five."""
    if verify_password(staff.password_hash, password):
        staff.failed_logins = 0
        return None
    staff.failed_logins += 1
    if staff.failed_logins >= LOCK_AFTER_FAILURES:
        staff.locked = True
        return Outcome.NOW_LOCKED
    return Outcome.WRONG_PASSWORD


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
