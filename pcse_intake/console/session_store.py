"""Server-side console sessions: start, find (enforcing timeouts), touch and end them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pcse_intake.config import ConsoleSettings
from pcse_intake.workflows.models import ConsoleSession, Staff


@dataclass(frozen=True)
class SignedIn:
    """Who is making this request, as the server knows it (never as the browser claims)."""

    session_id: int
    staff_id: int
    username: str
    role: str
    csrf_token: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # The cookie's token is stored hashed, so a copy of the database cannot sign anyone in.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, *, staff: Staff, address: str | None, now: datetime) -> str:
    """A brand-new session for `staff`; returns the token for the cookie (shown only here)."""
    token = new_token()
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            staff_id=staff.id,
            csrf_token=new_token(),
            address=address,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def find_session(
    session: Session, *, token: str | None, now: datetime, settings: ConsoleSettings
) -> SignedIn | None:
    """The live session for this token, touched; None if unknown, ended, timed out or disabled."""
    if not token:
        return None
    row = session.execute(
        select(ConsoleSession, Staff)
        .join(Staff, Staff.id == ConsoleSession.staff_id)
        .where(ConsoleSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    live, staff = row
    if live.ended_at is not None:
        return None
    reason = _ending_reason(live, staff, now, settings)
    if reason is not None:
        live.ended_at, live.end_reason = now, reason
        return None
    live.last_seen_at = now
    return SignedIn(live.id, staff.id, staff.username, staff.role, live.csrf_token)


def _ending_reason(
    live: ConsoleSession, staff: Staff, now: datetime, settings: ConsoleSettings
) -> str | None:
    if staff.disabled:
        return "account_disabled"
    if now - live.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        return "idle_timeout"
    if now - live.created_at > timedelta(hours=settings.session_absolute_hours):
        return "absolute_timeout"
    return None


def end_session(session: Session, *, token: str | None, now: datetime, reason: str) -> None:
    if not token:
        return
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == token_hash(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def end_sessions_of(session: Session, *, staff_id: int, now: datetime, reason: str) -> int:
    """End every live session of one account (disabled, role changed); returns how many."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.staff_id == staff_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)
