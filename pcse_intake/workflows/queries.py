"""Read-only views of requests for staff: the queue, and one request in full."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.apply import preview
from pcse_intake.workflows.callback import number_on_record, numbers_in_email
from pcse_intake.workflows.decisions import load_request
from pcse_intake.workflows.errors import InvalidValue
from pcse_intake.workflows.fields import describe, get_path
from pcse_intake.workflows.models import (
    Correction,
    HistoryEntry,
    InboundMessage,
    OutboxMessage,
    Request,
    RequestState,
    VerificationCall,
)
from pcse_intake.workflows.models.request import ChangeStatus
from pcse_intake.workflows.pending_changes import describe_change


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class RequestSummary:
    ref: str
    kind: str
    state: str
    received_at: datetime
    sender: str | None
    ods_code: str | None
    practice_name: str | None
    problem_codes: tuple[str, ...]
    missing_count: int
    no_answer_count: int
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "kind": self.kind,
            "state": self.state,
            "received_at": _iso(self.received_at),
            "sender": self.sender,
            "ods_code": self.ods_code,
            "practice_name": self.practice_name,
            "problems": list(self.problem_codes),
            "missing": self.missing_count,
            "no_answer_count": self.no_answer_count,
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    action: str
    state: str | None
    by: str
    note: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "action": self.action,
            "state": self.state,
            "by": self.by,
            "note": self.note,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class OutboxLine:
    id: int
    template: str
    to: str
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "template": self.template,
            "to": self.to,
            "subject": self.subject,
            "status": self.status,
            "created_at": _iso(self.created_at),
            "sent_at": _iso(self.sent_at),
        }


@dataclass(frozen=True)
class MessageLine:
    id: int
    received_at: datetime
    sender: str | None
    subject: str | None
    status: str
    full_text: str
    body_text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": _iso(self.received_at),
            "sender": self.sender,
            "subject": self.subject,
            "status": self.status,
        }


@dataclass(frozen=True)
class CallLine:
    at: datetime
    by: str
    phone: str
    phone_on_record: bool
    outcome: str
    notes: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "by": self.by,
            "phone": self.phone,
            "phone_on_record": self.phone_on_record,
            "outcome": self.outcome,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class CorrectionLine:
    at: datetime
    by: str
    path: str
    before: str | None
    after: str | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "by": self.by,
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


@dataclass(frozen=True)
class Change:
    what: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class PendingChange:
    """An approved e-mail change and its cooling-off period (pending_changes.py)."""

    status: str  # scheduled | applied | stopped | cancelled
    effective_at: datetime | None
    old_email: str | None
    new_email: str | None
    applied_at: datetime | None
    stopped_at: datetime | None
    stopped_by: str | None
    stop_reason: str | None
    text: str | None  # "Takes effect at 14:05 UTC on 23 November 2026 unless stopped"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "effective_at": _iso(self.effective_at),
            "old_email": self.old_email,
            "new_email": self.new_email,
            "applied_at": _iso(self.applied_at),
            "stopped_at": _iso(self.stopped_at),
            "stopped_by": self.stopped_by,
            "stop_reason": self.stop_reason,
            "text": self.text,
        }


@dataclass(frozen=True)
class RequestDetail:
    ref: str
    kind: str
    state: str
    request: dict[str, Any]  # corrections applied
    missing: tuple[str, ...]
    missing_described: tuple[str, ...]
    problems: tuple[dict[str, Any], ...]
    sender: str | None
    received_at: datetime
    auth_verdict: str
    version: int
    no_answer_count: int
    verified_by: str | None
    verified_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    effective_at: datetime | None
    rejected_by: str | None
    rejection_reason: str | None
    number_to_call: str | None  # from the registry: the only number to call back
    number_to_call_for: str | None  # "B83855 Thorpe Edge Surgery"
    numbers_in_email: tuple[str, ...]  # unverified: never to be used for the call-back
    changes: tuple[Change, ...]  # what approval will change (or changed)
    effect_note: str | None
    change: PendingChange | None  # e-mail changes once approved
    messages: tuple[MessageLine, ...]
    calls: tuple[CallLine, ...]
    corrections: tuple[CorrectionLine, ...]
    history: tuple[HistoryLine, ...]
    outbox: tuple[OutboxLine, ...]

    def to_json(self) -> dict[str, Any]:
        """The `requests show --json` object (CONTRACT.md section 2), with more beside it."""
        return {
            "ref": self.ref,
            "kind": self.kind,
            "state": self.state,
            "request": self.request,
            "missing": list(self.missing),
            "problems": [dict(p) for p in self.problems],
            "sender": self.sender,
            "received_at": _iso(self.received_at),
            "history": [h.to_json() for h in self.history],
            "outbox": [o.to_json() for o in self.outbox],
            "auth_verdict": self.auth_verdict,
            "version": self.version,
            "no_answer_count": self.no_answer_count,
            "verified_by": self.verified_by,
            "verified_at": _iso(self.verified_at),
            "approved_by": self.approved_by,
            "approved_at": _iso(self.approved_at),
            "effective_at": _iso(self.effective_at),
            "effect_note": self.effect_note,
            "change": self.change.to_json() if self.change is not None else None,
            "rejected_by": self.rejected_by,
            "rejection_reason": self.rejection_reason,
            "number_to_call": self.number_to_call,
            "number_to_call_for": self.number_to_call_for,
            "numbers_in_email_unverified": list(self.numbers_in_email),
            "changes": [
                {"what": c.what, "before": c.before, "after": c.after} for c in self.changes
            ],
            "messages": [m.to_json() for m in self.messages],
            "calls": [c.to_json() for c in self.calls],
            "corrections": [c.to_json() for c in self.corrections],
        }


def list_requests(
    session: Session, *, state: str | None = None, limit: int | None = None
) -> list[RequestSummary]:
    """The queue, oldest first (the order staff work it)."""
    query = select(Request).order_by(Request.received_at, Request.id)
    if state is not None:
        if state not in {s.value for s in RequestState}:
            known = ", ".join(s.value for s in RequestState)
            raise InvalidValue(f"unknown state {state!r}; use one of {known}")
        query = query.where(Request.state == state)
    if limit is not None:
        query = query.limit(limit)
    return [
        RequestSummary(
            ref=r.ref,
            kind=r.kind,
            state=r.state,
            received_at=r.received_at,
            sender=r.sender,
            ods_code=r.ods_code,
            practice_name=r.practice_name,
            problem_codes=tuple(str(p.get("code")) for p in r.problems or []),
            missing_count=len(r.missing or []),
            no_answer_count=r.no_answer_count,
            updated_at=r.updated_at,
        )
        for r in session.scalars(query)
    ]


def request_detail(session: Session, ref: str) -> RequestDetail:
    """One request in full, for `requests show` and the console's request page."""
    request = load_request(session, ref, lock=False)
    on_record = number_on_record(session, request)
    messages = _messages(session, request)
    return RequestDetail(
        ref=request.ref,
        kind=request.kind,
        state=request.state,
        request=request.fields,
        missing=tuple(request.missing or []),
        missing_described=tuple(describe(p) for p in request.missing or []),
        problems=tuple(request.problems or []),
        sender=request.sender,
        received_at=request.received_at,
        auth_verdict=request.auth_verdict,
        version=request.version,
        no_answer_count=request.no_answer_count,
        verified_by=request.verified_by,
        verified_at=request.verified_at,
        approved_by=request.approved_by,
        approved_at=request.approved_at,
        effective_at=request.effective_at,
        rejected_by=request.rejected_by,
        rejection_reason=request.rejection_reason,
        number_to_call=on_record.phone if on_record else None,
        number_to_call_for=f"{on_record.ods_code} {on_record.organisation_name}"
        if on_record
        else None,
        numbers_in_email=tuple(
            n
            for n in numbers_in_email(request, (m.full_text or m.body_text for m in messages))
            if not on_record or n != on_record.phone
        ),
        changes=_changes(session, request),
        effect_note=_effect_note(request),
        change=_pending_change(request),
        messages=messages,
        calls=tuple(
            CallLine(c.at, c.staff, c.phone, c.phone_on_record, c.outcome, c.notes)
            for c in _rows_of(session, VerificationCall, request.id)
        ),
        corrections=tuple(
            CorrectionLine(c.at, c.staff, c.path, c.before, c.after, c.note)
            for c in _rows_of(session, Correction, request.id)
        ),
        history=tuple(
            HistoryLine(h.at, h.action, h.state, h.actor, h.note, h.before, h.after)
            for h in _rows_of(session, HistoryEntry, request.id)
        ),
        outbox=tuple(
            OutboxLine(o.id, o.template, o.to_addr, o.subject, o.status, o.created_at, o.sent_at)
            for o in _rows_of(session, OutboxMessage, request.id)
        ),
    )


def _changes(session: Session, request: Request) -> tuple[Change, ...]:
    if request.kind == RequestKind.UNKNOWN or request.state in (
        RequestState.COMPLETED,
        RequestState.REJECTED,
        RequestState.CANCELLED,
    ):
        # Once decided, the history holds what really changed (registry_changed rows).
        return ()
    return tuple(Change(w, b, a) for w, b, a in preview(session, request))


def _effect_note(request: Request) -> str | None:
    if request.change_status is not None:
        note = describe_change(request) or ""
        if request.change_status == ChangeStatus.SCHEDULED:
            note += "; until then the old address was told and may stop it (the cooling-off period)"
        return note[:1].lower() + note[1:] or None
    if request.state != RequestState.COMPLETED or request.effective_at is None:
        return None
    return "the change was applied on approval"


def _pending_change(request: Request) -> PendingChange | None:
    if request.change_status is None:
        return None
    new = get_path(request.fields or {}, "practice.new_email")
    return PendingChange(
        status=request.change_status,
        effective_at=request.effective_at,
        old_email=request.change_old_email,
        new_email=new,
        applied_at=request.change_applied_at,
        stopped_at=request.change_stopped_at,
        stopped_by=request.change_stopped_by,
        stop_reason=request.change_stop_reason,
        text=describe_change(request),
    )


def _messages(session: Session, request: Request) -> tuple[MessageLine, ...]:
    rows = _rows_of(session, InboundMessage, request.id)
    return tuple(
        MessageLine(
            m.id,
            m.received_at,
            m.sender,
            m.subject,
            m.status,
            str((m.parse_result or {}).get("full_text") or ""),
            str((m.parse_result or {}).get("body_text") or ""),
        )
        for m in rows
    )


_Row = TypeVar("_Row", VerificationCall, Correction, HistoryEntry, OutboxMessage, InboundMessage)


def _rows_of(session: Session, model: type[_Row], request_id: int) -> Sequence[_Row]:
    """A request's rows of one kind, oldest first."""
    return session.scalars(
        select(model).where(model.request_id == request_id).order_by(model.id)
    ).all()
