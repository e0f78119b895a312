"""Staff decisions on a request: record a call, approve, reject, correct a field.

Each function works inside the caller's transaction and raises a `WorkflowRefusal` subclass
with a sentence for staff when the answer is no; nothing is changed then (the caller rolls
back). The request row is locked (`SELECT ... FOR UPDATE`) and carries a version number, so
two people acting on one request at the same moment cannot both succeed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pcse_intake.config import Settings
from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.apply import apply_change, format_when
from pcse_intake.workflows.callback import (
    number_on_record,
    refuse_a_number_from_the_email,
)
from pcse_intake.workflows.checks import SUBJECT_ROLE, problem, recompute_problems
from pcse_intake.workflows.email_change_rules import (
    require_callback_with_note,
    require_confirmed_callback,
)
from pcse_intake.workflows.errors import (
    CannotApply,
    IllegalTransition,
    InvalidValue,
    RequestNotFound,
    VerificationRefused,
)
from pcse_intake.workflows.fields import (
    compute_missing,
    get_path,
    normalise_phone,
    normalise_value,
    required_text,
    set_path,
    valid_paths,
)
from pcse_intake.workflows.four_eyes import check_four_eyes
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import (
    Correction,
    InboundMessage,
    Request,
    RequestState,
    StaffRole,
    VerificationCall,
)
from pcse_intake.workflows.models.request import ChangeStatus
from pcse_intake.workflows.outbox import AUTO_GENERATED, enqueue
from pcse_intake.workflows.progress import advance
from pcse_intake.workflows.replies import base_context, threading
from pcse_intake.workflows.staff import Action, require_permission
from pcse_intake.workflows.states import Event, transition

OUTCOMES: dict[str, Event] = {
    "confirmed": Event.CALL_CONFIRMED,
    "failed": Event.CALL_FAILED,
    "no_answer": Event.CALL_NO_ANSWER,
}
_REF = re.compile(r"^\s*(?:PCSE-)?0*(\d{1,9})\s*$", re.IGNORECASE)


def parse_ref(ref: str) -> int:
    match = _REF.match(ref or "")
    if not match or int(match.group(1)) == 0:
        raise RequestNotFound(f"{ref!r} is not a request reference (they look like PCSE-000123)")
    return int(match.group(1))


def load_request(session: Session, ref: str, *, lock: bool = True) -> Request:
    """The request, locked for this transaction (FOR UPDATE; SQLite's BEGIN IMMEDIATE)."""
    query = select(Request).where(Request.id == parse_ref(ref))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    request = session.scalars(query).one_or_none()
    if request is None:
        raise RequestNotFound(f"there is no request {ref.strip().upper()}")
    return request


def verify(
    session: Session,
    *,
    ref: str,
    by: str,
    outcome: str,
    now: datetime,
    settings: Settings,
    phone: str | None = None,
    notes: str | None = None,
) -> Request:
    """Record a verification call; `confirmed` moves the request to verified.

    The number comes from the registry. A call to any other number is refused without a
    note saying why. `no_answer` counts the attempt and keeps the state. `failed` records
    the call and blocks verification for good: staff then reject the request.
    """
    staff = require_permission(session, by, Action.VERIFY)
    event = OUTCOMES.get(outcome)
    if event is None:
        raise InvalidValue(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    request = load_request(session, ref)
    new_state = transition(request.state, event, ref=request.ref)
    if event is Event.CALL_CONFIRMED and _has_problem(request, "verification_failed"):
        raise VerificationRefused(
            f"a verification call for {request.ref} failed; it cannot be verified now: reject it"
        )
    note = (notes or "").strip() or None
    # Our MTA said DMARC failed, or (when we know our MTA's id) said nothing at all: the
    # sender may be forged or the mail injected past it. Only an admin, saying why, may
    # confirm such a request: an audited override.
    doubt = _sender_doubt(request, settings) if event is Event.CALL_CONFIRMED else None
    if doubt and (StaffRole(staff.role) is not StaffRole.ADMIN or note is None):
        raise VerificationRefused(
            f"the e-mail for {request.ref} {doubt}; only an admin may confirm it, with a note"
            " saying why"
        )
    if doubt:
        note = f"override ({doubt}): {note}"
    on_record = number_on_record(session, request)
    if phone:
        called = normalise_phone(phone)
        is_record = on_record is not None and on_record.phone == called
        if not is_record and note is None:
            held = f" (the number on record is {on_record.phone})" if on_record else ""
            raise VerificationRefused(
                f"{called} is not the number on record{held}; "
                "a call to any other number needs a note saying why"
            )
    elif on_record is None:
        raise VerificationRefused(
            f"no telephone number is on record for {request.ref}; give the number you called "
            "and a note saying where it came from"
        )
    else:
        called, is_record = on_record.phone, True
    if not is_record:
        admin = StaffRole(staff.role) is StaffRole.ADMIN
        override = refuse_a_number_from_the_email(session, request, called, admin=admin, note=note)
        note = f"{override}: {note}" if override else note
    if event is Event.CALL_CONFIRMED:
        require_callback_with_note(request, on_record=is_record, note=note)
    session.add(
        VerificationCall(
            request_id=request.id,
            staff=by,
            at=now,
            phone=called,
            phone_on_record=is_record,
            outcome=outcome,
            notes=note,
        )
    )
    before = request.state
    request.state = new_state
    request.updated_at = now
    if event is Event.CALL_CONFIRMED:
        request.verified_by = by
        request.verified_at = now
    elif event is Event.CALL_NO_ANSWER:
        request.no_answer_count += 1
    else:
        request.problems = [
            *request.problems,
            problem(
                "verification_failed",
                None,
                f"the verification call by {by} failed"
                + (f": {note}" if note else "")
                + "; reject this request",
            ),
        ]
    record(
        session,
        actor=by,
        action=f"call_{outcome}",
        at=now,
        request=request,
        before={"state": before},
        after={"state": request.state, "no_answer_count": request.no_answer_count},
        note=f"called {called}"  # masked as history is written
        + ("" if is_record else " (not the number on record)")
        + (f": {note}" if note else ""),
    )
    _flush(session, request)
    return request


def approve(session: Session, *, ref: str, by: str, now: datetime, settings: Settings) -> Request:
    """Apply the change to the registry, write history and queue the e-mails, all at once.

    An e-mail change is checked now but written when its cooling-off period ends
    (`[workflow] cooling_off_hours`; pending_changes.py), so the old address can stop it.
    """
    require_permission(session, by, Action.APPROVE)
    request = load_request(session, ref)
    if request.state == RequestState.COMPLETED:
        # A double click, a second tab, or two approvers at once: say what happened.
        raise IllegalTransition(
            f"{request.ref} is already completed (approved by {request.approved_by}); "
            "nothing was done"
        )
    new_state = transition(request.state, Event.APPROVED, ref=request.ref)
    if settings.workflow.four_eyes:
        check_four_eyes(session, request, by)
    require_confirmed_callback(session, request)
    cooling_off = timedelta(hours=settings.workflow.cooling_off_hours)
    effective_at = now + cooling_off if request.kind == RequestKind.EMAIL_CHANGE else now
    notices = apply_change(session, request, by=by, now=now, effective_at=effective_at)
    before = request.state
    request.state = new_state
    request.approved_by = by
    request.approved_at = now
    request.effective_at = effective_at
    request.updated_at = now
    after: dict[str, Any] = {"state": request.state, "effective_at": effective_at.isoformat()}
    if request.change_status is not None:
        after["change"] = request.change_status
    record(
        session,
        actor=by,
        action="approved",
        at=now,
        request=request,
        before={"state": before},
        after=after,
        note=f"the change takes effect at {format_when(effective_at)} unless stopped;"
        " confirmations queued"
        if request.change_status == ChangeStatus.SCHEDULED
        else "change applied; confirmations queued",
    )
    for notice in notices:
        try:
            notify_about(
                session, request, notice.template, notice.to, notice.context, now, settings
            )
        except InvalidValue as exc:
            # Nothing is applied: the caller rolls back the registry change with this.
            raise CannotApply(f"cannot e-mail {notice.template}: {exc}; correct it first") from None
    _flush(session, request)
    return request


def reject(
    session: Session, *, ref: str, by: str, reason: str, now: datetime, settings: Settings
) -> Request:
    """Close the request unchanged and queue a notice with the reason to its sender."""
    require_permission(session, by, Action.REJECT)
    text = required_text(reason, missing="a rejection needs a reason the practice can read")
    request = load_request(session, ref)
    before = request.state
    request.state = transition(before, Event.REJECTED, ref=request.ref)
    request.rejected_by = by
    request.rejection_reason = text
    request.updated_at = now
    record(
        session,
        actor=by,
        action="rejected",
        at=now,
        request=request,
        before={"state": before},
        after={"state": request.state},
        note=text,
    )
    if request.sender:
        context = {**base_context(request), "reason": text}
        try:
            notify_about(session, request, "rejection", request.sender, context, now, settings)
        except InvalidValue as exc:
            record(
                session,
                actor=by,
                action="reply_skipped",
                at=now,
                request=request,
                note=f"no rejection notice: {exc}",
            )
    _flush(session, request)
    return request


def correct_field(
    session: Session,
    *,
    ref: str,
    by: str,
    path: str,
    value: str | None,
    now: datetime,
    note: str | None = None,
    settings: Settings | None = None,
) -> Request:
    """Staff put one parsed field right (audited); missing and problems are worked out again.

    A change after verification sends the request back to awaiting_verification: what was
    checked on the phone is no longer what approval would apply.
    """
    require_permission(session, by, Action.CORRECT)
    request = load_request(session, ref)
    if path not in valid_paths(request.kind):
        raise InvalidValue(f"{path!r} is not a field of a {request.kind} request")
    transition(request.state, Event.DETAILS_CHANGED, ref=request.ref)  # refuses closed ones
    normalised = normalise_value(path, value)
    before_value = get_path(request.fields, path)
    if before_value == normalised:
        return request
    request.fields = set_path(request.fields, path, normalised)
    request.missing = compute_missing(request.kind, request.fields)
    request.problems = [p for p in request.problems if p.get("field") != path]
    request.problems = recompute_problems(session, request)
    _refresh_subject(request)
    request.updated_at = now
    session.add(
        Correction(
            request_id=request.id,
            path=path,
            before=None if before_value is None else str(before_value),
            after=normalised,
            staff=by,
            at=now,
            note=note,
        )
    )
    state = RequestState(request.state)
    record(
        session,
        actor=by,
        action="corrected",
        at=now,
        request=request,
        before={path: before_value},
        after={path: normalised},
        note=note,
    )
    if state in (RequestState.RECEIVED, RequestState.AWAITING_INFORMATION):
        if not request.missing:
            advance(
                session,
                request,
                message=None,
                settings=settings or Settings(),
                now=now,
                acknowledge=False,
                actor=by,
            )
    else:
        event = Event.INFORMATION_NEEDED if request.missing else Event.DETAILS_CHANGED
        request.state = transition(state, event, ref=request.ref)
        if state is RequestState.VERIFIED:
            request.verified_by = None
            request.verified_at = None
            record(
                session,
                actor=by,
                action="verification_reset",
                at=now,
                request=request,
                before={"state": state},
                after={"state": request.state},
                note="details changed after verification: verify again",
            )
    _flush(session, request)
    return request


def notify_about(
    session: Session,
    request: Request,
    template: str,
    to: str,
    context: dict[str, Any],
    now: datetime,
    settings: Settings,
) -> None:
    """An e-mail caused by a staff decision, threaded to the practice's first message."""
    in_reply_to, references = threading(_first_message(session, request))
    enqueue(
        session,
        template=template,
        to=to,
        context={"ref": request.ref, **context},
        now=now,
        settings=settings,
        request=request,
        in_reply_to=in_reply_to,
        references=references,
        auto_submitted=AUTO_GENERATED,
    )


def _refresh_subject(request: Request) -> None:
    role = SUBJECT_ROLE.get(RequestKind(request.kind))
    if role:
        request.ods_code = get_path(request.fields, f"{role}.ods_code")
        request.practice_name = get_path(request.fields, f"{role}.name")


def _sender_doubt(request: Request, settings: Settings) -> str | None:
    """Why the sender's address cannot be taken on trust, or None (battery 23-24)."""
    if request.auth_verdict == "fail":
        return "failed sender authentication (DMARC)"
    if settings.mailbox.authserv_id and request.auth_verdict == "none":
        return "has no verdict from our mail server (Authentication-Results)"
    return None


def _has_problem(request: Request, code: str) -> bool:
    return any(p.get("code") == code for p in request.problems or [])


def _first_message(session: Session, request: Request) -> InboundMessage | None:
    return session.scalars(
        select(InboundMessage)
        .where(InboundMessage.request_id == request.id)
        .order_by(InboundMessage.id)
        .limit(1)
    ).first()


def _flush(session: Session, request: Request) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise IllegalTransition(
            f"{request.ref} was changed by someone else at the same moment; look at it again"
        ) from None
