"""Half-finished sign-ins: after a right password, the code, or the account's first set-up.

A right password starts a challenge (its own table and cookie, never a console session, so
it opens no page); the right code (or a completed set-up) within CHALLENGE_MINUTES ends it
and the caller starts a brand-new session. Wrong and replayed codes count towards the same
five-strikes lock and per-address throttle as wrong passwords; every attempt is recorded
(never the code). A set-up challenge carries an authenticator key made for it alone: a key
seen in a half-finished sign-in that was abandoned or replaced is never the account's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pcse_intake.console.session_store import new_token, token_hash
from pcse_intake.workflows import totp
from pcse_intake.workflows.account_set_up import complete_set_up
from pcse_intake.workflows.authentication import (
    Outcome,
    SignInResult,
    check_code,
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
    def set_up(self) -> bool:
        return self.challenge.set_up

    @property
    def enrolment_secret(self) -> str | None:
        return self.challenge.enrolment_secret


def start_challenge(
    session: Session,
    *,
    staff: Staff,
    address: str,
    now: datetime,
    set_up: bool = False,
    second_factor: bool = True,
) -> str:
    """A new challenge for `staff` (ending any earlier one); returns the cookie's token.

    A set-up challenge with the second factor on gets a brand-new key, so every set-up
    starts with a key nobody has seen.
    """
    end_challenges_of(session, staff_id=staff.id, now=now, reason="replaced")
    token = new_token()
    session.add(
        SecondFactorChallenge(
            token_hash=token_hash(token),
            staff_id=staff.id,
            csrf_token=new_token(),
            address=address[:64],
            created_at=now,
            set_up=set_up,
            enrolment_secret=totp.new_secret() if set_up and second_factor else None,
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


def check_sign_in_code(
    session: Session, *, pending: Pending, code: str, address: str, now: datetime
) -> SignInResult:
    """Check one code for an account already set up, and record the attempt;
    SignInResult.succeeded means sign them in."""
    staff = pending.staff
    if expired(pending, now) or staff.totp_secret is None or pending.set_up:
        outcome = Outcome.CODE_TOO_LATE
    else:
        outcome = check_code(
            session, staff=staff, secret=staff.totp_secret, code=code, address=address, now=now
        )
    record_attempt(session, username=staff.username, address=address, now=now, outcome=outcome)
    return _finish(pending, outcome, now)


def set_up_account(
    session: Session,
    *,
    pending: Pending,
    new_password: str | None,
    code: str,
    address: str,
    now: datetime,
) -> SignInResult:
    """Complete a set-up challenge: the new password and this challenge's key, together."""
    if expired(pending, now) or not pending.set_up:
        outcome = Outcome.CODE_TOO_LATE
        record_attempt(
            session, username=pending.staff.username, address=address, now=now, outcome=outcome
        )
    else:
        outcome = complete_set_up(
            session,
            staff=pending.staff,
            new_password=new_password,
            secret=pending.enrolment_secret,
            code=code,
            address=address,
            now=now,
        )
    return _finish(pending, outcome, now)


def _finish(pending: Pending, outcome: Outcome, now: datetime) -> SignInResult:
    result = SignInResult(outcome, pending.staff)
    if outcome not in (Outcome.WRONG_CODE, Outcome.REPLAYED_CODE):
        # Signed in, locked, disabled, throttled or too late: this challenge is over either way.
        _end(pending.challenge, now, "completed" if result.succeeded else outcome.value)
    return result if result.succeeded else SignInResult(outcome)
