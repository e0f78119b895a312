"""Staff accounts: the PCSE password rule, Argon2 hashes, and who may do what."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import InvalidValue, NotPermitted, StaffExists
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import Staff, StaffRole

# PCSE's own rule (PCSE Online FAQ, "How do I login for the first time?"): at least one
# upper-case letter, lower-case letter, number and special character. The FAQ gives no
# length; 12 follows NCSC guidance for accounts that can change practice records.
MIN_PASSWORD_LENGTH = 12
SPECIALS = "!$%^&*@#?\u2013-"  # the FAQ's list; its dash is an en dash, so accept both

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,100}$")
_hasher = PasswordHasher()


class Action(StrEnum):
    VERIFY = "verify"
    APPROVE = "approve"
    REJECT = "reject"
    CORRECT = "correct"
    TRIAGE = "triage"
    ADMINISTER = "administer"
    HOLD = "hold"  # place or release a legal hold: admins only


ALLOWED: dict[StaffRole, frozenset[Action]] = {
    StaffRole.VERIFIER: frozenset({Action.VERIFY, Action.CORRECT, Action.TRIAGE}),
    StaffRole.APPROVER: frozenset(
        {Action.VERIFY, Action.APPROVE, Action.REJECT, Action.CORRECT, Action.TRIAGE}
    ),
    StaffRole.ADMIN: frozenset(Action),
}


def check_password_rule(password: str) -> list[str]:
    """Plain-English failures of the PCSE password rule; [] if the password is fine."""
    failures: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        failures.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if not any(c.isupper() for c in password):
        failures.append("must contain an upper-case letter")
    if not any(c.islower() for c in password):
        failures.append("must contain a lower-case letter")
    if not any(c.isdigit() for c in password):
        failures.append("must contain a number")
    if not any(c in SPECIALS for c in password):
        failures.append("must contain one of ! $ % ^ & * @ # ? \u2013")
    return failures


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hash: str, password: str) -> bool:
    try:
        return _hasher.verify(hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_staff(
    session: Session,
    *,
    username: str,
    role: StaffRole,
    password: str,
    now: datetime,
    by: str = "system",
) -> Staff:
    """A new enabled staff account; refuses a taken name or a password that breaks the rule."""
    if not _USERNAME.match(username):
        raise InvalidValue(
            "a staff name is 2-100 letters, digits or . _ @ - (no spaces), e.g. jane.doe"
        )
    failures = check_password_rule(password)
    if failures:
        raise InvalidValue("the password " + "; ".join(failures))
    if session.scalars(select(Staff).where(Staff.username == username)).first() is not None:
        raise StaffExists(f"a staff account named {username!r} already exists")
    staff = Staff(
        username=username,
        role=StaffRole(role).value,
        password_hash=hash_password(password),
        created_at=now,
        failed_logins=0,
        locked=False,
        disabled=False,
    )
    session.add(staff)
    session.flush()
    record(
        session,
        actor=by,
        action="staff_created",
        at=now,
        entity="staff",
        entity_id=staff.id,
        after={"username": username, "role": staff.role},  # never the hash
    )
    return staff


def require_permission(session: Session, username: str, action: Action) -> Staff:
    """The enabled account `username`, if its role may do `action`; NotPermitted otherwise."""
    staff = session.scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None:
        raise NotPermitted(f"there is no staff account named {username!r}")
    if staff.disabled:
        raise NotPermitted(f"the staff account {username!r} is disabled")
    if action not in ALLOWED[StaffRole(staff.role)]:
        raise NotPermitted(f"{username} is a {staff.role} and may not {action.value}")
    return staff
