"""Every inbound message, kept raw, exactly once, with where it came from and how it parsed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pcse_intake.workflows.models.base import Base, utcnow

if TYPE_CHECKING:
    from pcse_intake.workflows.models.request import Request


class MessageStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet processed (or processing failed and will retry)
    REQUEST = "request"  # became a new request
    REPLY = "reply"  # merged into an existing request
    TRIAGE = "triage"  # not a request: unknown kind, waiting for staff
    AUTOMATED = "automated"  # auto-reply, bounce, list mail, our own mail: never answered
    QUARANTINED = "quarantined"  # failed processing max_attempts times
    DISMISSED = "dismissed"  # staff looked and closed it with a note


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_inbound_messages_location"),
        Index("ix_inbound_messages_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    message_id_header: Mapped[str | None] = mapped_column(String(998), index=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once purged by retention
    size: Mapped[int]
    mailbox: Mapped[str | None] = mapped_column(String(200))
    uidvalidity: Mapped[int | None]
    uid: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(20), default="imap")  # imap | file | console
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]  # the Date header, when it parsed
    sender: Mapped[str | None] = mapped_column(String(254), index=True)
    subject: Mapped[str | None] = mapped_column(String(998))
    kind: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.RECEIVED)
    parse_result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    duplicate_count: Mapped[int] = mapped_column(default=0)
    message_id_collision: Mapped[bool] = mapped_column(default=False)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    dismissed_by: Mapped[str | None] = mapped_column(String(100))
    dismiss_note: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None]
    # Never read: it tells the unit of work that requests are inserted before the rows that
    # name them, which matters when a batch inserts both in one flush (`row_ids`).
    request: Mapped[Request | None] = relationship(lazy="raise")


class MailboxState(Base):
    """What we last saw of a mailbox folder, to notice a UIDVALIDITY change."""

    __tablename__ = "mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int | None]
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
