"""A practice's request, its staff corrections and its verification calls."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pcse_intake.workflows.models.base import Base, utcnow

REF_PREFIX = "PCSE-"


class RequestState(StrEnum):
    RECEIVED = "received"
    AWAITING_INFORMATION = "awaiting_information"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # approved, but its change was stopped before it took effect


class ChangeStatus(StrEnum):
    """Where an approved e-mail change stands in its cooling-off period."""

    SCHEDULED = "scheduled"  # waiting for effective_at
    APPLIED = "applied"  # the registry holds the new address
    STOPPED = "stopped"  # the old address objected, or the address on record moved on
    CANCELLED = "cancelled"  # staff cancelled it


def format_ref(request_id: int) -> str:
    return f"{REF_PREFIX}{request_id:06d}"


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_state_received", "state", "received_at"),
        Index("ix_requests_kind_state", "kind", "state"),
        Index("ix_requests_change_due", "change_status", "effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(30), default=RequestState.RECEIVED)
    ods_code: Mapped[str | None] = mapped_column(String(16), index=True)  # the subject organisation
    practice_name: Mapped[str | None] = mapped_column(String(200))
    sender: Mapped[str | None] = mapped_column(String(254), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    awaiting_verification_since: Mapped[datetime | None]
    fields: Mapped[dict[str, Any]]  # `request` as in CONTRACT.md section 1, corrections applied
    missing: Mapped[list[Any]]
    problems: Mapped[list[Any]]
    auth_verdict: Mapped[str] = mapped_column(String(10), default="none")
    no_answer_count: Mapped[int] = mapped_column(default=0)
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    effective_at: Mapped[datetime | None]  # when an approved change takes effect (cooling-off)
    rejected_by: Mapped[str | None] = mapped_column(String(100))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # An approved e-mail change waits out the cooling-off period (workflows/pending_changes.py).
    change_status: Mapped[str | None] = mapped_column(String(20))  # ChangeStatus
    change_old_email: Mapped[str | None] = mapped_column(String(254))  # on record at approval
    change_applied_at: Mapped[datetime | None]
    change_stopped_at: Mapped[datetime | None]
    change_stopped_by: Mapped[str | None] = mapped_column(String(254))  # staff or the old address
    change_stop_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: a stale concurrent update raises instead of applying twice.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    calls: Mapped[list[VerificationCall]] = relationship(
        back_populates="request", order_by="VerificationCall.at"
    )

    @property
    def ref(self) -> str:
        return format_ref(self.id)


class VerificationCall(Base):
    __tablename__ = "verification_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    staff: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    phone: Mapped[str] = mapped_column(String(20))
    phone_on_record: Mapped[bool]
    outcome: Mapped[str] = mapped_column(String(20))  # confirmed | failed | no_answer
    notes: Mapped[str | None] = mapped_column(Text)

    request: Mapped[Request] = relationship(back_populates="calls")


class Correction(Base):
    """A staff correction of one parsed field (also recorded in history)."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    path: Mapped[str] = mapped_column(String(100))  # dotted, e.g. practice.new_email
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    staff: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
