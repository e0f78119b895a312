"""Staff accounts for the console and the command line, and their half-finished sign-ins."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from pcse_intake.workflows.models.base import Base, utcnow


class StaffRole(StrEnum):
    VERIFIER = "verifier"
    APPROVER = "approver"
    ADMIN = "admin"


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The second sign-in factor (TOTP, RFC 6238). The secret is kept as it is given, not
    # hashed: the server must compute each code from it. None until enrolment starts; an
    # admin's reset clears all three. The last accepted time step refuses a replayed code.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]


class SecondFactorChallenge(Base):
    """A right password waiting for its code: half signed in, short-lived, reaches no page.

    Only a hash of the cookie's token is stored. It is kept apart from console sessions so
    nothing that looks up a session can ever mistake it for one.
    """

    __tablename__ = "second_factor_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]  # signed in, locked, expired, or a new one started
    end_reason: Mapped[str | None] = mapped_column(String(30))
