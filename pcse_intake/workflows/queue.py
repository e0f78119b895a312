"""The console's work queues: requests by state and kind, oldest first, and the triage list."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from sqlalchemy.orm import Session

from pcse_intake.workflows.models import (
    MAX_ROW_ID,
    InboundMessage,
    MessageStatus,
    Request,
    format_ref,
)
from pcse_intake.workflows.states import OPEN_STATES

MAX_PER_PAGE = 200
_REF = re.compile(r"^(?:PCSE-?)?0*(\d{1,9})$", re.IGNORECASE)
_ODS = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]{2,8}$")

TRIAGE_STATUSES: tuple[str, ...] = (
    MessageStatus.TRIAGE.value,
    MessageStatus.AUTOMATED.value,
    MessageStatus.QUARANTINED.value,
)


@dataclass(frozen=True)
class QueueFilter:
    states: tuple[str, ...] = ()  # empty: every open state
    kind: str | None = None
    search: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class QueueRow:
    ref: str
    kind: str
    state: str
    practice_name: str | None
    ods_code: str | None
    sender: str | None
    received_at: datetime
    awaiting_verification_since: datetime | None
    no_answer_count: int


@dataclass(frozen=True)
class Page:
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


@dataclass(frozen=True)
class QueuePage(Page):
    rows: list[QueueRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # requests per state, whole table


@dataclass(frozen=True)
class TriageRow:
    id: int
    status: str
    kind: str | None
    sender: str | None
    subject: str | None
    received_at: datetime
    error: str | None


@dataclass(frozen=True)
class TriagePage(Page):
    rows: list[TriageRow] = field(default_factory=list)


def queue_page(session: Session, *, filters: QueueFilter) -> QueuePage:
    """One page of requests, oldest first, with the total and the per-state counts."""
    per_page = min(max(filters.per_page, 1), MAX_PER_PAGE)
    conditions = _conditions(filters)
    total = session.scalar(select(func.count(Request.id)).where(*conditions)) or 0
    page = min(max(filters.page, 1), max(1, math.ceil(total / per_page)))
    rows = session.execute(
        select(
            Request.id,
            Request.kind,
            Request.state,
            Request.practice_name,
            Request.ods_code,
            Request.sender,
            Request.received_at,
            Request.awaiting_verification_since,
            Request.no_answer_count,
        )
        .where(*conditions)
        .order_by(Request.received_at, Request.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    by_state = select(Request.state, func.count(Request.id)).group_by(Request.state)
    counts: dict[str, int] = dict(session.execute(by_state).all())
    return QueuePage(
        total=total,
        page=page,
        per_page=per_page,
        rows=[
            QueueRow(
                ref=format_ref(r.id),
                kind=r.kind,
                state=r.state,
                practice_name=r.practice_name,
                ods_code=r.ods_code,
                sender=r.sender,
                received_at=r.received_at,
                awaiting_verification_since=r.awaiting_verification_since,
                no_answer_count=r.no_answer_count,
            )
            for r in rows
        ],
        counts=counts,
    )


def _conditions(filters: QueueFilter) -> list[ColumnElement[bool]]:
    states: Sequence[str] = filters.states or sorted(s.value for s in OPEN_STATES)
    conditions: list[ColumnElement[bool]] = [Request.state.in_(states)]
    if filters.kind:
        conditions.append(Request.kind == filters.kind)
    search = (filters.search or "").strip()
    if search:
        conditions.append(_search_condition(search))
    return conditions


def _search_condition(search: str) -> ColumnElement[bool]:
    """Reference, ODS code, practice name or e-mail address: whichever the text can be.

    A reference or an ODS code is looked up exactly (an index each); only other text is
    matched as a part of practice names or addresses (a scan, but of one table).
    """
    ref = _REF.match(search)
    if ref:
        return Request.id == int(ref.group(1))
    compact = search.replace(" ", "").upper()
    if _ODS.match(compact):
        return Request.ods_code == compact
    pattern = f"%{_escape_like(search.lower())}%"
    if "@" in search:
        # The sender, or any address in the parsed fields (current, new, main contact).
        return or_(
            Request.sender.like(pattern, escape="\\"),
            func.lower(cast(Request.fields, String)).like(pattern, escape="\\"),
        )
    return func.lower(Request.practice_name).like(pattern, escape="\\")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def triage_page(session: Session, *, page: int = 1, per_page: int = 50) -> TriagePage:
    """Messages that are not requests and wait for staff: unknown, automated, quarantined."""
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    where = InboundMessage.status.in_(TRIAGE_STATUSES)
    total = session.scalar(select(func.count(InboundMessage.id)).where(where)) or 0
    page = min(max(page, 1), max(1, math.ceil(total / per_page)))
    rows = session.execute(
        select(
            InboundMessage.id,
            InboundMessage.status,
            InboundMessage.kind,
            InboundMessage.sender,
            InboundMessage.subject,
            InboundMessage.received_at,
            InboundMessage.error,
        )
        .where(where)
        .order_by(InboundMessage.received_at, InboundMessage.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return TriagePage(
        total=total,
        page=page,
        per_page=per_page,
        rows=[TriageRow(*row) for row in rows],
    )


@dataclass(frozen=True)
class TriageItem:
    """One message waiting for triage, with its decoded text (never its HTML)."""

    id: int
    status: str
    kind: str | None
    sender: str | None
    sender_name: str | None
    subject: str | None
    received_at: datetime
    error: str | None
    attempts: int
    full_text: str
    request_ref: str | None
    dismissed_by: str | None
    dismiss_note: str | None


def triage_item(session: Session, message_id: int) -> TriageItem | None:
    if not 1 <= message_id <= MAX_ROW_ID:
        return None
    row = session.get(InboundMessage, message_id)
    if row is None:
        return None
    parsed = row.parse_result or {}
    return TriageItem(
        id=row.id,
        status=row.status,
        kind=row.kind,
        sender=row.sender,
        sender_name=parsed.get("sender_name") or None,
        subject=row.subject,
        received_at=row.received_at,
        error=row.error,
        attempts=row.attempts,
        full_text=str(parsed.get("full_text") or ""),
        request_ref=format_ref(row.request_id) if row.request_id else None,
        dismissed_by=row.dismissed_by,
        dismiss_note=row.dismiss_note,
    )
