"""One poll of the mailbox: fetch in UID batches, record each message, and only then move it."""

from __future__ import annotations

import hashlib
import imaplib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.faults import crash_point
from pcse_intake.inbox_worker.imap_source import FetchedMessage, MailboxSource
from pcse_intake.inbox_worker.logs import event
from pcse_intake.inbox_worker.parse_pool import ParsePool, Parsing, ready_or_cancel
from pcse_intake.parsers import ParsedEmail, parse
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import (
    BatchItem,
    IntakeResult,
    MessageSource,
    forget_batch_writes,
    parse_options,
    record_failure,
    record_message,
    recording_batch,
)
from pcse_intake.workflows.models import InboundMessage, MailboxState, MessageStatus

log = logging.getLogger(__name__)

# Longest single IDLE wait: short enough that a stop request is honoured within seconds.
IDLE_SLICE_SECONDS = 5.0


@dataclass
class PollReport:
    seen: int = 0  # messages found in the folder
    recorded: int = 0  # newly recorded this poll
    duplicates: int = 0  # already recorded (an earlier poll, another worker, the same bytes)
    failed: int = 0  # processing failed; kept in the database, left in the folder to retry
    quarantined: int = 0  # failed too often: moved to the quarantine folder
    moved: int = 0
    uidvalidity_changed: bool = False
    busy: bool = False  # another worker holds this mailbox right now; nothing was done


class Poller:
    """Reads one mailbox folder into the database; one transaction per fetched batch."""

    def __init__(
        self,
        source: MailboxSource,
        sessions: sessionmaker[Session],
        *,
        settings: Settings,
        now: Callable[[], datetime],
        parse_processes: int | None = None,
    ) -> None:
        """`parse_processes`: helper processes that parse each batch ahead (0: parse in line).

        By default one helper where there are two cores or more, unless `[mailbox]
        parse_helper = false`: the parse is about half of a message's CPU, so the helper
        parses batch N+1 while this process records batch N (docs/benchmarks.md, Ingest).
        A one-message IDLE wake-up is parsed in line anyway.
        """
        if parse_processes is None:
            parse_processes = default_parse_processes() if settings.mailbox.parse_helper else 0
        self.source = source
        self.sessions = sessions
        self.settings = settings
        self.now = now
        self.uidvalidity: int | None = None
        self.parse_pool = ParsePool(parse_options(settings), processes=parse_processes)

    def connect(self) -> None:
        self.uidvalidity = self.source.open()

    def close(self) -> None:
        self.uidvalidity = None
        try:
            self.source.close()
        finally:
            self.parse_pool.close()

    def poll(self) -> PollReport:
        """Record everything in the folder that is not recorded yet; move what is recorded."""
        with mailbox_lease(self.sessions, self.source.name) as held:
            if not held:
                event(log, "mailbox_busy", mailbox=self.source.name)
                return PollReport(busy=True)
            return self._poll()

    def _poll(self) -> PollReport:
        if self.uidvalidity is None:
            self.connect()
        assert self.uidvalidity is not None
        report = PollReport()
        report.uidvalidity_changed = self._note_uidvalidity(self.uidvalidity)
        uids = self.source.search()
        report.seen = len(uids)
        settled = self._settled(uids)
        # Recorded by an earlier poll that stopped before its move: only the move is left.
        by_folder: dict[str, list[int]] = {}
        for uid, status in settled.items():
            by_folder.setdefault(self._folder_for(status), []).append(uid)
        for folder, settled_uids in by_folder.items():
            for chunk in _batches(settled_uids, self.settings.mailbox.batch_size):
                self._move(chunk, folder, report)
        pending = [uid for uid in uids if uid not in settled]
        # One batch ahead: the next batch is fetched and handed to the parse helper before
        # this one is recorded, so the helper parses while this process writes.
        ahead: tuple[Sequence[FetchedMessage], list[Parsing | None]] | None = None
        for batch in batches_by_size(
            pending,
            self.source.sizes(pending) if pending else {},
            count=self.settings.mailbox.batch_size,
            max_bytes=int(self.settings.mailbox.batch_max_megabytes * 1024 * 1024),
        ):
            messages = self.source.fetch(batch)
            parses = self.parse_pool.submit([m.raw for m in messages])
            if ahead is not None:
                self._take_batch(*ahead, report)
            ahead = (messages, parses)
        if ahead is not None:
            self._take_batch(*ahead, report)
        with transaction(self.sessions) as session:
            state = session.get(MailboxState, self.source.name)
            if state is not None:
                state.last_success_at = self.now()
                state.last_error = None
        event(log, "poll_done", mailbox=self.source.name, **vars(report))
        return report

    def watch(
        self,
        *,
        seconds: float,
        stop: threading.Event,
        on_poll: Callable[[PollReport], None] = lambda report: None,
    ) -> int:
        """IMAP IDLE for up to `seconds`, polling as soon as mail arrives; returns polls made."""
        deadline = time.monotonic() + seconds
        polls = 0
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if self.source.wait_for_mail(min(remaining, IDLE_SLICE_SECONDS)):
                on_poll(self.poll())
                polls += 1
        return polls

    def note_failure(self, error: str) -> None:
        """Remember why the poll failed (shown by health checks); never raises."""
        try:
            self._ensure_state_row()
            with transaction(self.sessions) as session:
                state = session.get_one(MailboxState, self.source.name)
                state.last_error = " ".join(error.split())[:2000]
        except DBAPIError:
            log.exception("could not record the poll failure")

    # -- one batch -----------------------------------------------------------------------

    def _take_batch(
        self,
        messages: Sequence[FetchedMessage],
        parses: Sequence[Parsing | None],
        report: PollReport,
    ) -> None:
        """Record a fetched batch in ONE transaction, then move it.

        One commit per batch instead of per message is what makes a backlog fast, with the
        batch's look-ups answered by a few queries up front (`recording_batch`). The batch is
        first recorded straight through; if any message fails, that transaction is rolled
        back and the batch recorded again with a savepoint per message, so one bad message
        never spoils its neighbours (and costs nothing while every message is good). Nothing
        is moved before the commit, so a crash anywhere leaves the batch to be fetched again.
        """
        assert self.uidvalidity is not None
        parsed = [self._parsed(m, p) for m, p in zip(messages, parses, strict=True)]
        items = [
            BatchItem(m.raw, MessageSource(self.source.name, self.uidvalidity, m.uid), p)
            for m, p in zip(messages, parsed, strict=True)
        ]
        outcomes: list[_Outcome] | None = None
        try:
            outcomes = self._record_batch(messages, parsed, items, careful=False)
        except IntegrityError as exc:
            error: Exception = exc
            reason = "a unique key refused a row: another worker recorded one of them first"
        except DBAPIError:
            raise  # the database itself is unwell: stop this poll, keep the mail where it is
        except Exception as exc:
            error, reason = exc, "a message failed: each is now recorded on its own"
        if outcomes is None:
            error_text = " ".join(f"{type(error).__name__}: {error}".split())[:300]
            event(log, "batch_retried", messages=len(messages), reason=reason, error=error_text)
            outcomes = self._record_batch(messages, parsed, items, careful=True)
        crash_point("after_commit")
        to_move: dict[str, list[int]] = {}
        for outcome in outcomes:
            folder = self._settle(outcome, report)
            if folder is not None:
                to_move.setdefault(folder, []).append(outcome.message.uid)
        for folder, uids in to_move.items():
            self._move(uids, folder, report)

    def _record_batch(
        self,
        messages: Sequence[FetchedMessage],
        parsed: Sequence[ParsedEmail | None],
        items: Sequence[BatchItem],
        *,
        careful: bool,
    ) -> list[_Outcome]:
        """One transaction for the batch; `careful`: a savepoint per message, failures kept."""
        with (
            transaction(self.sessions) as session,
            recording_batch(session, items, now=self.now(), defer_history=not careful),
        ):
            outcomes = []
            for message, parse in zip(messages, parsed, strict=True):
                crash_point("after_fetch")
                outcomes.append(self._record_one(session, message, parse, careful=careful))
        return outcomes

    def _parsed(self, message: FetchedMessage, parsing: Parsing | None) -> ParsedEmail | None:
        """The helper's parse, or one made here; None if parsing fails (recorded as a failure).

        Never waits for the helper: a message it has not reached yet (the first batch, while
        the helper starts) is parsed here, so this process is never idle.
        """
        done = ready_or_cancel(parsing)
        if done is not None:
            return done
        try:
            return parse(message.raw, self.parse_pool.options)
        except Exception:  # recording parses it again, inside its savepoint, and fails there
            return None

    def _record_one(
        self,
        session: Session,
        message: FetchedMessage,
        parsed: ParsedEmail | None,
        *,
        careful: bool,
    ) -> _Outcome:
        """Record one message; when `careful`, inside a savepoint that keeps its failure."""
        assert self.uidvalidity is not None
        now = self.now()

        def record() -> _Outcome:
            assert self.uidvalidity is not None
            result = record_message(
                session,
                message.raw,
                settings=self.settings,
                now=now,
                source=MessageSource(self.source.name, self.uidvalidity, message.uid),
                acknowledge=self._may_acknowledge(message, now),
                origin="imap",
                parsed=parsed,
            )
            return _Outcome(message, result=result)

        if not careful:
            return record()
        try:
            with session.begin_nested():
                return record()
        except IntegrityError:
            forget_batch_writes(session)
            return _Outcome(message, taken_by_other=True)
        except DBAPIError:
            raise  # the database itself is unwell: stop this poll, keep the mail where it is
        except Exception as exc:
            forget_batch_writes(session)
            return _Outcome(message, error=exc)

    def _settle(self, outcome: _Outcome, report: PollReport) -> str | None:
        """Count and log a message once its batch is committed; the folder to move it to."""
        message = outcome.message
        if outcome.taken_by_other:
            # Another worker committed the same message first: it is recorded once, by them.
            report.duplicates += 1
            event(log, "message_duplicate", uid=message.uid, reason="recorded by another worker")
            return self.settings.mailbox.processed_folder
        if outcome.error is not None:
            # Each failure is counted in its own transaction, after the good ones are safe.
            quarantined = self._fail(message, outcome.error, report)
            return self.settings.mailbox.quarantine_folder if quarantined else None
        result = outcome.result
        assert result is not None
        if result.duplicate:
            report.duplicates += 1
        else:
            report.recorded += 1
        event(
            log,
            "message_recorded",
            uid=message.uid,
            status=str(result.status),
            duplicate=result.duplicate,
            request=result.request_ref,
            replies_queued=len(result.outbox_ids),
        )
        return self._folder_for(result.status)

    def _fail(self, message: FetchedMessage, exc: Exception, report: PollReport) -> bool:
        """Keep the bytes and count the attempt; True if it is now quarantined."""
        assert self.uidvalidity is not None
        error = f"{type(exc).__name__}: {exc}"
        with transaction(self.sessions) as session:
            attempts, quarantined = record_failure(
                session,
                message.raw,
                error=error,
                now=self.now(),
                source=MessageSource(self.source.name, self.uidvalidity, message.uid),
                max_attempts=self.settings.mailbox.max_attempts,
            )
        event(
            log,
            "message_failed",
            level=logging.ERROR,
            uid=message.uid,
            attempts=attempts,
            quarantined=quarantined,
            error=" ".join(error.split())[:300],
        )
        if quarantined:
            report.quarantined += 1
        else:
            report.failed += 1
        return quarantined

    def _may_acknowledge(self, message: FetchedMessage, now: datetime) -> bool:
        # Backlog rule: old mail is recorded, but the practice is not sent a late receipt.
        if message.internal_date is None:
            return True
        limit = timedelta(hours=self.settings.mailbox.backlog_ack_max_age_hours)
        return now - message.internal_date <= limit

    def _move(self, uids: Sequence[int], folder: str, report: PollReport) -> None:
        try:
            self.source.move(uids, folder)
        except (OSError, imaplib.IMAP4.abort):
            raise  # the connection is gone: the poll stops, the next one moves them
        except imaplib.IMAP4.error as exc:
            # Typically another worker moved them first; they are recorded either way.
            warning = logging.WARNING
            event(
                log, "move_refused", level=warning, uids=list(uids), folder=folder, error=str(exc)
            )
            return
        report.moved += len(uids)
        crash_point("after_move")

    def _folder_for(self, status: str) -> str:
        if status == MessageStatus.QUARANTINED:
            return self.settings.mailbox.quarantine_folder
        return self.settings.mailbox.processed_folder

    # -- the database's view of the folder ---------------------------------------------

    def _ensure_state_row(self) -> None:
        """Create this mailbox's state row once; two workers starting together may race."""
        with self.sessions() as session:
            if session.get(MailboxState, self.source.name) is not None:
                return
        try:
            with transaction(self.sessions) as session:
                session.add(MailboxState(mailbox=self.source.name))
        except IntegrityError:
            pass  # the other worker created it a moment ago

    def _note_uidvalidity(self, uidvalidity: int) -> bool:
        self._ensure_state_row()
        with transaction(self.sessions) as session:
            state = session.get_one(MailboxState, self.source.name, with_for_update=True)
            changed = state.uidvalidity is not None and state.uidvalidity != uidvalidity
            if changed:
                # RFC 3501: every stored UID is now meaningless. Rescanning is safe because
                # each message is also recognised by the sha256 of its bytes.
                event(
                    log,
                    "uidvalidity_changed",
                    level=logging.ERROR,
                    mailbox=self.source.name,
                    was=state.uidvalidity,
                    now=uidvalidity,
                    action="rescanning the whole folder; duplicates are recognised by sha256",
                )
            state.uidvalidity = uidvalidity
            state.last_poll_at = self.now()
        return changed

    def _settled(self, uids: Sequence[int]) -> dict[int, str]:
        """UIDs already recorded here under this UIDVALIDITY and finished: uid -> status."""
        settled: dict[int, str] = {}
        with self.sessions() as session:
            for chunk in _batches(list(uids), 500):
                rows = session.execute(
                    select(InboundMessage.uid, InboundMessage.status).where(
                        InboundMessage.mailbox == self.source.name,
                        InboundMessage.uidvalidity == self.uidvalidity,
                        InboundMessage.uid.in_(chunk),
                    )
                )
                for uid, status in rows:
                    if uid is not None and status != MessageStatus.RECEIVED:
                        settled[uid] = status
        return settled


def default_parse_processes() -> int:
    """One parse helper when a second core can run it, else none."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


@dataclass(frozen=True)
class _Outcome:
    """What became of one message of a batch, settled once the batch is committed."""

    message: FetchedMessage
    result: IntakeResult | None = None  # recorded now, or already
    error: Exception | None = None  # failed: kept and counted in its own transaction
    taken_by_other: bool = False  # another worker committed it first


@contextmanager
def mailbox_lease(sessions: sessionmaker[Session], mailbox: str) -> Iterator[bool]:
    """On PostgreSQL, one worker at a time per mailbox (a session advisory lock).

    Concurrent IMAP MOVEs of one message by two workers can leave two copies in the target
    folder, so workers take turns; the lock dies with its connection if a worker is killed.
    The database's unique keys still catch any duplicate that slipped past. SQLite is for
    one machine and one worker, so it needs no lease.
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.sha256(mailbox.encode()).digest()[:8], "big", signed=True)
    with engine.connect() as connection:
        held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def _batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batches_by_size(
    uids: Sequence[int], sizes: dict[int, int], *, count: int, max_bytes: int
) -> Iterator[Sequence[int]]:
    """Batches of at most `count` UIDs and `max_bytes` of mail (battery 37: memory is bounded
    by bytes, not by count); a message bigger than `max_bytes` goes in a batch of its own."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch
