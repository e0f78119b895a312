"""Account changes that need two admins: a new account, or a new role, takes effect only when a
second admin confirms it.

A new account's one-time password comes in two halves: the admin who asks is shown the first,
the admin who confirms the second. Neither can sign in as the new account alone, so neither
can give themselves a second account to approve their own work with. The rows
(`StaffChange`) are also the account's lineage, which four eyes consults.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import InvalidValue, NotPermitted
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import Staff, StaffChange, StaffChangeKind, StaffRole
from pcse_intake.workflows.staff import (
    Action,
    check_username,
    hash_password,
    refuse_taken,
    require_permission,
)

HALF_LENGTH = 10
# Capitals and digits without the look-alikes (0/O, 1/I): read aloud or copied by hand.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Never a valid Argon2 hash: no password matches an account that waits for confirmation.
NO_PASSWORD = "!"


@dataclass(frozen=True)
class Confirmed:
    kind: StaffChangeKind
    staff: Staff
    password_half: str | None  # the second half of a new account's one-time password


@dataclass(frozen=True)
class OpenChange:
    """A change waiting for a second admin, as the staff page shows it."""

    kind: str
    role: str | None
    requested_by: str | None  # None: from the shell


def request_account(session: Session, *, username: str, role: str, by: str, now: datetime) -> str:
    """A new account that cannot sign in until a second admin confirms it; returns the first
    half of its one-time password (shown once, to `by`, and kept only until confirmed)."""
    admin = require_permission(session, by, Action.ADMINISTER)
    check_username(username)
    _check_role(role)
    refuse_taken(session, username)
    half = _half()
    staff = Staff(
        username=username,
        role=role,
        password_hash=NO_PASSWORD,
        created_at=now,
        failed_logins=0,
        locked=False,
        disabled=False,
        activated_at=None,
        must_change_password=True,
        pending_password_half=half,
    )
    session.add(staff)
    session.flush()
    session.add(
        StaffChange(
            staff_id=staff.id,
            kind=StaffChangeKind.CREATED.value,
            role=role,
            requested_by_id=admin.id,
            requested_at=now,
        )
    )
    _audit(session, staff, by, now, "staff_requested", None, {"username": username, "role": role})
    return half


def request_role_change(
    session: Session, *, username: str, role: str, by: str, now: datetime
) -> bool:
    """Ask for a new role for `username`; False if it has that role already."""
    admin = require_permission(session, by, Action.ADMINISTER)
    _check_role(role)
    if admin.username == username:
        # An admin cannot change their own access: it would leave nobody to undo the mistake.
        raise NotPermitted(
            "you cannot change the role of your own account; ask another administrator"
        )
    staff = _account(session, username)
    if staff.role == role:
        return False
    if open_change_of(session, staff.id) is not None:
        raise NotPermitted(
            f"a change to {username} is already waiting for a second administrator: "
            "confirm or withdraw it first"
        )
    session.add(
        StaffChange(
            staff_id=staff.id,
            kind=StaffChangeKind.ROLE.value,
            role=role,
            requested_by_id=admin.id,
            requested_at=now,
        )
    )
    _audit(
        session,
        staff,
        by,
        now,
        "staff_role_change_requested",
        {"role": staff.role},
        {"role": role},
    )
    return True


def confirm_change(session: Session, *, username: str, by: str, now: datetime) -> Confirmed:
    """A second admin confirms the change waiting on `username`; it takes effect now."""
    admin = require_permission(session, by, Action.ADMINISTER)
    staff = _account(session, username)
    change = open_change_of(session, staff.id)
    if change is None:
        raise NotPermitted(f"no change to {username} is waiting to be confirmed")
    if change.requested_by_id == admin.id:
        raise NotPermitted("you asked for this change; another administrator must confirm it")
    if staff.id == admin.id:
        raise NotPermitted("you cannot confirm a change to your own account")
    change.confirmed_by_id, change.confirmed_at = admin.id, now
    kind = StaffChangeKind(change.kind)
    asked = _name(session, change.requested_by_id)
    if kind is StaffChangeKind.CREATED:
        second = _half()
        staff.password_hash = hash_password((staff.pending_password_half or "") + second)
        staff.pending_password_half = None
        staff.activated_at = now
        _audit(
            session,
            staff,
            by,
            now,
            "staff_created",
            None,
            {"username": staff.username, "role": staff.role},
            note=f"asked by {asked}, confirmed by {by}",
        )
        return Confirmed(kind, staff, second)
    before = staff.role
    staff.role = change.role or staff.role
    _audit(
        session,
        staff,
        by,
        now,
        "staff_role_changed",
        {"role": before},
        {"role": staff.role},
        note=f"asked by {asked}, confirmed by {by}",
    )
    return Confirmed(kind, staff, None)


def withdraw_change(session: Session, *, username: str, by: str, now: datetime) -> None:
    """Drop the change waiting on `username` (any admin); an unconfirmed account stays
    disabled, its name taken."""
    admin = require_permission(session, by, Action.ADMINISTER)
    staff = _account(session, username)
    change = open_change_of(session, staff.id)
    if change is None:
        raise NotPermitted(f"no change to {username} is waiting to be confirmed")
    change.withdrawn_by_id, change.withdrawn_at = admin.id, now
    if change.kind == StaffChangeKind.CREATED:
        staff.disabled = True
        staff.pending_password_half = None
    _audit(session, staff, by, now, "staff_change_withdrawn", {"change": change.kind}, None)


def record_second_factor_reset(session: Session, *, staff: Staff, by: Staff, now: datetime) -> None:
    """Part of the lineage: whoever reset the app could enrol their own, given the password."""
    session.add(
        StaffChange(
            staff_id=staff.id,
            kind=StaffChangeKind.SECOND_FACTOR_RESET.value,
            requested_by_id=by.id,
            requested_at=now,
            confirmed_at=now,
        )
    )


def open_change_of(session: Session, staff_id: int) -> StaffChange | None:
    return session.scalars(
        select(StaffChange).where(
            StaffChange.staff_id == staff_id,
            StaffChange.kind.in_([StaffChangeKind.CREATED.value, StaffChangeKind.ROLE.value]),
            StaffChange.confirmed_at.is_(None),
            StaffChange.withdrawn_at.is_(None),
        )
    ).first()


def open_changes(session: Session) -> dict[int, OpenChange]:
    """Every change waiting for a second admin, by the account it would change."""
    rows = session.execute(
        select(StaffChange, Staff.username)
        .outerjoin(Staff, Staff.id == StaffChange.requested_by_id)
        .where(StaffChange.confirmed_at.is_(None), StaffChange.withdrawn_at.is_(None))
    ).all()
    return {c.staff_id: OpenChange(c.kind, c.role, name) for c, name in rows}


def lineage(session: Session, staff_id: int) -> set[int]:
    """The admins who made, changed or reset this account, or confirmed it (not withdrawn)."""
    rows = session.execute(
        select(StaffChange.requested_by_id, StaffChange.confirmed_by_id).where(
            StaffChange.staff_id == staff_id, StaffChange.withdrawn_at.is_(None)
        )
    ).all()
    return {i for row in rows for i in row if i is not None}


def _half() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(HALF_LENGTH))


def _check_role(role: str) -> None:
    if role not in {r.value for r in StaffRole}:
        raise InvalidValue(f"{role!r} is not a role (verifier, approver or admin)")


def _account(session: Session, username: str) -> Staff:
    staff = session.scalars(select(Staff).where(Staff.username == username)).one_or_none()
    if staff is None:
        raise NotPermitted(f"there is no staff account called {username!r}")
    return staff


def _name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return "the operator (shell)"
    return session.get_one(Staff, staff_id).username


def _audit(
    session: Session,
    staff: Staff,
    by: str,
    now: datetime,
    action: str,
    before: dict[str, str] | None,
    after: dict[str, str] | None,
    *,
    note: str | None = None,
) -> None:
    record(
        session,
        actor=by,
        action=action,
        at=now,
        entity="staff",
        entity_id=staff.id,
        before=before,
        after=after,
        note=note or f"staff account {staff.username}",
    )
