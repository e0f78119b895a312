"""Placing and releasing legal holds on a request (battery 56), audited like any decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pcse_intake.workflows.decisions import load_request
from pcse_intake.workflows.errors import WorkflowRefusal
from pcse_intake.workflows.fields import required_text
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import InboundMessage, LegalHold, Request
from pcse_intake.workflows.staff import Action, require_permission


class HoldRefused(WorkflowRefusal):
    """There is already a hold to place, or none to release."""


def place_hold(session: Session, *, ref: str, by: str, reason: str, now: datetime) -> LegalHold:
    """Keep every raw message of `ref` through the retention purge until released."""
    require_permission(session, by, Action.HOLD)
    reason = _need_reason(reason)
    request = load_request(session, ref)
    if standing_hold(session, request) is not None:
        raise HoldRefused(f"{request.ref} is already on legal hold")
    hold = LegalHold(request_id=request.id, reason=reason, placed_by=by, placed_at=now)
    session.add(hold)
    record(session, actor=by, action="legal_hold_placed", at=now, request=request, note=reason)
    return hold


def release_hold(session: Session, *, ref: str, by: str, reason: str, now: datetime) -> LegalHold:
    """End the standing hold on `ref`; its messages then age out like any other."""
    require_permission(session, by, Action.HOLD)
    reason = _need_reason(reason)
    request = load_request(session, ref)
    hold = standing_hold(session, request)
    if hold is None:
        raise HoldRefused(f"{request.ref} is not on legal hold")
    hold.released_by, hold.released_at, hold.release_reason = by, now, reason
    record(session, actor=by, action="legal_hold_released", at=now, request=request, note=reason)
    return hold


def standing_hold(session: Session, request: Request) -> LegalHold | None:
    return session.scalars(
        select(LegalHold).where(LegalHold.request_id == request.id, LegalHold.released_at.is_(None))
    ).first()


def is_held() -> ColumnElement[bool]:
    """True for an inbound message whose request is on legal hold (for the purge's WHERE)."""
    return exists().where(
        LegalHold.request_id == InboundMessage.request_id, LegalHold.released_at.is_(None)
    )


def _need_reason(reason: str) -> str:
    return required_text(
        reason, missing="a legal hold needs a reason (e.g. the case or request it is for)"
    )
