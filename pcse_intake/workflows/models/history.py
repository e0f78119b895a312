"""The append-only history: who did what, when, with before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pcse_intake.workflows.models.base import Base, utcnow


class HistoryEntry(Base):
    __tablename__ = "history"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))  # staff username, or "system"
    action: Mapped[str] = mapped_column(String(60))  # e.g. received, verified, approved
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    entity: Mapped[str | None] = mapped_column(String(40))  # organisation, person, role, staff
    entity_id: Mapped[int | None]
    state: Mapped[str | None] = mapped_column(String(30))  # the request's state after the action
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    note: Mapped[str | None] = mapped_column(Text)
