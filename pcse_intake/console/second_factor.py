"""The second sign-in factor: half-finished sign-ins, enrolment, and checking the code.

A right password starts a challenge (its own table and cookie, never a console session, so
it opens no page); the right code within CHALLENGE_MINUTES ends it and the caller starts a
brand-new session. Wrong and replayed codes count towards the same five-strikes lock and
per-address throttle as wrong passwords; every attempt is recorded (never the code).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pcse_intake.console import totp
from pcse_intake.console.session_store import new_token, token_hash
from pcse_intake.console.signin import (
    ADDRESS_FAILURE_LIMIT,
    Outcome,
    SignInResult,
    count_failure,
    recent_failures_from,
    record_attempt,
)
from pcse_intake.workflows.models import Staff
from pcse_intake.workflows.models.staff import SecondFactorChallenge

# Long enough to open an app (or set one up) and type a code; short enough that a password
# typed on a shared machine and walked away from is not left half signed in for long.
CHALLENGE_MINUTES = 5


@dataclass(frozen=True)
class Pending:
    """A half-finished sign-in: the row, whose it is, and its form token."""

    challenge: SecondFactorChallenge
    staff: Staff

    @property
    def csrf_token(self) -> str:
        return self.challenge.csrf_token

    @property
    def enrolled(self) -> bool:
        return self.staff.totp_confirmed_at is not None


def start_challenge(session: Session, *, staff: Staff, address: str, now: datetime) -> str:
    """A new challenge for `staff` (ending any earlier one); returns the cookie's token."""
    end_challenges_of(session, staff_id=staff.id, now=now, reason="replaced")
    token = new_token()
    session.add(
        SecondFactorChallenge(
            token_hash=token_hash(token),
            staff_id=staff.id,
            csrf_token=new_token(),
            address=address[:64],
            created_at=now,
        )
    )
    session.flush()
    return token


def find_challenge(session: Session, *, token: str | None) -> Pending | None:
    """The challenge for this token unless unknown or ended (an expired one is still found:
    a code sent for it is an attempt to record)."""
    if not token:
        return None
    row = session.execute(
        select(SecondFactorChallenge, Staff)
        .join(Staff, Staff.id == SecondFactorChallenge.staff_id)
        .where(SecondFactorChallenge.token_hash == token_hash(token))
    ).one_or_none()
    if row is None or row[0].ended_at is not None:
        return None
    return Pending(row[0], row[1])


def expired(pending: Pending, now: datetime) -> bool:
    """True, and the challenge ended, once CHALLENGE_MINUTES have passed since the password."""
    if now - pending.challenge.created_at <= timedelta(minutes=CHALLENGE_MINUTES):
        return False
    _end(pending.challenge, now, "expired")
    return True


def _end(challenge: SecondFactorChallenge, now: datetime, reason: str) -> None:
    challenge.ended_at, challenge.end_reason = now, reason


def end_challenges_of(session: Session, *, staff_id: int, now: datetime, reason: str) -> None:
    session.execute(
        update(SecondFactorChallenge)
        .where(SecondFactorChallenge.staff_id == staff_id, SecondFactorChallenge.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def enrolment_secret(pending: Pending) -> str:
    """The secret to show for enrolment: made once, kept until confirmed or reset.

    Kept across reloads so someone who scanned it and then reloaded is not left with a
    useless entry in their app.
    """
    staff = pending.staff
    if staff.totp_secret is None:
        staff.totp_secret = totp.new_secret()
    return staff.totp_secret


def check_code(
    session: Session, *, pending: Pending, code: str, address: str, now: datetime
) -> SignInResult:
    """Check one code and record the attempt; SignInResult.succeeded means sign them in."""
    staff = pending.staff
    outcome = _decide(session, pending=pending, code=code, address=address, now=now)
    result = SignInResult(outcome, staff)
    if outcome not in (Outcome.WRONG_CODE, Outcome.REPLAYED_CODE):
        # Signed in, locked, disabled, throttled or too late: this challenge is over either way.
        _end(pending.challenge, now, "completed" if result.succeeded else outcome.value)
    record_attempt(session, username=staff.username, address=address, now=now, outcome=outcome)
    return result if result.succeeded else SignInResult(outcome)


def _decide(
    session: Session, *, pending: Pending, code: str, address: str, now: datetime
) -> Outcome:
    staff = pending.staff
    if recent_failures_from(session, address=address, now=now) >= ADDRESS_FAILURE_LIMIT:
        return Outcome.THROTTLED
    if expired(pending, now) or staff.totp_secret is None:
        return Outcome.CODE_TOO_LATE
    if staff.disabled:
        return Outcome.DISABLED
    if staff.locked:
        return Outcome.LOCKED
    step = totp.matching_step(staff.totp_secret, code, now)
    if step is None:
        return count_failure(staff, Outcome.WRONG_CODE)
    if not _claim_step(session, staff, step):
        # Seen once already (perhaps over a shoulder, or by a proxy): refused and counted.
        return count_failure(staff, Outcome.REPLAYED_CODE)
    staff.failed_logins = 0
    staff.last_login_at = now
    if staff.totp_confirmed_at is None:
        staff.totp_confirmed_at = now
        return Outcome.ENROLLED
    return Outcome.SIGNED_IN


def _claim_step(session: Session, staff: Staff, step: int) -> bool:
    """Record `step` as the last one used, unless it (or a later one) was used already.

    One conditional UPDATE, so two requests racing with the same code cannot both win.
    """
    claimed = session.execute(
        update(Staff)
        .where(
            Staff.id == staff.id,
            or_(Staff.totp_last_step.is_(None), Staff.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return int(getattr(claimed, "rowcount", 0) or 0) == 1
