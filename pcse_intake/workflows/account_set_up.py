"""A first sign-in sets the account up, in one step: a password of the person's own in place of
the one-time one, and an authenticator app enrolled with a key made for that sign-in alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pcse_intake.workflows.authentication import (
    ADDRESS_FAILURE_LIMIT,
    Outcome,
    check_code,
    recent_failures_from,
    record_attempt,
    usable,
)
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import Staff
from pcse_intake.workflows.staff import check_password_rule, hash_password, verify_password


def new_password_problems(staff: Staff, new_password: str, again: str) -> list[str]:
    """Plain-English reasons the new password cannot be used; [] if it can."""
    failures = check_password_rule(new_password)
    if new_password != again:
        failures.append("the two new passwords are not the same")
    elif not failures and verify_password(staff.password_hash, new_password):
        failures.append("must not be the one-time password you were given")
    return failures


def complete_set_up(
    session: Session,
    *,
    staff: Staff,
    new_password: str | None,
    secret: str | None,
    code: str,
    address: str,
    now: datetime,
) -> Outcome:
    """Check the first code from the new app (when there is one) and, if right, set the new
    password and the key together; record the attempt. SET_UP means sign them in."""
    if secret is not None:
        outcome = check_code(
            session, staff=staff, secret=secret, code=code, address=address, now=now
        )
    elif recent_failures_from(session, address=address, now=now) >= ADDRESS_FAILURE_LIMIT:
        outcome = Outcome.THROTTLED
    elif not usable(staff):
        outcome = Outcome.LOCKED if staff.locked else Outcome.DISABLED
    else:
        outcome = Outcome.SIGNED_IN
    if outcome is Outcome.SIGNED_IN:
        outcome = Outcome.SET_UP
        _apply(session, staff, new_password=new_password, secret=secret, now=now)
    record_attempt(session, username=staff.username, address=address, now=now, outcome=outcome)
    return outcome


def _apply(
    session: Session, staff: Staff, *, new_password: str | None, secret: str | None, now: datetime
) -> None:
    if new_password is not None:
        staff.password_hash = hash_password(new_password)
        staff.must_change_password = False
    if secret is not None:
        staff.totp_secret = secret
        staff.totp_confirmed_at = now
    staff.failed_logins = 0
    staff.last_login_at = now
    record(
        session,
        actor=staff.username,
        action="staff_set_up",
        at=now,
        entity="staff",
        entity_id=staff.id,
        after={  # what was set, never the password or key
            "password_changed": new_password is not None,
            "second_factor": "set_up" if secret is not None else "off",
        },
        note=f"staff account {staff.username}",
    )
