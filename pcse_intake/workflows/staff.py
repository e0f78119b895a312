"""Staff accounts: the PCSE password rule, Argon2 hashes, and who may do what."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import InvalidValue, NotPermitted, StaffExists
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import Staff, StaffChange, StaffChangeKind, StaffRole

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
    # Admins make and change accounts, so they never take the decision that changes the
    # records (approve) or closes a request (reject): whoever hands out accounts must not
    # also be the second pair of eyes. They may still record a call: the audited overrides
    # (a sender our mail server doubts, a number from elsewhere) are theirs.
    StaffRole.ADMIN: frozenset(
        {Action.ADMINISTER, Action.HOLD, Action.VERIFY, Action.CORRECT, Action.TRIAGE}
    ),
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


def dummy_hash() -> str:
    """A hash no password matches, made with the hasher's current parameters: checking a
    password against it costs what checking a real one does."""
    return _dummy_for(_hasher)


@functools.cache
def _dummy_for(hasher: PasswordHasher) -> str:
    return hasher.hash("not-a-real-password-Aa1!")


def check_username(username: str) -> None:
    if not _USERNAME.match(username):
        raise InvalidValue(
            "a staff name is 2-100 letters, digits or . _ @ - (no spaces), e.g. jane.doe"
        )
    # Names are never reused (a disabled account keeps its name): the history's names then
    # always mean one account.


def refuse_taken(session: Session, username: str) -> None:
    if session.scalars(select(Staff).where(Staff.username == username)).first() is not None:
        raise StaffExists(f"a staff account named {username!r} already exists")


def create_staff(
    session: Session,
    *,
    username: str,
    role: StaffRole,
    password: str,
    now: datetime,
    by: str = "system",
    one_time_password: bool = True,
) -> Staff:
    """A new account, usable at once: the operator's bootstrap from the shell (and tests).

    With `one_time_password` (the default) the first sign-in must replace the password and
    set up the authenticator app. The console makes accounts differently: one admin asks,
    a second confirms (`staff_changes.request_account`).
    """
    check_username(username)
    failures = check_password_rule(password)
    if failures:
        raise InvalidValue("the password " + "; ".join(failures))
    refuse_taken(session, username)
    staff = Staff(
        username=username,
        role=StaffRole(role).value,
        password_hash=hash_password(password),
        created_at=now,
        failed_logins=0,
        locked=False,
        disabled=False,
        activated_at=now,
        must_change_password=one_time_password,
    )
    session.add(staff)
    session.flush()
    session.add(
        StaffChange(
            staff_id=staff.id,
            kind=StaffChangeKind.CREATED.value,
            role=staff.role,
            requested_by_id=None,  # not an account: the operator on the host
            requested_at=now,
            confirmed_at=now,
        )
    )
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


# The first admins come from the shell of the host, whose operator holds the database anyway;
# from the second admin that can sign in on, accounts are made by two admins in the console.
BOOTSTRAP_ADMINS = 2


def bootstrap_admin(
    session: Session, *, username: str, role: str, password: str, now: datetime, by: str
) -> Staff:
    """An admin made from the shell (one-time password), while fewer than two can sign in."""
    if role != StaffRole.ADMIN:
        raise NotPermitted(
            "from the command line only the first admins are added; an admin asks for other "
            "accounts in the console and a second admin confirms them"
        )
    admins = session.scalars(
        select(Staff).where(
            Staff.role == StaffRole.ADMIN.value,
            Staff.disabled.is_(False),
            Staff.locked.is_(False),
            Staff.activated_at.is_not(None),
        )
    ).all()
    if len(admins) >= BOOTSTRAP_ADMINS:
        raise NotPermitted(
            f"{len(admins)} admins can already sign in; ask one of them to add {username} in "
            "the console (a second admin confirms it)"
        )
    return create_staff(
        session, username=username, role=StaffRole.ADMIN, password=password, now=now, by=by
    )


def require_permission(session: Session, username: str, action: Action) -> Staff:
    """The enabled account `username`, if its role may do `action`; NotPermitted otherwise."""
    staff = session.scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None:
        raise NotPermitted(f"there is no staff account named {username!r}")
    if staff.disabled:
        raise NotPermitted(f"the staff account {username!r} is disabled")
    if staff.activated_at is None:
        raise NotPermitted(f"the staff account {username!r} is waiting for a second admin")
    if action not in ALLOWED[StaffRole(staff.role)]:
        raise NotPermitted(f"{username} is a {staff.role} and may not {action.value}")
    return staff
