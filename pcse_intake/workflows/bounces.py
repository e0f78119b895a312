"""Bounces of our own mail: mark the outbox row bounced, show it on the request, tell staff."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers.bounce import BounceInfo, read_bounce
from pcse_intake.workflows.checks import problem
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import (
    InboundMessage,
    OutboxMessage,
    OutboxStatus,
    Request,
    format_ref,
)
from pcse_intake.workflows.outbox import enqueue

log = logging.getLogger(__name__)

BOUNCE_PROBLEM = "reply_bounced"
BOUNCE_TEMPLATE = "staff_bounce_alert"
# Replies to whoever wrote in: a bounce of one is shown on the request but e-mails nobody
# (the sender may be forged, and a flood of forged requests must not flood staff too).
# Every other template to a practice is a confirmation or notice sent to an address on
# record: its bounce means that address may be wrong or hijacked (battery case 17), so staff
# get an e-mail. Our e-mails to staff never raise another (that would be a loop of our own).
_REPLY_TEMPLATES = frozenset({"acknowledgement", "missing_information"})
_STAFF_PREFIX = "staff_"
_LABELS = {
    "acknowledgement": "the acknowledgement",
    "missing_information": "the request for missing details",
    "email_change_confirmation": "the confirmation of the e-mail change",
    "email_change_notice": "the notice of the e-mail change (to the old address)",
    "branch_access": "the confirmation of branch access",
    "main_contact_extension_confirmation": "the confirmation of the main contact extension",
    "new_practice_access": "the confirmation of new practice access",
    "rejection": "the rejection",
}


def note_bounce(
    session: Session,
    row: InboundMessage,
    *,
    settings: Settings,
    now: datetime,
) -> list[OutboxMessage]:
    """Match an automated message that is a bounce to the outbox rows it returns.

    Each matched row is marked `bounced` with the reason kept in `last_error`; its request
    gets a history row and a `reply_bounced` problem (shown in the console and by `requests
    show`), and the message is linked to that request. A bounced confirmation or notice also
    e-mails `staff_digest_address` when it is set. Nothing is ever sent to the practice and
    no request is created. A bounce that matches nothing, or only reports a delay, changes
    nothing. Returns the rows marked now (none when the bounce was seen before).
    """
    info = read_bounce(row.raw) if row.raw is not None else None
    if info is None or not info.failed or not info.returned_ids:
        return []
    with session.no_autoflush:  # outbox rows are flushed as they are queued
        returned = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.message_id_header.in_(info.returned_ids))
                .order_by(OutboxMessage.id)
            )
        )
    marked = [out for out in returned if out.status != OutboxStatus.BOUNCED]
    for out in marked:
        _mark(session, row, out, info, settings=settings, now=now)
    return marked


def _mark(
    session: Session,
    row: InboundMessage,
    out: OutboxMessage,
    info: BounceInfo,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    before = out.status
    out.status = OutboxStatus.BOUNCED
    out.last_error = f"bounced: {info.reason()}"
    what = _LABELS.get(out.template, f"the {out.template.replace('_', ' ')} e-mail")
    request = session.get(Request, out.request_id) if out.request_id is not None else None
    log.warning(
        "outbox_bounced",
        extra={
            "pcse_fields": {
                "outbox_id": out.id,
                "template": out.template,
                "to": out.to_addr,
                "status": info.status,
                "request": request.ref if request is not None else None,
            }
        },
    )
    record(
        session,
        actor="system",
        action="reply_bounced",
        at=now,
        request=request,
        message_id=row.id,
        entity="outbox",
        entity_id=out.id,
        before={"status": before},
        after={"status": OutboxStatus.BOUNCED, "reason": info.reason()},
        note=f"{what} to {out.to_addr} bounced: {info.reason()}",
    )
    if request is None:
        return  # one of our e-mails to staff: logged, nothing more
    row.request_id = row.request_id or request.id
    request.problems = [
        *(request.problems or []),
        problem(
            BOUNCE_PROBLEM,
            None,
            f"{what} to {out.to_addr} bounced ({info.reason()}); check the address on"
            " record with the practice by phone",
        ),
    ]
    staff = settings.workflow.staff_digest_address
    if (
        staff
        and out.template not in _REPLY_TEMPLATES
        and not out.template.startswith(_STAFF_PREFIX)
    ):
        enqueue(
            session,
            template=BOUNCE_TEMPLATE,
            to=staff,
            context={
                "ref": format_ref(request.id),
                "what": what,
                "address": out.to_addr,
                "reason": info.reason(),
                "organisation": request.practice_name or request.ods_code,
                "as_of": f"{now:%Y-%m-%d %H:%M} UTC",
            },
            now=now,
            settings=settings,
        )
