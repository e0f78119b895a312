"""Queueing outgoing e-mails as outbox rows, in the transaction of the change that caused them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.workflows.batch_memo import batch_memo
from pcse_intake.workflows.emails import render_email
from pcse_intake.workflows.errors import InvalidValue
from pcse_intake.workflows.fields import normalise_email
from pcse_intake.workflows.models import OutboxMessage, OutboxStatus, Request
from pcse_intake.workflows.row_ids import give_id, in_batch

AUTO_REPLIED = "auto-replied"  # RFC 3834: a reply to a message (acknowledgement, questions)
AUTO_GENERATED = "auto-generated"  # RFC 3834: sent because of an event (staff decisions)

# Where `collect_enqueued` keeps, in `Session.info`, the rows queued while it is open.
_COLLECTOR = "pcse_outbox_collector"

# A msg-id as RFC 5322 shapes it, with nothing that could end a header line.
_MSG_ID = re.compile(r"^<[^<>\s]{1,250}>$")


def enqueue(
    session: Session,
    *,
    template: str,
    to: str,
    context: Mapping[str, Any],
    now: datetime,
    settings: Settings,
    request: Request | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    auto_submitted: str = AUTO_GENERATED,
) -> OutboxMessage:
    """Render `template` and store it for the sender job; nothing is sent here.

    Every header value is checked now, so a row that reaches the sender is safe to send:
    `to` must be one valid address, the subject is one line carrying the reference, and
    threading ids must be plain msg-ids (anything else is dropped, never passed on).
    """
    to_addr = normalise_email(to)
    if auto_submitted not in (AUTO_REPLIED, AUTO_GENERATED):
        raise ValueError(f"auto_submitted must be {AUTO_REPLIED} or {AUTO_GENERATED}")
    values = dict(context)
    if request is not None:
        values.setdefault("ref", request.ref)
    rendered = render_email(template, values)
    subject = rendered.subject
    ref = values.get("ref")
    if isinstance(ref, str) and ref and ref not in subject:
        subject = f"{ref}: {subject}"
    thread = [r for r in references if _MSG_ID.match(r)]
    reply_to_id = in_reply_to if in_reply_to and _MSG_ID.match(in_reply_to) else None
    if reply_to_id and reply_to_id not in thread:
        thread.append(reply_to_id)
    row = OutboxMessage(
        request_id=request.id if request is not None else None,
        template=template,
        to_addr=to_addr,
        subject=subject[:998],
        body_text=rendered.text,
        body_html=rendered.html,
        message_id_header=new_message_id(settings.smtp.from_address),
        in_reply_to=reply_to_id,
        references=" ".join(thread) or None,
        auto_submitted=auto_submitted,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    memo = batch_memo(session)
    if memo is None:
        session.flush()  # so that counts of what was queued (caps) see it at once
    else:
        memo.queued(row)  # the batch's counts come from the memo
        if in_batch(session):
            give_id(session, row)  # written with the batch; intake's result names its id
    collector = session.info.get(_COLLECTOR)
    if collector is not None:
        collector.append(row)
    return row


@contextmanager
def collect_enqueued(session: Session) -> Iterator[list[OutboxMessage]]:
    """The outbox rows `enqueue` adds to `session` inside the block, in order.

    Lets a caller learn what it queued without asking the database for the newest ids.
    """
    previous = session.info.get(_COLLECTOR)
    rows: list[OutboxMessage] = []
    session.info[_COLLECTOR] = rows
    try:
        yield rows
    finally:
        if previous is None:
            session.info.pop(_COLLECTOR, None)
        else:
            previous.extend(rows)
            session.info[_COLLECTOR] = previous


def new_message_id(from_address: str) -> str:
    """A Message-ID fixed before sending, so a resend after a crash carries the same one."""
    domain = from_address.rpartition("@")[2].strip().lower()
    if not domain or not re.fullmatch(r"[a-z0-9.-]+", domain):
        raise InvalidValue(f"cannot take a Message-ID domain from {from_address!r}")
    return f"<{uuid.uuid4().hex}@{domain}>"
