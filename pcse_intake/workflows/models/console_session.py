"""Console sign-in state kept server-side: live sessions and every sign-in attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pcse_intake.workflows.models.base import Base, utcnow


class ConsoleSession(Base):
    """One signed-in browser. Only a hash of the cookie's token is stored, never the token."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]  # sign-out, timeout, or the account was disabled
    end_reason: Mapped[str | None] = mapped_column(String(30))


class SignInAttempt(Base):
    """Every sign-in attempt, kept for the audit trail and to throttle per address."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    address: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(30))  # signed_in | wrong_password | locked | ...
