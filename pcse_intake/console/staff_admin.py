"""Staff account administration behind the console: list, disable, unlock, reset the second
factor, and confirm what needs a second admin (`workflows.staff_changes`).

Each change is audited in the shared history (through `workflows.history.record`) and, where
it takes access away, ends the account's sessions at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.console.second_factor import end_challenges_of
from pcse_intake.console.session_store import end_sessions_of
from pcse_intake.workflows import history, staff_changes
from pcse_intake.workflows.errors import NotPermitted
from pcse_intake.workflows.models import ConsoleSession, Staff, StaffChangeKind
from pcse_intake.workflows.staff_changes import Confirmed, OpenChange


class UnknownStaff(NotPermitted):
    """No staff account has that username."""


@dataclass(frozen=True)
class StaffRow:
    username: str
    role: str
    locked: bool
    disabled: bool
    failed_logins: int
    last_login_at: datetime | None
    live_sessions: int
    second_factor_set_up: bool  # an authenticator app confirmed with a first code
    confirmed: bool  # False while a new account waits for a second admin
    set_up: bool  # the first sign-in replaced the one-time password
    waiting: OpenChange | None  # a change waiting for a second admin


def list_staff(session: Session) -> list[StaffRow]:
    live = (
        select(ConsoleSession.staff_id, func.count(ConsoleSession.id).label("n"))
        .where(ConsoleSession.ended_at.is_(None))
        .group_by(ConsoleSession.staff_id)
        .subquery()
    )
    rows = session.execute(
        select(Staff, func.coalesce(live.c.n, 0))
        .outerjoin(live, live.c.staff_id == Staff.id)
        .order_by(Staff.username)
    ).all()
    waiting = staff_changes.open_changes(session)
    return [
        StaffRow(
            s.username,
            s.role,
            s.locked,
            s.disabled,
            s.failed_logins,
            s.last_login_at,
            n,
            s.totp_confirmed_at is not None,
            s.activated_at is not None,
            not s.must_change_password,
            waiting.get(s.id),
        )
        for s, n in rows
    ]


def _account(session: Session, username: str) -> Staff:
    staff = session.scalars(select(Staff).where(Staff.username == username)).one_or_none()
    if staff is None:
        raise UnknownStaff(f"there is no staff account called {username!r}")
    return staff


def _refuse_self(by: str, username: str, what: str) -> None:
    # An admin cannot remove their own access: it would leave nobody to undo the mistake.
    if by == username:
        raise NotPermitted(f"you cannot {what} your own account; ask another administrator")


def confirm(session: Session, *, username: str, by: str, now: datetime) -> Confirmed:
    """A second admin confirms a new account or a role change; a new role ends the
    account's sessions at once, so it is used from the next sign-in."""
    confirmed = staff_changes.confirm_change(session, username=username, by=by, now=now)
    if confirmed.kind is StaffChangeKind.ROLE:
        end_sessions_of(session, staff_id=confirmed.staff.id, now=now, reason="role_changed")
    return confirmed


def set_disabled(
    session: Session, *, username: str, disabled: bool, by: str, now: datetime
) -> None:
    if disabled:
        _refuse_self(by, username, "disable")
    staff = _account(session, username)
    if staff.disabled == disabled:
        return
    if not disabled and staff.activated_at is None:
        raise NotPermitted(
            f"{username} was never confirmed by a second administrator; add it again"
        )
    staff.disabled = disabled
    if disabled:
        end_sessions_of(session, staff_id=staff.id, now=now, reason="account_disabled")
    action = "staff_disabled" if disabled else "staff_enabled"
    _audit(session, staff, by, now, action, {"disabled": not disabled}, {"disabled": disabled})


def unlock(session: Session, *, username: str, by: str, now: datetime) -> None:
    staff = _account(session, username)
    if not staff.locked and staff.failed_logins == 0:
        return
    before = {"locked": staff.locked, "failed_logins": staff.failed_logins}
    staff.locked, staff.failed_logins = False, 0
    _audit(session, staff, by, now, "staff_unlocked", before, {"locked": False, "failed_logins": 0})


def reset_second_factor(session: Session, *, username: str, by: str, now: datetime) -> None:
    """Forget the account's authenticator (a lost phone): they set one up at their next sign-in.

    Their sessions and any half-finished sign-in end at once, so whoever holds the old phone
    (or a session) keeps nothing.
    """
    _refuse_self(by, username, "reset the second factor of")
    staff = _account(session, username)
    before = {"second_factor": _factor_state(staff)}
    if before["second_factor"] == "none":
        return  # nothing to forget: no history entry, sessions left alone
    staff_changes.record_second_factor_reset(
        session, staff=staff, by=_account(session, by), now=now
    )
    staff.totp_secret = None
    staff.totp_confirmed_at = None
    staff.totp_last_step = None
    end_sessions_of(session, staff_id=staff.id, now=now, reason="second_factor_reset")
    end_challenges_of(session, staff_id=staff.id, now=now, reason="second_factor_reset")
    _audit(session, staff, by, now, "staff_second_factor_reset", before, {"second_factor": "none"})


def _factor_state(staff: Staff) -> str:
    return "set_up" if staff.totp_confirmed_at is not None else "none"


def _audit(
    session: Session,
    staff: Staff,
    by: str,
    now: datetime,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    history.record(
        session,
        actor=by,
        action=action,
        at=now,
        entity="staff",
        entity_id=staff.id,
        before=before,
        after=after,
        note=f"staff account {staff.username}",
    )
