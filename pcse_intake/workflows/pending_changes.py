"""Approved e-mail changes in their cooling-off period: applied when due, or stopped first.

Approval (decisions.approve) checks an e-mail change and tells both addresses, but the
registry keeps the old address until `effective_at`. Until then the old address can stop
the change by replying, and staff can cancel it; `apply_due_changes` writes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import ParsedEmail
from pcse_intake.workflows.apply import format_when, write_email_change
from pcse_intake.workflows.decisions import load_request, notify_about
from pcse_intake.workflows.errors import IllegalTransition, InvalidValue
from pcse_intake.workflows.fields import get_path, normalise_email, required_text
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import InboundMessage, Organisation, Request
from pcse_intake.workflows.models.request import ChangeStatus
from pcse_intake.workflows.outbox import AUTO_GENERATED, enqueue
from pcse_intake.workflows.staff import Action, require_permission
from pcse_intake.workflows.states import Event, transition

SYSTEM = "system"
PRACTICE_TEMPLATE = "email_change_stopped"  # to the practice: the change will not happen
STAFF_TEMPLATE = "email_change_stopped_staff"  # to [workflow] staff_digest_address


@dataclass(frozen=True)
class DueReport:
    applied: list[str] = field(default_factory=list)  # references
    stopped: list[str] = field(default_factory=list)


def is_waiting(request: Request) -> bool:
    return request.change_status == ChangeStatus.SCHEDULED


def describe_change(request: Request) -> str | None:
    """One plain sentence for staff about an approved e-mail change, or None."""
    status = request.change_status
    if status is None or request.effective_at is None:
        return None
    if status == ChangeStatus.SCHEDULED:
        return f"Takes effect at {format_when(request.effective_at)} unless stopped"
    if status == ChangeStatus.APPLIED and request.change_applied_at is not None:
        return f"Took effect at {format_when(request.change_applied_at)}"
    if request.change_stopped_at is not None:
        verb = "Cancelled" if status == ChangeStatus.CANCELLED else "Stopped"
        return (
            f"{verb} at {format_when(request.change_stopped_at)} by"
            f" {request.change_stopped_by}: {request.change_stop_reason}; nothing was changed"
        )
    return None


def apply_due_changes(
    session: Session, *, now: datetime, settings: Settings, limit: int = 100
) -> DueReport:
    """Apply every waiting change whose time has come, each exactly once.

    `FOR UPDATE SKIP LOCKED`: with two daemons on one PostgreSQL database each row is taken
    by one of them; a row a member of staff is cancelling at that moment waits for the next
    round (SQLite's BEGIN IMMEDIATE serialises the whole transaction instead).
    """
    due = session.scalars(
        select(Request)
        .where(Request.change_status == ChangeStatus.SCHEDULED, Request.effective_at <= now)
        .order_by(Request.effective_at, Request.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    report = DueReport()
    for request in due:
        if _apply_one(session, request, now=now, settings=settings):
            report.applied.append(request.ref)
        else:
            report.stopped.append(request.ref)
    session.flush()
    return report


def stop_if_old_address_objects(
    session: Session,
    request: Request,
    row: InboundMessage,
    parsed: ParsedEmail,
    *,
    now: datetime,
    settings: Settings,
) -> bool:
    """A message from the old address about a waiting change stops it (intake calls this).

    Only the address on record when the change was approved can stop it by e-mail; an
    automatic reply (out of office) never does. Returns True when the change was stopped;
    the caller then files the message as it would any message about a closed request.
    """
    if not is_waiting(request) or parsed.automated:
        return False
    if not parsed.sender or not _same(parsed.sender, request.change_old_email):
        return False
    _stop(
        session,
        request,
        by=parsed.sender,
        status=ChangeStatus.STOPPED,
        reason=f"the address on record ({request.change_old_email}) replied before the"
        " change took effect",
        now=now,
        settings=settings,
        message_id=row.id,
        tell=[_new_address(request)],
    )
    return True


def cancel_change(
    session: Session, *, ref: str, by: str, reason: str, now: datetime, settings: Settings
) -> Request:
    """An approver cancels a waiting change; both addresses are told why."""
    require_permission(session, by, Action.APPROVE)
    text = required_text(reason, missing="cancelling needs a reason the practice can read")
    request = load_request(session, ref)
    if not is_waiting(request):
        raise IllegalTransition(
            f"{request.ref} has no e-mail change waiting to take effect"
            + (f" (it is {request.change_status})" if request.change_status else "")
            + "; nothing was cancelled"
        )
    _stop(
        session,
        request,
        by=by,
        status=ChangeStatus.CANCELLED,
        reason=text,
        now=now,
        settings=settings,
        tell=[_new_address(request), request.change_old_email],
    )
    return request


def _apply_one(session: Session, request: Request, *, now: datetime, settings: Settings) -> bool:
    """Write one due change with its history; stop it if the address on record moved on."""
    code = get_path(request.fields, "practice.ods_code") or request.ods_code
    org = session.scalars(
        select(Organisation).where(Organisation.ods_code == code).with_for_update()
    ).one_or_none()
    old, new = request.change_old_email, _new_address(request)
    if org is None or not new or _plain(org.email) != _plain(old):
        held = "is no longer in the registry" if org is None else f"now holds {org.email}"
        _stop(
            session,
            request,
            by=SYSTEM,
            status=ChangeStatus.STOPPED,
            reason=f"the registry {held} for {code}, not {old}, the address the change"
            " was approved against; it was not applied: check with the practice",
            now=now,
            settings=settings,
        )
        return False
    write_email_change(session, request, org, new, by=SYSTEM, now=now)
    request.updated_at = now
    record(
        session,
        actor=SYSTEM,
        action="change_applied",
        at=now,
        request=request,
        before={"email": old},
        after={"email": new, "change": request.change_status},
        note=f"the cooling-off period ended: {code}'s e-mail is now {new}",
    )
    return True


def _stop(
    session: Session,
    request: Request,
    *,
    by: str,
    status: ChangeStatus,
    reason: str,
    now: datetime,
    settings: Settings,
    message_id: int | None = None,
    tell: list[str | None] | None = None,
) -> None:
    before = request.state
    request.state = transition(before, Event.CHANGE_STOPPED, ref=request.ref)
    request.change_status = status
    request.change_stopped_at = now
    request.change_stopped_by = by[:254]
    request.change_stop_reason = reason
    request.updated_at = now
    record(
        session,
        actor=by,
        action=f"change_{status.value}",
        at=now,
        request=request,
        message_id=message_id,
        before={"state": before, "change": ChangeStatus.SCHEDULED.value},
        after={"state": request.state, "change": status.value},
        note=f"{reason}; the registry was not changed",
    )
    context = _context(session, request, reason)
    for address in dict.fromkeys(a for a in tell or [] if a):
        try:
            notify_about(session, request, PRACTICE_TEMPLATE, address, context, now, settings)
        except InvalidValue as exc:
            record(
                session,
                actor=SYSTEM,
                action="reply_skipped",
                at=now,
                request=request,
                note=f"could not tell {address}: {exc}",
            )
    staff = settings.workflow.staff_digest_address
    if staff:
        enqueue(
            session,
            template=STAFF_TEMPLATE,
            to=staff,
            context={**context, "stopped_by": by},
            now=now,
            settings=settings,
            request=request,
            auto_submitted=AUTO_GENERATED,
        )


def _context(session: Session, request: Request, reason: str) -> dict[str, Any]:
    code = get_path(request.fields, "practice.ods_code") or request.ods_code
    org = session.scalars(select(Organisation).where(Organisation.ods_code == code)).first()
    return {
        "practice_name": org.name if org is not None else request.practice_name or code,
        "ods_code": code,
        "new_email": _new_address(request),
        "old_email": request.change_old_email,
        "reason": reason,
    }


def _new_address(request: Request) -> str | None:
    value = get_path(request.fields, "practice.new_email")
    try:
        return normalise_email(str(value)) if value else None
    except InvalidValue:
        return None  # approval refuses such an address, so a waiting change never has one


def _plain(address: str | None) -> str:
    """An address as the registry stores it: trimmed and lower case ("" for none)."""
    return (address or "").strip().lower()


def _same(a: str | None, b: str | None) -> bool:
    return bool(_plain(a)) and _plain(a) == _plain(b)
