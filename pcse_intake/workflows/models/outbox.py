"""Outgoing e-mails, written in the same transaction as the change that caused them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pcse_intake.workflows.models.base import Base, utcnow

if TYPE_CHECKING:
    from pcse_intake.workflows.models.request import Request


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be sent (or to be retried at next_attempt_at)
    SENDING = "sending"  # claimed by a sender; if it stays here, the sender died mid-send
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # permanent failure or too many attempts: staff must look
    BOUNCED = "bounced"  # a delivery status notification came back for it
    CANCELLED = "cancelled"  # staff or the workflow withdrew it before sending


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        # The per-sender acknowledgement cap (replies.acknowledgements_today), on every intake.
        Index("ix_outbox_ack_cap", "to_addr", "template", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    template: Mapped[str] = mapped_column(String(80))
    to_addr: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id_header: Mapped[str] = mapped_column(String(255), unique=True)  # fixed before sending
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    auto_submitted: Mapped[str] = mapped_column(String(20), default="auto-generated")
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Never read: it tells the unit of work that requests are inserted before the rows that
    # name them, which matters when a batch inserts both in one flush (`row_ids`).
    request: Mapped[Request | None] = relationship(lazy="raise")
