"""Who is this? The checks every staff sign-in shares, in the console and on the command line.

The password (one Argon2 check on every path), the five-strikes lock, the per-address
throttle, the authenticator code (a used one refused), and an audit row and log line per
attempt (never the password or code). The caller's transaction commits it either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from pcse_intake.workflows import totp
from pcse_intake.workflows.models import SignInAttempt, Staff
from pcse_intake.workflows.staff import dummy_hash, verify_password

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
    DISABLED = "disabled"  # disabled, or still waiting for a second admin's confirmation
    THROTTLED = "throttled"
    # The second factor's own outcomes.
    PASSWORD_ACCEPTED = "password_accepted"  # the code (or the account's set-up) comes next
    SET_UP = "set_up"  # first sign-in: new password and/or authenticator app, then signed in
    WRONG_CODE = "wrong_code"
    REPLAYED_CODE = "replayed_code"  # a right code already used once
    CODE_TOO_LATE = "code_too_late"  # the half-finished sign-in had expired
    NOT_SET_UP = "not_set_up"  # command line: a right password, but the account is not set up


# Not failures: neither counted for the per-address throttle nor shown as failed sign-ins.
_NOT_FAILURES = frozenset(
    {
        Outcome.SIGNED_IN,
        Outcome.REAUTHENTICATED,
        Outcome.PASSWORD_ACCEPTED,
        Outcome.SET_UP,
        Outcome.CODE_TOO_LATE,
        Outcome.NOT_SET_UP,
    }
)
_FAILURES = [o.value for o in Outcome if o not in _NOT_FAILURES]
# One answer for all of these, so nobody can tell which names are accounts, nor which are
# locked or disabled.
NOT_RECOGNISED = frozenset(
    {
        Outcome.WRONG_PASSWORD,
        Outcome.UNKNOWN_USER,
        Outcome.LOCKED,
        Outcome.NOW_LOCKED,
        Outcome.DISABLED,
    }
)


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    staff: Staff | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.SIGNED_IN, Outcome.SET_UP)


def usable(staff: Staff) -> bool:
    """Enabled, confirmed by a second admin, and not locked."""
    return not staff.locked and not staff.disabled and staff.activated_at is not None


def needs_set_up(staff: Staff, *, second_factor: bool) -> bool:
    """A one-time password to replace, or (with the second factor on) no authenticator yet."""
    return staff.must_change_password or (second_factor and staff.totp_confirmed_at is None)


def check_password(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    now: datetime,
    second_factor: bool = False,
) -> SignInResult:
    """Check one password and record the attempt.

    A right password gives SIGNED_IN only when nothing more is asked; with the second factor
    on, or an account still to set up, it gives PASSWORD_ACCEPTED (and the staff member).
    """
    username = username.strip()[:100]
    outcome, staff = _password_outcome(
        session, username=username, password=password, address=address, now=now
    )
    nothing_more = not second_factor and staff is not None and not staff.must_change_password
    if outcome is Outcome.PASSWORD_ACCEPTED and staff is not None and nothing_more:
        staff.failed_logins = 0
        staff.last_login_at = now
        outcome = Outcome.SIGNED_IN
    record_attempt(session, username=username, address=address, now=now, outcome=outcome)
    passed = outcome in (Outcome.SIGNED_IN, Outcome.PASSWORD_ACCEPTED)
    return SignInResult(outcome, staff if passed else None)


def _password_outcome(
    session: Session, *, username: str, password: str, address: str, now: datetime
) -> tuple[Outcome, Staff | None]:
    """PASSWORD_ACCEPTED (count of wrong ones left alone) or why not; nothing recorded."""
    if recent_failures_from(session, address=address, now=now) >= ADDRESS_FAILURE_LIMIT:
        return Outcome.THROTTLED, None
    staff = session.scalars(select(Staff).where(Staff.username == username)).one_or_none()
    # Exactly one Argon2 check on every path: against the account's hash when it could sign
    # in, else against a dummy one. The answer and the time it takes are then the same for a
    # wrong password, an unknown name, and a locked, disabled or unconfirmed account.
    right = verify_password(
        staff.password_hash if staff is not None and usable(staff) else dummy_hash(), password
    )
    if staff is None:
        return Outcome.UNKNOWN_USER, None
    if staff.locked:
        return Outcome.LOCKED, staff
    if not usable(staff):
        return Outcome.DISABLED, staff
    if not right:
        return count_failure(staff, Outcome.WRONG_PASSWORD), staff
    # The count of wrong ones starts again only once the code is right too: otherwise someone
    # with the password could guess codes four at a time for ever.
    return Outcome.PASSWORD_ACCEPTED, staff


def check_code(
    session: Session, *, staff: Staff, secret: str, code: str, address: str, now: datetime
) -> Outcome:
    """SIGNED_IN if `code` is the one `secret` gives now and was not used before; nothing
    recorded (the caller records the attempt). Wrong and replayed codes count towards the
    lock like wrong passwords."""
    if recent_failures_from(session, address=address, now=now) >= ADDRESS_FAILURE_LIMIT:
        return Outcome.THROTTLED
    if staff.locked:
        return Outcome.LOCKED
    if not usable(staff):
        return Outcome.DISABLED
    step = totp.matching_step(secret, code, now)
    if step is None:
        return count_failure(staff, Outcome.WRONG_CODE)
    if not _claim_step(session, staff, step):
        # Seen once already (perhaps over a shoulder, or by a proxy): refused and counted.
        return count_failure(staff, Outcome.REPLAYED_CODE)
    staff.failed_logins = 0
    staff.last_login_at = now
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


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    code: str,
    address: str,
    now: datetime,
    second_factor: bool,
) -> SignInResult:
    """The command line's check: the password and the current code together, recorded once.

    SignInResult.succeeded means this person may act as `username` for one command. An
    account must have been set up (its first sign-in, in the console) before it can be used
    here: NOT_SET_UP otherwise.
    """
    username = username.strip()[:100]
    outcome, staff = _password_outcome(
        session, username=username, password=password, address=address, now=now
    )
    if outcome is Outcome.PASSWORD_ACCEPTED and staff is not None:
        if needs_set_up(staff, second_factor=second_factor):
            outcome = Outcome.NOT_SET_UP
        elif second_factor and staff.totp_secret is not None:
            outcome = check_code(
                session, staff=staff, secret=staff.totp_secret, code=code, address=address, now=now
            )
        else:
            staff.failed_logins = 0
            staff.last_login_at = now
            outcome = Outcome.SIGNED_IN
    record_attempt(session, username=username, address=address, now=now, outcome=outcome)
    return SignInResult(outcome, staff if outcome is Outcome.SIGNED_IN else None)


def record_attempt(
    session: Session, *, username: str, address: str, now: datetime, outcome: Outcome
) -> None:
    """The audit row and the security log line (ASVS 16.3.1): never the password or code."""
    session.add(SignInAttempt(at=now, address=address[:64], username=username, outcome=outcome))
    log.info("sign-in %s user=%r address=%s", outcome.value, username, address)


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
    elif verify_password(staff.password_hash, password):
        staff.failed_logins = 0
        outcome = Outcome.REAUTHENTICATED
    else:
        outcome = count_failure(staff, Outcome.WRONG_PASSWORD)
    session.add(SignInAttempt(at=now, address=address[:64], username=username, outcome=outcome))
    log.info("re-authentication %s user=%r address=%s", outcome.value, username, address)
    return outcome


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
