"""After a database restore: re-ingest each message in Processed/ that the database has no row for.

The folder is opened read-only and nothing is ever moved, flagged or deleted. A message is
"already recorded" when a row holds its exact bytes (sha256); its Message-ID is only a hint
(a re-ingested message whose Message-ID another row has is flagged as a collision, as
intake always does). Running it twice is safe: the second run finds everything recorded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.imap_source import FetchedMessage, ImapMailbox
from pcse_intake.inbox_worker.logs import event
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import MessageSource, record_message
from pcse_intake.workflows.models import InboundMessage

log = logging.getLogger(__name__)


@dataclass
class Failure:
    uid: int
    error: str


@dataclass
class ReconcileReport:
    folder: str
    examined: int = 0
    already_recorded: int = 0
    reingested: int = 0
    acknowledged: int = 0  # re-ingested messages that queued a reply (the backlog rule allowed it)
    message_id_collisions: int = 0  # re-ingested, but another row has the same Message-ID
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


def reconcile(
    mailbox: ImapMailbox,
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    now: Callable[[], datetime],
    folder: str | None = None,
    acknowledge: bool = True,
) -> ReconcileReport:
    """Compare `folder` (default: the processed folder) with `inbound_messages` and mend it.

    `acknowledge=False` sends no acknowledgement for anything re-ingested; otherwise the
    backlog rule decides, as for a poll: mail older than the configured age is not answered.
    """
    folder = folder or settings.mailbox.processed_folder
    report = ReconcileReport(folder=folder)
    mailbox.open()
    # Read-only: even a stray STORE could not set a flag, and nothing here may move mail.
    uidvalidity = int(mailbox.client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
    name = f"{settings.mailbox.username}/{folder}"
    try:
        uids, size = mailbox.search(), settings.mailbox.batch_size
        for start in range(0, len(uids), size):
            messages = mailbox.fetch(uids[start : start + size])
            report.examined += len(messages)
            known = _recorded(sessions, [_sha256(m.raw) for m in messages])
            for message in messages:
                if _sha256(message.raw) in known:
                    report.already_recorded += 1
                    continue
                where = MessageSource(name, uidvalidity, message.uid)
                answer = acknowledge and _recent(message, now(), settings)
                _reingest(sessions, message, where, answer, settings, now, report)
    finally:
        mailbox.close()
    event(
        log,
        "reconcile_done",
        folder=folder,
        examined=report.examined,
        already_recorded=report.already_recorded,
        reingested=report.reingested,
        failed=report.failed,
    )
    return report


def _reingest(
    sessions: sessionmaker[Session],
    message: FetchedMessage,
    where: MessageSource,
    acknowledge: bool,
    settings: Settings,
    now: Callable[[], datetime],
    report: ReconcileReport,
) -> None:
    """One message through the normal intake, in its own transaction."""
    try:
        with transaction(sessions) as session:
            result = record_message(
                session,
                message.raw,
                settings=settings,
                now=now(),
                source=where,
                acknowledge=acknowledge,
                origin="imap",
            )
            row = session.get_one(InboundMessage, result.message_id)
            collision = row.message_id_collision
    except IntegrityError:
        # A worker recorded these very bytes a moment ago: they are in the database.
        report.already_recorded += 1
        return
    except DBAPIError:
        raise  # the database itself is unwell: stop, nothing is half done
    except Exception as exc:
        error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        report.failures.append(Failure(message.uid, error))
        event(log, "reconcile_failed", level=logging.ERROR, uid=message.uid, error=error)
        return
    if result.duplicate:
        report.already_recorded += 1
        return
    report.reingested += 1
    report.acknowledged += bool(result.outbox_ids)
    report.message_id_collisions += collision
    event(log, "reconcile_reingested", uid=message.uid, request=result.request_ref)


def _recorded(sessions: sessionmaker[Session], hashes: Sequence[str]) -> set[str]:
    with sessions() as session:
        found = session.scalars(
            select(InboundMessage.sha256).where(InboundMessage.sha256.in_(hashes))
        )
        return set(found)


def _recent(message: FetchedMessage, now: datetime, settings: Settings) -> bool:
    # Unlike a poll, mail of unknown age is not answered: it was very likely answered before.
    if message.internal_date is None:
        return False
    limit = timedelta(hours=settings.mailbox.backlog_ack_max_age_hours)
    return now - message.internal_date <= limit


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
