"""Recording one inbound message: store it raw, parse it, and turn it into work exactly once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import ROLES, ParsedEmail, ParseOptions, RequestKind, parse
from pcse_intake.workflows.batch_memo import BatchKeys, batch_memo, remembering
from pcse_intake.workflows.bounces import note_bounce
from pcse_intake.workflows.checks import (
    SUBJECT_ROLE,
    problem,
    recompute_problems,
    registry_problems,
)
from pcse_intake.workflows.fields import compute_missing, get_path, merge
from pcse_intake.workflows.history import deferring, record
from pcse_intake.workflows.identity import identity_problems
from pcse_intake.workflows.models import (
    InboundMessage,
    MessageStatus,
    OutboxMessage,
    Request,
    RequestState,
    format_ref,
)
from pcse_intake.workflows.outbox import collect_enqueued
from pcse_intake.workflows.pending_changes import stop_if_old_address_objects
from pcse_intake.workflows.progress import advance
from pcse_intake.workflows.replies import ask_for_missing
from pcse_intake.workflows.reply_answers import answers
from pcse_intake.workflows.row_ids import batch_ids, give_id, in_batch
from pcse_intake.workflows.states import Event, is_open, transition

REF_PATTERN = re.compile(r"\bPCSE-(\d{6,9})\b", re.IGNORECASE)


@dataclass(frozen=True)
class MessageSource:
    """Where a message came from in IMAP (None for files)."""

    mailbox: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class IntakeResult:
    message_id: int  # inbound_messages.id
    status: MessageStatus
    duplicate: bool  # True: these bytes (or this IMAP location) were already recorded
    request_ref: str | None
    outbox_ids: tuple[int, ...]


def parse_options(settings: Settings) -> ParseOptions:
    ours = {settings.smtp.from_address.lower(), settings.mailbox.username.lower()}
    return ParseOptions(
        max_message_bytes=settings.parser.max_message_bytes,
        authserv_ids=(settings.mailbox.authserv_id,) if settings.mailbox.authserv_id else (),
        our_addresses=tuple(sorted(a for a in ours if a)),
    )


def record_message(
    session: Session,
    raw: bytes,
    *,
    settings: Settings,
    now: datetime,
    source: MessageSource | None = None,
    acknowledge: bool = True,
    origin: str = "imap",
    parsed: ParsedEmail | None = None,
) -> IntakeResult:
    """Everything for one message, inside the caller's transaction; idempotent.

    The raw bytes and their sha256 are stored first; then the parse, dedupe, the new request
    or the merge into an existing one, the registry checks, the state, history and outbox.
    The same bytes again (or the same IMAP location) report `duplicate` and queue nothing.
    `parsed` is `parse(raw, parse_options(settings))` when the caller already has it (the
    poller parses a batch in another process); otherwise the message is parsed here.
    """
    digest = hashlib.sha256(raw).hexdigest()
    existing = _existing(session, digest, source)
    if existing is not None and existing.status != MessageStatus.RECEIVED:
        existing.duplicate_count += 1
        return IntakeResult(
            message_id=existing.id,
            status=MessageStatus(existing.status),
            duplicate=True,
            request_ref=_ref_of(existing),
            outbox_ids=(),
        )
    if existing is not None:
        if existing.sha256 != digest:
            parsed = None  # the row found by its IMAP location holds other bytes: parse those
        return process_stored(
            session, existing, settings=settings, now=now, acknowledge=acknowledge, parsed=parsed
        )
    options = parse_options(settings)
    if parsed is None:
        parsed = parse(raw, options)
    # Parsed first, so the new row is written once, whole (an exception rolls it all back).
    row = _store(session, raw, digest, source=source, origin=origin, now=now, parsed=parsed)
    return _process(
        session, row, parsed, options, settings=settings, now=now, acknowledge=acknowledge
    )


@dataclass(frozen=True)
class BatchItem:
    """One message of a batch the caller is about to record (`parsed`: None if not parsed)."""

    raw: bytes
    source: MessageSource | None
    parsed: ParsedEmail | None


@contextmanager
def recording_batch(
    session: Session, items: Sequence[BatchItem], *, now: datetime, defer_history: bool = False
) -> Iterator[None]:
    """Answer the batch's look-ups with a few queries up front (see `batch_memo`).

    `record_message` calls inside the block behave exactly as without it, only cheaper.
    `defer_history`: write the batch's history rows in one statement at the end (see
    `history.deferring`), and its new messages, requests and replies in one flush (see
    `row_ids`); only for a block without savepoints, which would not undo them.
    """
    digests, locations, message_ids, codes, open_keys, senders = (
        set(),
        set(),
        set(),
        set(),
        set(),
        set(),
    )
    for item in items:
        digests.add(hashlib.sha256(item.raw).hexdigest())
        if item.source is not None:
            locations.add((item.source.mailbox, item.source.uidvalidity, item.source.uid))
        parsed = item.parsed
        if parsed is None:
            continue
        if parsed.message_id:
            message_ids.add(parsed.message_id[:998])
        if parsed.sender:
            senders.add(parsed.sender)
        if parsed.kind is RequestKind.UNKNOWN:
            continue
        fields = parsed.request_json()
        for role in ROLES[parsed.kind]:
            code = get_path(fields, f"{role}.ods_code")
            if code:
                codes.add(code.upper())
        subject = get_path(fields, f"{SUBJECT_ROLE[parsed.kind]}.ods_code")
        if subject:
            open_keys.add((parsed.kind.value, subject))
    keys = BatchKeys(
        digests=frozenset(digests),
        locations=frozenset(locations),
        message_ids=frozenset(message_ids),
        org_codes=frozenset(codes),
        open_keys=frozenset(open_keys),
        senders=frozenset(senders),
        now=now,
    )
    with (
        remembering(session, keys),
        deferring(session) if defer_history else nullcontext(),
        batch_ids(session) if defer_history else nullcontext(),
    ):
        yield


def forget_batch_writes(session: Session) -> None:
    """A message's savepoint was rolled back: the rest of the batch asks the database again."""
    memo = batch_memo(session)
    if memo is not None:
        memo.forget_writes()


def record_failure(
    session: Session,
    raw: bytes,
    *,
    error: str,
    now: datetime,
    source: MessageSource | None,
    max_attempts: int,
) -> tuple[int, bool]:
    """Keep the raw bytes of a message that failed, count the attempt, quarantine at the limit.

    Returns (attempts, quarantined).
    """
    digest = hashlib.sha256(raw).hexdigest()
    row = _existing(session, digest, source)
    if row is None:
        row = _store(session, raw, digest, source=source, origin="imap", now=now)
    row.attempts += 1
    row.error = " ".join(error.split())[:2000]
    quarantined = row.status == MessageStatus.QUARANTINED
    if row.status == MessageStatus.RECEIVED and row.attempts >= max_attempts:
        row.status = MessageStatus.QUARANTINED
        quarantined = True
        record(
            session,
            actor="system",
            action="message_quarantined",
            at=now,
            message_id=row.id,
            note=f"failed {row.attempts} times: {row.error[:200]}",
        )
    session.flush()
    return row.attempts, quarantined


def process_stored(
    session: Session,
    row: InboundMessage,
    *,
    settings: Settings,
    now: datetime,
    acknowledge: bool = True,
    actor: str = "system",
    parsed: ParsedEmail | None = None,
) -> IntakeResult:
    """Parse a stored message and file it: a new request, a reply, triage or automated.

    `parsed`, when given, must be the parse of `row.raw` with `parse_options(settings)`.
    """
    assert row.raw is not None, "a purged message cannot be processed"
    options = parse_options(settings)
    if parsed is None:
        parsed = parse(row.raw, options)
    _remember_parse(session, row, parsed)
    return _process(
        session,
        row,
        parsed,
        options,
        settings=settings,
        now=now,
        acknowledge=acknowledge,
        actor=actor,
    )


def _process(
    session: Session,
    row: InboundMessage,
    parsed: ParsedEmail,
    options: ParseOptions,
    *,
    settings: Settings,
    now: datetime,
    acknowledge: bool,
    actor: str = "system",
) -> IntakeResult:
    """File a stored row whose parse is remembered on it, and say what came of it."""
    with collect_enqueued(session) as queued:
        _file(
            session,
            row,
            parsed,
            options,
            settings=settings,
            now=now,
            acknowledge=acknowledge,
            actor=actor,
        )
        if not in_batch(session):
            session.flush()  # any failure surfaces here, inside the message's savepoint
    return IntakeResult(
        message_id=row.id,
        status=MessageStatus(row.status),
        duplicate=False,
        request_ref=_ref_of(row),
        outbox_ids=_outbox_ids(queued, row.request_id),
    )


def _file(
    session: Session,
    row: InboundMessage,
    parsed: ParsedEmail,
    options: ParseOptions,
    *,
    settings: Settings,
    now: datetime,
    acknowledge: bool,
    actor: str = "system",
) -> None:
    """File a message whose parse is remembered: automated, triage, a reply or a new request."""
    record(
        session,
        actor=actor,
        action="message_received",
        at=now,
        message=row,
        note=f"{parsed.kind.value} from {parsed.sender or 'an unknown sender'}",
    )
    target = _thread_target(session, parsed)
    if target is not None or parsed.automated or (parsed.sender or "") in options.our_addresses:
        _with_id(session, row)  # the calls below name it by id
    if target is not None:  # the old address replying stops a waiting e-mail change
        stop_if_old_address_objects(session, target, row, parsed, now=now, settings=settings)
    ours = set(options.our_addresses)
    if parsed.automated or (parsed.sender or "") in ours:
        # Never answered (RFC 3834); linked for display when it names one of our requests.
        row.status = MessageStatus.AUTOMATED
        row.request_id = target.id if target is not None else None
        note_bounce(session, row, settings=settings, now=now)  # a DSN marks our row bounced
    elif target is not None and not is_open(target.state):
        # About a decided request (e.g. the old address objecting to an e-mail change):
        # a person must read it, so it waits in triage, linked to the request.
        _triage_about(session, row, target, now=now, why=f"{target.ref} is already {target.state}")
    elif target is not None and parsed.sender and parsed.sender == target.sender:
        row.status = MessageStatus.REPLY
        row.request_id = target.id
        merge_reply(session, target, row, parsed, settings=settings, now=now)
    elif target is not None and parsed.kind is RequestKind.UNKNOWN:
        # Never merged (it is not from the request's sender), but shown beside the request.
        _triage_about(
            session, row, target, now=now, why=f"it is not from {target.sender}, who asked"
        )
    elif parsed.kind is RequestKind.UNKNOWN:
        row.status = MessageStatus.TRIAGE
    else:
        request = open_request(
            session,
            row,
            kind=parsed.kind,
            fields=parsed.request_json(),
            parser_problems=[_problem_json(p) for p in parsed.problems] + identity_problems(parsed),
            settings=settings,
            now=now,
            acknowledge=acknowledge,
            actor=actor,
            thread=target,
        )
        row.status = MessageStatus.REQUEST
        row.request_id = request.id


def open_request(
    session: Session,
    row: InboundMessage,
    *,
    kind: RequestKind,
    fields: dict[str, Any],
    parser_problems: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
    acknowledge: bool,
    actor: str,
    thread: Request | None = None,
    ask: bool = True,
) -> Request:
    """A new request from a message: checks, state, history and the first reply.

    `acknowledge` governs the acknowledgement, `ask` the request for missing details.
    """
    subject_code = get_path(fields, f"{SUBJECT_ROLE[kind]}.ods_code")
    request = Request(
        kind=kind.value,
        state=RequestState.RECEIVED,
        ods_code=subject_code,
        practice_name=get_path(fields, f"{SUBJECT_ROLE[kind]}.name"),
        sender=row.sender,
        received_at=now,
        updated_at=now,
        fields=fields,
        missing=compute_missing(kind, fields),
        problems=[],
        auth_verdict=(row.parse_result or {}).get("auth_verdict", "none"),
    )
    session.add(request)
    give_id(session, request)
    row.request_id = request.id
    memo = batch_memo(session)
    if memo is not None:
        memo.opened(request)
    problems = list(parser_problems)
    if thread is not None:
        problems.append(
            problem(
                "thread_sender_mismatch",
                None,
                f"this message answers {thread.ref} but comes from {row.sender or 'nobody'},"
                f" not {thread.sender}; it was not merged and must be verified on its own",
            )
        )
    with session.no_autoflush:  # nothing pending that the registry look-ups read
        problems += registry_problems(
            session, kind=kind, fields=fields, sender=row.sender, request_id=request.id
        )
    request.problems = problems
    record(
        session,
        actor=actor,
        action="received",
        at=now,
        request=request,
        message=row,
        after={"kind": kind.value, "request": fields},
        note=f"from {row.sender or 'an unknown sender'}",
    )
    advance(
        session,
        request,
        message=row,
        settings=settings,
        now=now,
        acknowledge=acknowledge,
        actor=actor,
        ask=ask,
    )
    return request


def merge_reply(
    session: Session,
    request: Request,
    row: InboundMessage,
    parsed: ParsedEmail,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """The practice answered us: fill the gaps from its reply and move the request on."""
    assert is_open(request.state), "a message about a decided request goes to triage"
    update = parsed.request_json()
    if not update and request.missing:
        ours = set(parse_options(settings).our_addresses) | {parsed.sender or ""}
        update = answers(list(request.missing), request.fields, parsed.body_text, ignore=ours)
    fields, changed = merge(request.kind, request.fields, update)
    record(
        session,
        actor="system",
        action="reply_received",
        at=now,
        request=request,
        message=row,
        before={p: b for p, (b, _a) in changed.items()} or None,
        after={p: a for p, (_b, a) in changed.items()} or None,
        note="details added from the reply" if changed else "no new details in the reply",
    )
    if not changed:
        return
    request.fields = fields
    request.missing = compute_missing(request.kind, fields)
    kept = [p for p in request.problems or [] if p.get("field") not in changed]
    fresh = [_problem_json(p) for p in parsed.problems if p.field in changed]
    request.problems = kept + fresh
    request.problems = recompute_problems(session, request)
    state = RequestState(request.state)
    if state in (RequestState.AWAITING_VERIFICATION, RequestState.VERIFIED):
        event = Event.INFORMATION_NEEDED if request.missing else Event.DETAILS_CHANGED
        request.state = transition(state, event, ref=request.ref)
        _clear_verification(request)
        record(
            session,
            actor="system",
            action="details_changed",
            at=now,
            request=request,
            message=row,
            note="the practice changed details: verify again",
        )
        if request.missing:
            ask_for_missing(session, request=request, message=row, now=now, settings=settings)
        return
    advance(session, request, message=row, settings=settings, now=now, acknowledge=True)


def _triage_about(
    session: Session, row: InboundMessage, request: Request, *, now: datetime, why: str
) -> None:
    row.status = MessageStatus.TRIAGE
    row.request_id = request.id
    record(
        session,
        actor="system",
        action="message_for_triage",
        at=now,
        request=request,
        message=row,
        note=f"a message from {row.sender or 'an unknown sender'} about this request waits in"
        f" triage ({why}); nothing changed",
    )


def _clear_verification(request: Request) -> None:
    request.verified_by = None
    request.verified_at = None


def _existing(session: Session, digest: str, source: MessageSource | None) -> InboundMessage | None:
    memo = batch_memo(session)
    location = (source.mailbox, source.uidvalidity, source.uid) if source is not None else None
    if memo is not None:
        known, row = memo.existing(digest, location)
        if known:
            return row
    condition = InboundMessage.sha256 == digest
    if source is not None:
        condition = or_(
            condition,
            (InboundMessage.mailbox == source.mailbox)
            & (InboundMessage.uidvalidity == source.uidvalidity)
            & (InboundMessage.uid == source.uid),
        )
    rows = list(
        session.scalars(select(InboundMessage).where(condition).order_by(InboundMessage.id))
    )
    by_hash = [r for r in rows if r.sha256 == digest]
    found = by_hash or rows
    return found[0] if found else None


def _store(
    session: Session,
    raw: bytes,
    digest: str,
    *,
    source: MessageSource | None,
    origin: str,
    now: datetime,
    parsed: ParsedEmail | None = None,
) -> InboundMessage:
    """Insert the raw bytes (with the parse, when there is one) in one statement."""
    row = InboundMessage(
        sha256=digest,
        raw=raw,
        size=len(raw),
        mailbox=source.mailbox if source else None,
        uidvalidity=source.uidvalidity if source else None,
        uid=source.uid if source else None,
        source=origin,
        received_at=now,
        status=MessageStatus.RECEIVED,
        attempts=0,
        duplicate_count=0,
        message_id_collision=False,
    )
    others: list[InboundMessage] = []
    if parsed is not None:
        _apply_parse(row, parsed)
        others = _same_message_id(session, row)
        row.message_id_collision = bool(others)
    session.add(row)
    # Outside a batch this flushes: the raw bytes are in the transaction before anything can
    # fail. In a batch they are written with the batch (which is redone carefully if any
    # message fails).
    give_id(session, row)
    memo = batch_memo(session)
    for other in others:
        other.message_id_collision = True
    if memo is not None:
        memo.stored(row)
    return row


def _remember_parse(session: Session, row: InboundMessage, parsed: ParsedEmail) -> None:
    _apply_parse(row, parsed)
    others = _same_message_id(session, row)
    for other in others:
        other.message_id_collision = True
    row.message_id_collision = bool(others)


def _apply_parse(row: InboundMessage, parsed: ParsedEmail) -> None:
    row.sender = (parsed.sender or None) and parsed.sender[:254]
    row.subject = parsed.subject[:998] if parsed.subject else None
    row.message_id_header = parsed.message_id[:998] if parsed.message_id else None
    row.kind = parsed.kind.value
    sent = parsed.date
    if sent is not None and sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    row.sent_at = sent
    row.parse_result = {
        **parsed.to_json(),
        "sender_name": parsed.sender_name,
        "reply_to": parsed.reply_to,
        "in_reply_to": parsed.in_reply_to,
        "references": list(parsed.references),
        "date": sent.isoformat() if sent else None,
        "automated": parsed.automated,
        "auth_verdict": parsed.auth_verdict.value,
        "body_text": parsed.body_text,
        "full_text": parsed.full_text,
    }


def _same_message_id(session: Session, row: InboundMessage) -> list[InboundMessage]:
    """Other stored rows with this row's Message-ID.

    Message-ID is only a hint (an attacker controls it): same id, other bytes -> flag both.
    """
    header = row.message_id_header
    if not header:
        return []
    memo = batch_memo(session)
    ids = memo.same_message_id(header) if memo is not None else None
    # No autoflush: only this row has unflushed changes, and the query leaves it out.
    with session.no_autoflush:
        if ids is not None:
            found = (
                i if isinstance(i, InboundMessage) else session.get(InboundMessage, i) for i in ids
            )
            return [r for r in found if r is not None and r is not row]
        query = select(InboundMessage).where(InboundMessage.message_id_header == header)
        if row.id is not None:
            query = query.where(InboundMessage.id != row.id)
        return list(session.scalars(query))


def _thread_target(session: Session, parsed: ParsedEmail) -> Request | None:
    """The request a message answers: a reference in the subject, or our Message-ID."""
    match = REF_PATTERN.search(parsed.subject or "")
    if match:
        found = _request(session, int(match.group(1)))
        if found is not None:
            return _touched(session, found)
    ids = [i for i in (parsed.in_reply_to, *parsed.references) if i]
    if not ids:
        return None
    with session.no_autoflush:  # outbox rows are flushed as they are queued (outbox.enqueue)
        request_id = session.scalar(
            select(OutboxMessage.request_id)
            .where(OutboxMessage.message_id_header.in_(ids), OutboxMessage.request_id.is_not(None))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    found = _request(session, request_id) if request_id is not None else None
    return _touched(session, found) if found is not None else None


def _request(session: Session, request_id: int) -> Request | None:
    """`session.get`, without flushing a batch's pending rows to look: every request the
    batch opened is in its memo, so one that is not there is in the database or nowhere."""
    memo = batch_memo(session)
    if memo is None or not memo.valid:
        return session.get(Request, request_id)
    opened = memo.requests.get(request_id)
    if opened is not None:
        return opened
    with session.no_autoflush:
        return session.get(Request, request_id)


def _with_id(session: Session, row: InboundMessage) -> None:
    give_id(session, row)


def _touched(session: Session, request: Request) -> Request:
    memo = batch_memo(session)
    if memo is not None:
        memo.touched(request)
    return request


def _problem_json(p: Any) -> dict[str, Any]:
    return {"code": p.code, "field": p.field, "message": p.message}


def _ref_of(row: InboundMessage) -> str | None:
    return format_ref(row.request_id) if row.request_id is not None else None


def _outbox_ids(queued: list[OutboxMessage], request_id: int | None) -> tuple[int, ...]:
    """The ids of the replies queued for this message's request (none for triage/automated)."""
    if request_id is None:
        return ()  # triage and automated mail are never answered
    return tuple(sorted(r.id for r in queued if r.request_id == request_id))
