"""Staff accounts for the console and the command line, the changes two admins make to them,
and their half-finished sign-ins."""

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
    # None while a new account waits for a second admin to confirm it: it cannot sign in.
    activated_at: Mapped[datetime | None]
    # The password was given to the person (a one-time password): their first sign-in must
    # replace it (and set up the authenticator app) before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # The half of a one-time password that the requesting admin was shown, kept only until a
    # second admin confirms the account (the password's hash is made from both halves then).
    pending_password_half: Mapped[str | None] = mapped_column(String(32))


class StaffChangeKind(StrEnum):
    CREATED = "created"
    ROLE = "role"
    SECOND_FACTOR_RESET = "second_factor_reset"


class StaffChange(Base):
    """One admin's change to an account: who asked, and the second admin who confirmed it.

    New accounts and role changes take effect only once confirmed. The rows are also the
    account's lineage: an approver may not approve what someone who made or changed their
    account verified (and the other way round).
    """

    __tablename__ = "staff_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    role: Mapped[str | None] = mapped_column(String(20))  # the role given (created, role)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: shell
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    confirmed_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    withdrawn_at: Mapped[datetime | None]


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
    # A first sign-in (or one after a reset) sets the account up: a new password and/or an
    # authenticator app. The key is made for this half-finished sign-in alone, so a key seen
    # in an abandoned one is useless.
    set_up: Mapped[bool] = mapped_column(default=False)
    enrolment_secret: Mapped[str | None] = mapped_column(String(64))
