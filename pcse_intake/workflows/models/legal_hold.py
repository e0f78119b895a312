"""A legal hold: while it stands, the retention purge keeps a request's raw messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pcse_intake.workflows.models.base import Base


class LegalHold(Base):
    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[datetime]
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[datetime | None]  # None: the hold stands
    release_reason: Mapped[str | None] = mapped_column(Text)
